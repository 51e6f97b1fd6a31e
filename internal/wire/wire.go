// Package wire is the compact binary encoding of Warden's own stores (the
// vulnerability database's records, the layer cache's results): numbers and
// counts as uvarints (signed ones zigzag), strings and byte strings as a
// uvarint length and the bytes, booleans as one byte. There is no schema in
// the data: each store writes and reads its fields in one fixed order and
// versions the whole.
package wire

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/wardensec/warden/internal/arena"
)

// ErrCorrupt is wrapped by every decoding error.
var ErrCorrupt = errors.New("corrupt encoding")

// Encoder appends to B.
type Encoder struct{ B []byte }

func (e *Encoder) Uint(v uint64) { e.B = binary.AppendUvarint(e.B, v) }
func (e *Encoder) Int(v int64)   { e.B = binary.AppendVarint(e.B, v) }
func (e *Encoder) Str(s string)  { e.Uint(uint64(len(s))); e.B = append(e.B, s...) }
func (e *Encoder) Bytes(b []byte) {
	e.Uint(uint64(len(b)))
	e.B = append(e.B, b...)
}

func (e *Encoder) Bool(v bool) {
	if v {
		e.B = append(e.B, 1)
	} else {
		e.B = append(e.B, 0)
	}
}

// Strs writes a count and the strings.
func (e *Encoder) Strs(ss []string) {
	e.Uint(uint64(len(ss)))
	for _, s := range ss {
		e.Str(s)
	}
}

// U64s writes a count and the numbers, 8 bytes each (little-endian): for
// hashes, which varints would not shorten.
func (e *Encoder) U64s(vs []uint64) {
	e.Uint(uint64(len(vs)))
	for _, v := range vs {
		e.B = binary.LittleEndian.AppendUint64(e.B, v)
	}
}

// Decoder reads what Encoder wrote. The first problem sticks in Err (it
// wraps ErrCorrupt) and every later read returns a zero value, so a caller
// reads all its fields and checks Err once.
type Decoder struct {
	b   []byte
	s   string // NewStringDecoder: strings are cut out of it
	str bool
	off int
	Err error
}

// NewDecoder reads b; each string read is a copy.
func NewDecoder(b []byte) *Decoder { return &Decoder{b: b} }

// NewStringDecoder reads s; each string read is a substring of s (no
// allocation), so s stays in memory while any of them does.
func NewStringDecoder(s string) *Decoder { return &Decoder{s: s, str: true} }

func (d *Decoder) len() int {
	if d.str {
		return len(d.s)
	}
	return len(d.b)
}

func (d *Decoder) at(i int) byte {
	if d.str {
		return d.s[i]
	}
	return d.b[i]
}

func (d *Decoder) fail(what string) {
	if d.Err == nil {
		d.Err = fmt.Errorf("%w: bad %s at byte %d", ErrCorrupt, what, d.off)
	}
}

// Left is the number of bytes not read yet.
func (d *Decoder) Left() int { return d.len() - d.off }

func (d *Decoder) Uint() uint64 {
	if d.Err != nil {
		return 0
	}
	var v uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64 && d.off < d.len(); i++ {
		c := d.at(d.off)
		d.off++
		if c < 0x80 {
			if i == binary.MaxVarintLen64-1 && c > 1 {
				break // overflows 64 bits
			}
			return v | uint64(c)<<shift
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.fail("number")
	return 0
}

func (d *Decoder) Int() int64 {
	u := d.Uint()
	v := int64(u >> 1) //nolint:gosec // zigzag
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// Count reads a number of items that each take at least one byte: one over
// the bytes left is corruption (and allocates nothing).
func (d *Decoder) Count() int {
	n := d.Uint()
	if n > uint64(d.Left()) {
		d.fail("count")
		return 0
	}
	return int(n)
}

// span reads a length and returns the byte range that follows.
func (d *Decoder) span() (int, int, bool) {
	n := d.Uint()
	if d.Err != nil {
		return 0, 0, false
	}
	if n > uint64(d.Left()) {
		d.fail("length")
		return 0, 0, false
	}
	i := d.off
	d.off += int(n)
	return i, d.off, true
}

func (d *Decoder) Str() string {
	i, j, ok := d.span()
	switch {
	case !ok:
		return ""
	case d.str:
		return d.s[i:j]
	}
	return string(d.b[i:j])
}

// Bytes returns the next byte string: a slice of the input for NewDecoder
// (do not modify it), a copy for NewStringDecoder.
func (d *Decoder) Bytes() []byte {
	i, j, ok := d.span()
	switch {
	case !ok:
		return nil
	case d.str:
		return []byte(d.s[i:j])
	}
	return d.b[i:j:j]
}

func (d *Decoder) Bool() bool {
	if d.Err != nil {
		return false
	}
	if d.off >= d.len() || d.at(d.off) > 1 {
		d.fail("bool")
		return false
	}
	v := d.at(d.off) == 1
	d.off++
	return v
}

// Strs reads a count and the strings; none is nil.
func (d *Decoder) Strs() []string {
	n := d.Count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.Str()
	}
	return out
}

// StrsShared reads what Strs reads. From NewDecoder's input it copies the
// list once, lengths and all, and the strings share that copy: Strs would
// allocate each (120,000 file names of a layer's packages on a warm sbom).
// The copy comes from a (nil: the Go heap).
func (d *Decoder) StrsShared(a *arena.Arena) []string {
	if d.str {
		return d.Strs()
	}
	n := d.Count()
	if n == 0 {
		return nil
	}
	start := d.off
	for range n {
		if _, _, ok := d.span(); !ok {
			return nil
		}
	}
	s := NewStringDecoder(a.String(d.b[start:d.off]))
	out := make([]string, n)
	for i := range out {
		out[i] = s.Str()
	}
	return out
}

// U64s reads what Encoder.U64s wrote.
func (d *Decoder) U64s() []uint64 {
	n := d.Uint()
	if d.Err != nil || n == 0 {
		return nil
	}
	if n > uint64(d.Left()/8) {
		d.fail("count")
		return nil
	}
	out := make([]uint64, n)
	for i := range out {
		if d.str {
			out[i] = uint64(d.s[d.off]) | uint64(d.s[d.off+1])<<8 | uint64(d.s[d.off+2])<<16 | uint64(d.s[d.off+3])<<24 |
				uint64(d.s[d.off+4])<<32 | uint64(d.s[d.off+5])<<40 | uint64(d.s[d.off+6])<<48 | uint64(d.s[d.off+7])<<56
		} else {
			out[i] = binary.LittleEndian.Uint64(d.b[d.off:])
		}
		d.off += 8
	}
	return out
}

// SkipU64s reads past what Encoder.U64s wrote.
func (d *Decoder) SkipU64s() {
	n := d.Uint()
	if d.Err != nil {
		return
	}
	if n > uint64(d.Left()/8) {
		d.fail("count")
		return
	}
	d.off += int(n) * 8
}

// End fails when bytes are left over, and returns Err.
func (d *Decoder) End() error {
	if d.Err == nil && d.Left() != 0 {
		d.Err = fmt.Errorf("%w: %d bytes after the end", ErrCorrupt, d.Left())
	}
	return d.Err
}
