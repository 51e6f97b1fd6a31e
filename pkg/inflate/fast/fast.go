// Package fast is a DEFLATE and gzip decoder built for speed, after the
// design libdeflate publishes (none of its code): a 64-bit bit buffer
// reloaded a word at a time, decode tables whose one 32-bit entry gives a
// literal, or a length or distance base with its extra bits, a fast loop
// without per-symbol input or output checks while there are 8 bytes of input
// and 266 bytes of room, matches copied 8 bytes at a time, and a careful
// loop near the ends. It decodes into a large buffer that keeps the 32 KiB
// window in front and slides it when full.
//
// It accepts and refuses what compress/flate and klauspost/compress/gzip
// do (FuzzInflate compares them), with the same error values:
// gzip.ErrHeader, gzip.ErrChecksum and flate.CorruptInputError of
// klauspost/compress, io.ErrUnexpectedEOF for truncated input.
package fast

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"io"

	"github.com/klauspost/compress/gzip"
)

// OutSize is the default size of the output buffer, past the window.
const OutSize = 512 << 10

// Reader inflates a gzip stream (all its members, as gzip -d does) or, from
// NewFlateReader, one raw DEFLATE stream.
type Reader struct {
	d      decoder
	gzip   bool
	crc    uint32 // of the member's output up to crcPos
	size   uint32
	crcPos int
	err    error // returned once the output before it is handed out
}

// NewReader reads the first gzip member header of r and returns a reader of
// the inflated stream. An empty r gives io.EOF, as the gzip packages do.
func NewReader(r io.Reader) (*Reader, error) {
	return NewReaderSize(r, OutSize)
}

// NewReaderSize is NewReader with an output buffer of outSize bytes past
// the window (at least 4096).
func NewReaderSize(r io.Reader, outSize int) (*Reader, error) {
	z := &Reader{gzip: true}
	z.d.init(r, max(outSize, 4096))
	if err := z.header(); err != nil {
		return nil, err
	}
	z.crcPos = z.d.op
	return z, nil
}

// NewFlateReader inflates the raw DEFLATE stream r starts with (it reads
// ahead of what it inflates, past the stream's end).
func NewFlateReader(r io.Reader) *Reader {
	z := &Reader{}
	z.d.init(r, OutSize)
	z.crcPos = z.d.op
	return z
}

// Read implements io.Reader.
func (z *Reader) Read(p []byte) (int, error) {
	for {
		d := &z.d
		if d.rp < d.op {
			n := copy(p, d.out[d.rp:d.op])
			d.rp += n
			return n, nil
		}
		if z.err != nil || len(p) == 0 {
			return 0, z.err
		}
		z.step()
	}
}

// WriteTo implements io.WriterTo, handing out the output buffer as it
// fills, without a copy.
func (z *Reader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		d := &z.d
		if d.rp < d.op {
			n, err := w.Write(d.out[d.rp:d.op])
			d.rp += n
			total += int64(n)
			if err != nil {
				return total, err
			}
			continue
		}
		if z.err != nil {
			if z.err == io.EOF {
				return total, nil
			}
			return total, z.err
		}
		z.step()
	}
}

// Close does nothing; it does not close the underlying reader.
func (z *Reader) Close() error { return nil }

// step inflates more, or ends the stream (z.err).
func (z *Reader) step() {
	d := &z.d
	if d.op == len(d.out) {
		z.sum()
		shift := d.slide()
		z.crcPos -= shift
	}
	err := d.inflate()
	z.sum()
	if err == nil {
		return
	}
	if err != io.EOF || !z.gzip {
		z.err = err
		return
	}
	var t [8]byte
	for i := range t {
		c, err := z.readByte()
		if err != nil {
			z.err = noEOF(err)
			return
		}
		t[i] = c
	}
	if binary.LittleEndian.Uint32(t[:4]) != z.crc || binary.LittleEndian.Uint32(t[4:]) != z.size {
		z.err = gzip.ErrChecksum
		return
	}
	if err := z.header(); err != nil {
		z.err = err // io.EOF: no more members
		return
	}
}

// sum adds the output since the last call to the member's CRC and size.
func (z *Reader) sum() {
	if z.gzip && z.crcPos < z.d.op {
		z.crc = crc32.Update(z.crc, crc32.IEEETable, z.d.out[z.crcPos:z.d.op])
		z.size += uint32(z.d.op - z.crcPos) //nolint:gosec // mod 2^32, as gzip's ISIZE
	}
	z.crcPos = z.d.op
}

func (z *Reader) readByte() (byte, error) {
	d := &z.d
	if d.ip >= len(d.in) && !d.fill() {
		if d.srcErr == nil {
			return 0, io.ErrUnexpectedEOF
		}
		return 0, d.srcErr
	}
	c := d.in[d.ip]
	d.ip++
	return c, nil
}

func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// RFC 1952 header flags.
const (
	flagHCRC    = 1 << 1
	flagExtra   = 1 << 2
	flagName    = 1 << 3
	flagComment = 1 << 4
)

// header reads a member header as klauspost/compress/gzip does (the same
// checks, in the same order, with the same errors) and starts its stream.
// No input at all is io.EOF.
func (z *Reader) header() error {
	var b [10]byte
	for i := range b {
		c, err := z.readByte()
		if err != nil {
			if i == 0 {
				return err
			}
			return noEOF(err)
		}
		b[i] = c
	}
	if b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 {
		return gzip.ErrHeader
	}
	flg := b[3]
	digest := crc32.ChecksumIEEE(b[:])
	read := func(n int) error {
		for range n {
			c, err := z.readByte()
			if err != nil {
				return noEOF(err)
			}
			digest = crc32.Update(digest, crc32.IEEETable, []byte{c})
		}
		return nil
	}
	// two reads a little-endian 16-bit field.
	two := func() ([2]byte, error) {
		var v [2]byte
		for i := range v {
			c, err := z.readByte()
			if err != nil {
				return v, noEOF(err)
			}
			v[i] = c
		}
		return v, nil
	}
	if flg&flagExtra != 0 {
		l, err := two()
		if err != nil {
			return err
		}
		digest = crc32.Update(digest, crc32.IEEETable, l[:])
		if err := read(int(binary.LittleEndian.Uint16(l[:]))); err != nil {
			return err
		}
	}
	for _, f := range []byte{flagName, flagComment} {
		if flg&f == 0 {
			continue
		}
		// A string of at most 511 bytes and its NUL, as the Go readers take.
		for i := 0; ; i++ {
			if i >= 512 {
				return gzip.ErrHeader
			}
			c, err := z.readByte()
			if err != nil {
				return noEOF(err)
			}
			digest = crc32.Update(digest, crc32.IEEETable, []byte{c})
			if c == 0 {
				break
			}
		}
	}
	if flg&flagHCRC != 0 {
		h, err := two()
		if err != nil {
			return err
		}
		if binary.LittleEndian.Uint16(h[:]) != uint16(digest) {
			return gzip.ErrHeader
		}
	}
	if flg>>5 != 0 {
		return gzip.ErrHeader
	}
	z.crc, z.size = 0, 0
	z.d.startStream()
	return nil
}
