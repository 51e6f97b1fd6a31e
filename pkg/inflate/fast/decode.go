package fast

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/klauspost/compress/flate"
)

const (
	windowSize = 32 << 10
	// fastOut is the output room the fast loop needs for one symbol: the
	// longest match, plus the 8-byte overrun of its copy.
	fastOut = 258 + 8
	// fastIn: the fast loop reloads 8 bytes per symbol.
	fastIn = 8
	inSize = 128 << 10
	// keep is how many consumed input bytes a refill keeps in front, so that
	// whole bytes left in the bit buffer can be given back (at most 7).
	keep = 8
)

// Block states.
const (
	stHeader = iota // at a block header (or after the final block)
	stStored        // in a stored block, storedLeft bytes to go
	stHuff          // in a Huffman block
	stEnd           // the stream has ended
)

// decoder inflates one DEFLATE stream after another (gzip members) from src
// into out, whose first windowSize bytes hold the history once it slides.
type decoder struct {
	src    io.Reader
	srcErr error // src's error once it returned one (io.EOF at the end)

	in []byte // in[:len(in)] holds input; in[ip:] is not consumed yet
	ip int

	// The bit buffer: bitcnt bits, least significant first. Bits above
	// bitcnt may hold the next input bytes (in[ip:]), never anything else.
	bitbuf uint64
	bitcnt uint

	out    []byte
	op     int // output written up to here
	rp     int // handed out up to here
	base   int // where the current stream's output starts (may be < 0)
	offset int64

	state      int
	final      bool
	storedLeft int
	copyLen    int // a match cut short by the end of out
	copyDist   int

	lit  *[litTableSize]uint32
	dist *[distTableLen]uint32
	dyn  struct {
		lit  [litTableSize]uint32
		dist [distTableLen]uint32
		pre  [1 << preBits]uint32
		lens [286 + 32]uint8
	}
}

func (d *decoder) init(src io.Reader, outSize int) {
	d.src = src
	if cap(d.in) < inSize {
		d.in = make([]byte, 0, inSize)
	}
	d.in = d.in[:0]
	if len(d.out) != windowSize+outSize {
		d.out = make([]byte, windowSize+outSize)
	}
	d.op, d.rp = windowSize, windowSize
	d.ip, d.bitbuf, d.bitcnt, d.srcErr, d.offset = 0, 0, 0, nil, 0
	d.startStream()
}

// startStream starts a DEFLATE stream at the current output position.
func (d *decoder) startStream() {
	d.base = d.op
	d.state, d.final, d.copyLen = stHeader, false, 0
}

// slide moves the last windowSize bytes of output to the front of out;
// everything must have been handed out.
func (d *decoder) slide() int {
	shift := d.op - windowSize
	copy(d.out[:windowSize], d.out[shift:d.op])
	d.op, d.rp = windowSize, windowSize
	d.base -= shift
	return shift
}

// fill reads more input from src, keeping the unconsumed bytes and up to
// keep consumed ones before them. It reports whether there is more input.
func (d *decoder) fill() bool {
	if d.srcErr != nil {
		return false
	}
	k := max(d.ip-keep, 0)
	n := copy(d.in[:cap(d.in)], d.in[k:])
	d.offset += int64(k)
	d.in, d.ip = d.in[:n], d.ip-k
	for range 100 {
		m, err := d.src.Read(d.in[n:cap(d.in)])
		d.in = d.in[:n+m]
		if err != nil {
			d.srcErr = err
		}
		if m > 0 {
			return true
		}
		if err != nil {
			return false
		}
	}
	d.srcErr = io.ErrNoProgress
	return false
}

// truncated is the error for input that ends too early.
func (d *decoder) truncated() error {
	if d.srcErr != nil && !errors.Is(d.srcErr, io.EOF) {
		return d.srcErr
	}
	return io.ErrUnexpectedEOF
}

func (d *decoder) corrupt() error {
	return flate.CorruptInputError(d.offset + int64(d.ip))
}

// need loads bits until there are n (≤ 57), a byte at a time.
func (d *decoder) need(n uint) bool {
	for d.bitcnt < n {
		if d.ip >= len(d.in) && !d.fill() {
			return false
		}
		d.bitbuf |= uint64(d.in[d.ip]) << d.bitcnt
		d.ip++
		d.bitcnt += 8
	}
	return true
}

