package fast

import "math/bits"

// Decode table entries. One uint32 says all a symbol needs:
//
//	bits 0-7   bits to consume: the codeword's length plus its extra bits
//	           (for a subtable pointer: the main table's bits)
//	bits 8-11  the codeword's length alone (for a pointer: the subtable's bits)
//	bits 12-15 flags
//	bits 16-31 the value: a literal byte, a length or distance base, a
//	           precode symbol, or a subtable's offset in the table
//
// So one lookup decodes a literal, or a length or distance together with its
// extra bits: consume byte 0 and add (bits & mask(byte 0)) >> codeword length.
const (
	fLit = 1 << 15 // a literal byte
	fExc = 1 << 14 // not a literal, length or distance: see fEOB, fSub; alone, invalid
	fEOB = 1 << 13 // end of block (with fExc)
	fSub = 1 << 12 // points to a subtable (with fExc)

	invalid = fExc // a codeword no symbol has (incomplete code), or symbols 286-287, 30-31
)

const (
	litBits      = 11
	litMask      = 1<<litBits - 1
	litTableSize = 4096 // ≥ 2342, zlib's "enough" for 288 symbols, root 11, max 15 bits
	distBits     = 8
	distMask     = 1<<distBits - 1
	distTableLen = 512 // ≥ 402 (32 symbols, root 8, max 15 bits)
	preBits      = 7
	preMask      = 1<<preBits - 1
)

var (
	lengthBase  = [29]uint16{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
)

// litSyms, distSyms and preSyms are each symbol's entry before build adds
// the codeword length: the value, the flags and, in byte 0, the extra bits.
var litSyms, distSyms, preSyms = func() (l [288]uint32, d [32]uint32, p [19]uint32) {
	for i := range 256 {
		l[i] = uint32(i)<<16 | fLit
	}
	l[256] = fExc | fEOB
	for i := range 29 {
		l[257+i] = uint32(lengthBase[i])<<16 | uint32(lengthExtra[i])
	}
	l[286], l[287] = invalid, invalid
	for i := range 30 {
		d[i] = uint32(distBase[i])<<16 | uint32(distExtra[i])
	}
	d[30], d[31] = invalid, invalid
	for i := range 19 {
		p[i] = uint32(i) << 16
	}
	return
}()

// The fixed Huffman codes of RFC 1951, 3.2.6.
var fixedLit, fixedDist = func() (l [litTableSize]uint32, d [distTableLen]uint32) {
	var ll [288]uint8
	for i := range ll {
		switch {
		case i < 144:
			ll[i] = 8
		case i < 256:
			ll[i] = 9
		case i < 280:
			ll[i] = 7
		default:
			ll[i] = 8
		}
	}
	var dl [32]uint8
	for i := range dl {
		dl[i] = 5
	}
	if !build(l[:], litBits, ll[:], litSyms[:]) || !build(d[:], distBits, dl[:], distSyms[:]) {
		panic("fast: fixed Huffman tables")
	}
	return
}()

// build fills table (a main table of 1<<root entries, then subtables) for
// the canonical Huffman code with the given code lengths; syms[i] is symbol
// i's entry without its length. It reports false, as compress/flate does,
// for a code that is over-subscribed or incomplete, except a single code of
// length 1 (zlib accepts that one; its other codeword is invalid). An empty
// code is accepted: every codeword is invalid.
func build(table []uint32, root int, lens []uint8, syms []uint32) bool {
	var count [16]int
	maxLen := 0
	for _, n := range lens {
		count[n]++
		maxLen = max(maxLen, int(n))
	}
	count[0] = 0
	// Kraft: the code must fill exactly 1<<maxLen codewords of maxLen bits.
	var next [16]int
	code := 0
	for l := 1; l <= maxLen; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	space := 0
	for l := 1; l <= maxLen; l++ {
		space += count[l] << (maxLen - l)
	}
	complete := space == 1<<maxLen
	if maxLen == 0 || !complete {
		if maxLen != 0 && !(maxLen == 1 && count[1] == 1) {
			return false
		}
		for i := range table {
			table[i] = invalid
		}
		if maxLen == 0 {
			return true
		}
	}
	// Symbols by (length, symbol): canonical codes increase along it.
	var offs [17]int
	for l := 1; l <= 15; l++ {
		offs[l+1] = offs[l] + count[l]
	}
	var sorted [288]uint16
	var codes [288]uint16
	for s, n := range lens {
		if n != 0 {
			sorted[offs[n]] = uint16(s)
			offs[n]++
			codes[s] = uint16(next[n])
			next[n]++
		}
	}
	total := offs[15] // every symbol with a length
	size := 1 << root
	i := 0
	for ; i < total; i++ {
		s := sorted[i]
		l := int(lens[s])
		if l > root {
			break
		}
		e := syms[s] + uint32(l) + uint32(l)<<8
		for j := reverse(int(codes[s]), l); j < size; j += 1 << l {
			table[j] = e
		}
	}
	// Longer codes: those sharing their first root bits are contiguous in
	// the sorted order, and share one subtable.
	free := size
	for i < total {
		s := sorted[i]
		prefix := int(codes[s]) >> (int(lens[s]) - root)
		end, maxL := i, 0
		for end < total {
			t := sorted[end]
			if int(codes[t])>>(int(lens[t])-root) != prefix {
				break
			}
			maxL = max(maxL, int(lens[t]))
			end++
		}
		sub := maxL - root
		if free+1<<sub > len(table) {
			return false
		}
		table[reverse(prefix, root)] = uint32(free)<<16 | fExc | fSub | uint32(sub)<<8 | uint32(root)
		for ; i < end; i++ {
			t := sorted[i]
			l := int(lens[t]) - root
			e := syms[t] + uint32(l) + uint32(l)<<8
			low := int(codes[t]) & (1<<l - 1)
			for j := reverse(low, l); j < 1<<sub; j += 1 << l {
				table[free+j] = e
			}
		}
		free += 1 << sub
	}
	return true
}

// reverse returns the n low bits of c in reverse order.
func reverse(c, n int) int {
	return int(bits.Reverse16(uint16(c)) >> (16 - n))
}