// refill loads as many whole bytes as fit (up to 56 or more bits), or all
// that is left of the input.
func (d *decoder) refill() {
	if d.ip+8 <= len(d.in) {
		d.bitbuf |= binary.LittleEndian.Uint64(d.in[d.ip:]) << (d.bitcnt & 63)
		d.ip += int((63 - d.bitcnt) >> 3)
		d.bitcnt |= 56
		return
	}
	for d.bitcnt <= 56 {
		if d.ip >= len(d.in) && !d.fill() {
			return
		}
		d.bitbuf |= uint64(d.in[d.ip]) << d.bitcnt
		d.ip++
		d.bitcnt += 8
	}
}

func (d *decoder) consume(n uint) {
	d.bitbuf >>= n & 63
	d.bitcnt -= n
}

// alignBytes gives back the whole bytes of the bit buffer to the input and
// drops the bits of a partial byte: the stream continues at a byte boundary.
func (d *decoder) alignBytes() {
	d.ip -= int(d.bitcnt >> 3)
	d.bitbuf, d.bitcnt = 0, 0
}

// inflate decodes until out is full (nil), the stream ends (io.EOF) or an
// error.
func (d *decoder) inflate() error {
	for d.op < len(d.out) {
		var err error
		switch d.state {
		case stEnd:
			return io.EOF
		case stHeader:
			if d.final {
				d.alignBytes()
				d.state = stEnd
				return io.EOF
			}
			err = d.blockHeader()
		case stStored:
			err = d.stored()
		case stHuff:
			err = d.huffman()
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) blockHeader() error {
	if !d.need(3) {
		return d.truncated()
	}
	d.final = d.bitbuf&1 != 0
	typ := d.bitbuf >> 1 & 3
	d.consume(3)
	switch typ {
	case 0:
		d.alignBytes()
		var b [4]byte
		for i := range b {
			if d.ip >= len(d.in) && !d.fill() {
				return d.truncated()
			}
			b[i] = d.in[d.ip]
			d.ip++
		}
		n := binary.LittleEndian.Uint16(b[:])
		if n != ^binary.LittleEndian.Uint16(b[2:]) {
			return d.corrupt()
		}
		d.storedLeft = int(n)
		d.state = stStored
	case 1:
		d.lit, d.dist = &fixedLit, &fixedDist
		d.state = stHuff
	case 2:
		if err := d.dynamicHeader(); err != nil {
			return err
		}
		d.lit, d.dist = &d.dyn.lit, &d.dyn.dist
		d.state = stHuff
	default:
		return d.corrupt()
	}
	return nil
}

var precodeOrder = [19]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

func (d *decoder) dynamicHeader() error {
	if !d.need(14) {
		return d.truncated()
	}
	nlit := int(d.bitbuf&31) + 257
	ndist := int(d.bitbuf>>5&31) + 1
	npre := int(d.bitbuf>>10&15) + 4
	d.consume(14)
	if nlit > 286 || ndist > 30 {
		return d.corrupt()
	}
	var preLens [19]uint8
	for i := range npre {
		if !d.need(3) {
			return d.truncated()
		}
		preLens[precodeOrder[i]] = uint8(d.bitbuf & 7)
		d.consume(3)
	}
	pre := &d.dyn.pre
	if !build(pre[:], preBits, preLens[:], preSyms[:]) {
		return d.corrupt()
	}
	lens := d.dyn.lens[:nlit+ndist]
	for i := 0; i < len(lens); {
		d.refill()
		e := pre[d.bitbuf&preMask]
		n := uint(e & 0xff)
		// Missing bits read as zeros: the symbol is only certain when its
		// codeword was all there. An invalid entry has length 0: only
		// the bits read can lead to one (as compress/flate sees it).
		if n > d.bitcnt {
			return d.truncated()
		}
		if e&fExc != 0 {
			return d.corrupt()
		}
		d.consume(n)
		sym := e >> 16
		if sym < 16 {
			lens[i] = uint8(sym)
			i++
			continue
		}
		var rep int
		var nb uint
		var v uint8
		switch sym {
		case 16:
			if i == 0 {
				return d.corrupt()
			}
			rep, nb, v = 3, 2, lens[i-1]
		case 17:
			rep, nb = 3, 3
		default:
			rep, nb = 11, 7
		}
		if !d.need(nb) {
			return d.truncated()
		}
		rep += int(d.bitbuf & (1<<nb - 1))
		d.consume(nb)
		if i+rep > len(lens) {
			return d.corrupt()
		}
		for j := range rep {
			lens[i+j] = v
		}
		i += rep
	}
	if !build(d.dyn.lit[:], litBits, lens[:nlit], litSyms[:]) || !build(d.dyn.dist[:], distBits, lens[nlit:], distSyms[:]) {
		return d.corrupt()
	}
	return nil
}

func (d *decoder) stored() error {
	for d.storedLeft > 0 {
		if d.op == len(d.out) {
			return nil
		}
		if d.ip >= len(d.in) && !d.fill() {
			return d.truncated()
		}
		n := copy(d.out[d.op:min(len(d.out), d.op+d.storedLeft)], d.in[d.ip:])
		d.op += n
		d.ip += n
		d.storedLeft -= n
	}
	d.state = stHeader
	return nil
}

// huffman decodes a Huffman block: the fast loop while there is room and
// input, else a symbol at a time.
func (d *decoder) huffman() error {
	if d.copyLen > 0 {
		d.copyMatch()
		if d.copyLen > 0 {
			return nil
		}
	}
	for d.op < len(d.out) {
		if d.op <= len(d.out)-fastOut {
			if d.ip+fastIn > len(d.in) && d.srcErr == nil {
				d.fill()
			}
			if d.ip+fastIn <= len(d.in) {
				done, err := d.fast()
				if err != nil || done {
					return err
				}
				continue
			}
		}
		done, err := d.slow()
		if err != nil || done {
			return err
		}
	}
	return nil
}

// copyMatch copies what fits of a pending match, a byte at a time.
func (d *decoder) copyMatch() {
	n := min(d.copyLen, len(d.out)-d.op)
	out := d.out
	for i := d.op; i < d.op+n; i++ {
		out[i] = out[i-d.copyDist]
	}
	d.op += n
	d.copyLen -= n
}

// slow decodes one symbol with every check. done reports the block's end.
func (d *decoder) slow() (done bool, err error) {
	e, ok := d.symbol(d.lit[:], litBits)
	if !ok {
		return false, d.truncated()
	}
	if e&fLit != 0 {
		d.consume(uint(e & 0xff))
		d.out[d.op] = byte(e >> 16)
		d.op++
		return false, nil
	}
	if e&fExc != 0 {
		if e&fEOB != 0 {
			d.consume(uint(e & 0xff))
			d.state = stHeader
			return true, nil
		}
		return false, d.corrupt()
	}
	total := uint(e & 0xff)
	length := int(e>>16) + int((d.bitbuf&(1<<total-1))>>(e>>8&15))
	d.consume(total)
	e, ok = d.symbol(d.dist[:], distBits)
	if !ok {
		return false, d.truncated()
	}
	if e&fExc != 0 {
		return false, d.corrupt()
	}
	total = uint(e & 0xff)
	dist := int(e>>16) + int((d.bitbuf&(1<<total-1))>>(e>>8&15))
	d.consume(total)
	if dist > d.op-max(d.base, 0) {
		return false, d.corrupt()
	}
	d.copyLen, d.copyDist = length, dist
	d.copyMatch()
	return false, nil
}

// symbol looks up the entry of the next symbol in table, following a
// subtable pointer; ok is false when the input ends before the symbol and
// its extra bits do.
func (d *decoder) symbol(table []uint32, root uint) (e uint32, ok bool) {
	d.refill()
	e = table[d.bitbuf&(1<<root-1)]
	if e&(fExc|fSub) == fExc|fSub {
		if root > d.bitcnt {
			return e, false
		}
		d.consume(root)
		e = table[int(e>>16)+int(d.bitbuf&(1<<(e>>8&15)-1))]
	}
	// Missing bits read as zeros: the entry is only certain when all its
	// bits were there (invalid entries have length 0, or 8 for the fixed
	// code's symbols 286 and 287).
	return e, uint(e&0xff) <= d.bitcnt
}

// fast decodes while there are fastOut bytes of room and fastIn bytes of
// input before each symbol. done reports the block's end.
func (d *decoder) fast() (done bool, err error) {
	in, out := d.in, d.out
	ip, op := d.ip, d.op
	bitbuf, bitcnt := d.bitbuf, d.bitcnt
	lit, dtab := d.lit, d.dist
	lo := max(d.base, 0)
	inEnd, outEnd := len(in)-fastIn, len(out)-fastOut
	for ip <= inEnd && op <= outEnd {
		bitbuf |= binary.LittleEndian.Uint64(in[ip:]) << (bitcnt & 63)
		ip += int((63 - bitcnt) >> 3)
		bitcnt |= 56

		e := lit[bitbuf&litMask]
		if e&fLit != 0 {
			// Up to three literals per refill: each of the first two takes
			// at most 11 bits (main table), leaving 34.
			bitbuf >>= e & 63
			bitcnt -= uint(e & 0xff)
			out[op] = byte(e >> 16)
			op++
			e = lit[bitbuf&litMask]
			if e&fLit != 0 {
				bitbuf >>= e & 63
				bitcnt -= uint(e & 0xff)
				out[op] = byte(e >> 16)
				op++
				e = lit[bitbuf&litMask]
				if e&fLit != 0 {
					bitbuf >>= e & 63
					bitcnt -= uint(e & 0xff)
					out[op] = byte(e >> 16)
					op++
				}
			}
			continue
		}
		if e&fExc != 0 {
			if e&fSub == 0 {
				if e&fEOB != 0 {
					bitbuf >>= e & 63
					bitcnt -= uint(e & 0xff)
					d.state = stHeader
					done = true
				} else {
					err = d.corrupt()
				}
				break
			}
			bitbuf >>= litBits
			bitcnt -= litBits
			e = lit[(int(e>>16)+int(bitbuf&(1<<(e>>8&15)-1)))&(litTableSize-1)]
			if e&fLit != 0 {
				bitbuf >>= e & 63
				bitcnt -= uint(e & 0xff)
				out[op] = byte(e >> 16)
				op++
				continue
			}
			if e&fExc != 0 {
				if e&fEOB != 0 {
					bitbuf >>= e & 63
					bitcnt -= uint(e & 0xff)
					d.state = stHeader
					done = true
				} else {
					err = d.corrupt()
				}
				break
			}
		}
		// A length (at most 15+5 bits), then a distance (at most 15+13).
		saved := bitbuf
		bitbuf >>= e & 63
		bitcnt -= uint(e & 0xff)
		length := int(e>>16) + int((saved&(1<<(e&63)-1))>>(e>>8&15))

		e = dtab[bitbuf&distMask]
		if e&fExc != 0 {
			if e&fSub == 0 {
				err = d.corrupt()
				break
			}
			bitbuf >>= distBits
			bitcnt -= distBits
			e = dtab[(int(e>>16)+int(bitbuf&(1<<(e>>8&15)-1)))&(distTableLen-1)]
			if e&fExc != 0 {
				err = d.corrupt()
				break
			}
		}
		saved = bitbuf
		bitbuf >>= e & 63
		bitcnt -= uint(e & 0xff)
		dist := int(e>>16) + int((saved&(1<<(e&63)-1))>>(e>>8&15))
		if dist > op-lo {
			err = d.corrupt()
			break
		}
		src := op - dist
		if dist >= 8 {
			// 8 bytes at a time; each load reads bytes already final, and
			// the last store may run up to 7 bytes past the match.
			for n := 0; n < length; n += 8 {
				binary.LittleEndian.PutUint64(out[op+n:], binary.LittleEndian.Uint64(out[src+n:]))
			}
		} else if dist == 1 {
			v := uint64(out[src]) * 0x0101010101010101
			for n := 0; n < length; n += 8 {
				binary.LittleEndian.PutUint64(out[op+n:], v)
			}
		} else {
			o := out[src : op+length]
			for i := dist; i < len(o); i++ {
				o[i] = o[i-dist]
			}
		}
		op += length
	}
	d.ip, d.op = ip, op
	d.bitbuf, d.bitcnt = bitbuf, bitcnt
	return done, err
}
