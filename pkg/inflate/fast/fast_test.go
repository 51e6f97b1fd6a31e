package fast

import (
	"bytes"
	stdflate "compress/flate"
	stdgzip "compress/gzip"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/iotest"

	kflate "github.com/klauspost/compress/flate"
	kgzip "github.com/klauspost/compress/gzip"
)

// corpus is real data: the repository's testdata files, this test binary
// (an ELF of several MB) and a few files of the machine it runs on.
func corpus(t testing.TB) map[string][]byte {
	t.Helper()
	m := map[string][]byte{}
	var all bytes.Buffer
	err := filepath.WalkDir("../../../testdata", func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		all.Write(b)
		if len(b) > 0 && len(m) < 20 {
			m[p] = b
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if all.Len() < 1<<20 {
		t.Fatalf("testdata: only %d bytes", all.Len())
	}
	m["testdata (all)"] = all.Bytes()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{exe, "/etc/services", "/etc/passwd"} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		m[p] = b
	}
	m["empty"] = nil
	m["one byte"] = []byte{'x'}
	m["zeros"] = make([]byte, 3<<20)
	r := rand.New(rand.NewPCG(3, 4))
	rnd := make([]byte, 300<<10)
	for i := range rnd {
		rnd[i] = byte(r.Uint32())
	}
	m["random"] = rnd
	return m
}

type encoder struct {
	name string
	gz   func(w io.Writer) io.WriteCloser // gzip
	fl   func(w io.Writer) io.WriteCloser // raw deflate
}

func encoders() []encoder {
	var es []encoder
	for _, l := range []int{stdflate.NoCompression, 1, 6, 9, stdflate.HuffmanOnly} {
		es = append(es, encoder{
			name: "stdlib-" + itoa(l),
			gz:   func(w io.Writer) io.WriteCloser { z, _ := stdgzip.NewWriterLevel(w, l); return z },
			fl:   func(w io.Writer) io.WriteCloser { z, _ := stdflate.NewWriter(w, l); return z },
		})
	}
	for _, l := range []int{kflate.NoCompression, 1, 2, 4, 6, 9, kflate.HuffmanOnly} {
		es = append(es, encoder{
			name: "klauspost-" + itoa(l),
			gz:   func(w io.Writer) io.WriteCloser { z, _ := kgzip.NewWriterLevel(w, l); return z },
			fl:   func(w io.Writer) io.WriteCloser { z, _ := kflate.NewWriter(w, l); return z },
		})
	}
	return es
}

func itoa(l int) string {
	if l < 0 {
		return "m" + string(rune('0'-l))
	}
	return string(rune('0' + l))
}

// compress writes data in pieces of random sizes, flushing some of them
// (empty stored blocks, small blocks that encoders often make fixed).
func compress(t testing.TB, w io.WriteCloser, data []byte, seed uint64) {
	t.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	for len(data) > 0 {
		n := min(len(data), 1+r.IntN(200<<10))
		if r.IntN(4) == 0 {
			n = min(len(data), 1+r.IntN(100))
		}
		if _, err := w.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
		if f, ok := w.(interface{ Flush() error }); ok && r.IntN(3) == 0 {
			if err := f.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDifferential(t *testing.T) {
	data := corpus(t)
	for _, enc := range encoders() {
		for name, b := range data {
			var gz, fl bytes.Buffer
			compress(t, enc.gz(&gz), b, uint64(len(b)))
			compress(t, enc.fl(&fl), b, uint64(len(b))+1)
			for _, size := range []int{4096, 5000, OutSize} {
				z, err := NewReaderSize(bytes.NewReader(gz.Bytes()), size)
				if err != nil {
					t.Fatalf("%s %s: %v", enc.name, name, err)
				}
				got, err := io.ReadAll(z)
				if err != nil || !bytes.Equal(got, b) {
					t.Fatalf("%s %s, out %d: gzip: %v, %d bytes of %d, equal %v", enc.name, name, size, err, len(got), len(b), bytes.Equal(got, b))
				}
			}
			got, err := io.ReadAll(NewFlateReader(bytes.NewReader(fl.Bytes())))
			if err != nil || !bytes.Equal(got, b) {
				t.Fatalf("%s %s: raw: %v", enc.name, name, err)
			}
		}
	}
}

// TestReaders reads through odd input and output sizes.
func TestReaders(t *testing.T) {
	data := corpus(t)["/etc/services"]
	var gz bytes.Buffer
	compress(t, kgzip.NewWriter(&gz), data, 1)
	for name, r := range map[string]func() io.Reader{
		"one byte":  func() io.Reader { return iotest.OneByteReader(bytes.NewReader(gz.Bytes())) },
		"half":      func() io.Reader { return iotest.HalfReader(bytes.NewReader(gz.Bytes())) },
		"data+EOF":  func() io.Reader { return iotest.DataErrReader(bytes.NewReader(gz.Bytes())) },
		"no writer": func() io.Reader { return bytes.NewReader(gz.Bytes()) },
	} {
		z, err := NewReaderSize(r(), 4096)
		if err != nil {
			t.Fatal(name, err)
		}
		if err := iotest.TestReader(z, data); err != nil {
			t.Fatal(name, err)
		}
	}
	z, err := NewReader(bytes.NewReader(gz.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if n, err := z.WriteTo(&got); err != nil || n != int64(len(data)) || !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("WriteTo: %d, %v", n, err)
	}
	errRead := errors.New("read failed")
	z, err = NewReader(io.MultiReader(bytes.NewReader(gz.Bytes()[:len(gz.Bytes())/2]), iotest.ErrReader(errRead)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(z); !errors.Is(err, errRead) {
		t.Fatalf("source error: got %v", err)
	}
}

// fixedStream is a raw DEFLATE stream of fixed-Huffman blocks, written here
// bit by bit from random literals and matches (every length 3-258, every
// distance the history allows, overlapping ones), and what it inflates to.
func fixedStream(seed uint64, blocks int) (stream, want []byte) {
	r := rand.New(rand.NewPCG(seed, 9))
	var out bytes.Buffer
	var acc uint64
	var nb uint
	put := func(v uint64, n uint) {
		acc |= v << nb
		nb += n
		for nb >= 8 {
			out.WriteByte(byte(acc))
			acc >>= 8
			nb -= 8
		}
	}
	huff := func(code, n uint) { // Huffman codes go most significant bit first
		put(uint64(reverse(int(code), int(n))), n)
	}
	lit := func(sym int) {
		switch {
		case sym < 144:
			huff(uint(0x30+sym), 8)
		case sym < 256:
			huff(uint(0x190+sym-144), 9)
		case sym < 280:
			huff(uint(sym-256), 7)
		default:
			huff(uint(0xc0+sym-280), 8)
		}
	}
	for blk := range blocks {
		final := blk == blocks-1
		put(b2u(final), 1)
		put(1, 2)
		for range r.IntN(3000) {
			if len(want) == 0 || r.IntN(3) == 0 {
				c := byte(r.IntN(256))
				lit(int(c))
				want = append(want, c)
				continue
			}
			length := 3 + r.IntN(256)
			if r.IntN(4) == 0 {
				length = 258
			}
			maxDist := min(len(want), 32768)
			dist := 1 + r.IntN(maxDist)
			if r.IntN(2) == 0 {
				dist = 1 + r.IntN(min(maxDist, 9))
			}
			i := 0
			for i < 28 && int(lengthBase[i+1]) <= length {
				i++
			}
			if length == 258 {
				i = 28
			}
			lit(257 + i)
			put(uint64(length-int(lengthBase[i])), uint(lengthExtra[i]))
			j := 0
			for j < 29 && int(distBase[j+1]) <= dist {
				j++
			}
			huff(uint(j), 5)
			put(uint64(dist-int(distBase[j])), uint(distExtra[j]))
			for k := range length {
				_ = k
				want = append(want, want[len(want)-dist])
			}
		}
		lit(256)
	}
	put(0, 7)
	return out.Bytes(), want
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func TestFixedHuffman(t *testing.T) {
	for seed := range uint64(4) {
		stream, want := fixedStream(seed, 20)
		ref, err := io.ReadAll(stdflate.NewReader(bytes.NewReader(stream)))
		if err != nil || !bytes.Equal(ref, want) {
			t.Fatalf("the test's stream: compress/flate says %v", err)
		}
		for _, size := range []int{4096, 4099, OutSize} {
			z := &Reader{}
			z.d.init(bytes.NewReader(stream), size)
			z.crcPos = z.d.op
			got, err := io.ReadAll(z)
			if err != nil || !bytes.Equal(got, want) {
				t.Fatalf("seed %d out %d: %v, %d bytes of %d", seed, size, err, len(got), len(want))
			}
		}
	}
}

// inflateAll inflates a raw stream with compress/flate and with this
// package (through a small output buffer as well) and fails the test when
// they differ: in error-ness, in output when both succeed, or in output
// not being a prefix of the other's when they fail.
func inflateAll(t testing.TB, stream []byte) {
	want, werr := io.ReadAll(stdflate.NewReader(bytes.NewReader(stream)))
	for _, size := range []int{4096, OutSize} {
		z := &Reader{}
		z.d.init(bytes.NewReader(stream), size)
		z.crcPos = z.d.op
		got, err := io.ReadAll(z)
		if (err == nil) != (werr == nil) {
			t.Fatalf("out %d: error %v, compress/flate's %v", size, err, werr)
		}
		if err == nil && !bytes.Equal(got, want) {
			t.Fatalf("out %d: %d bytes, compress/flate %d, not the same", size, len(got), len(want))
		}
		if err != nil {
			n := min(len(got), len(want))
			if !bytes.Equal(got[:n], want[:n]) {
				t.Fatalf("out %d: failing outputs differ in their first %d bytes", size, n)
			}
		}
	}
}

// gunzipAll compares with klauspost/compress/gzip, the reader this one
// stands in for.
func gunzipAll(t testing.TB, gz []byte) {
	var want []byte
	kr, werr := kgzip.NewReader(bytes.NewReader(gz))
	if werr == nil {
		want, werr = io.ReadAll(kr)
	}
	var got []byte
	z, err := NewReaderSize(bytes.NewReader(gz), 4096)
	if err == nil {
		got, err = io.ReadAll(z)
	}
	if (err == nil) != (werr == nil) {
		t.Fatalf("error %v, klauspost's %v", err, werr)
	}
	if err == nil && !bytes.Equal(got, want) {
		t.Fatalf("%d bytes, klauspost %d, not the same", len(got), len(want))
	}
	n := min(len(got), len(want))
	if !bytes.Equal(got[:n], want[:n]) {
		t.Fatalf("outputs differ in their first %d bytes", n)
	}
}

// TestCorrupt truncates and damages real streams: the errors must be
// compress/flate's (and klauspost's for gzip), and there must be no panic.
func TestCorrupt(t *testing.T) {
	data := corpus(t)["testdata (all)"][:40000]
	stream, _ := fixedStream(5, 3)
	streams := [][]byte{stream}
	for _, enc := range encoders() {
		var fl bytes.Buffer
		compress(t, enc.fl(&fl), data, 3)
		streams = append(streams, fl.Bytes())
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range streams {
		for n := 0; n < len(s); n += 1 + len(s)/300 {
			inflateAll(t, s[:n])
		}
		for range 300 {
			b := bytes.Clone(s)
			for range 1 + r.IntN(3) {
				b[r.IntN(len(b))] ^= byte(1 << r.IntN(8))
			}
			inflateAll(t, b)
		}
	}
	var gz bytes.Buffer
	w := kgzip.NewWriter(&gz)
	w.Name, w.Comment, w.Extra = "layer.tar", "a comment", []byte{'W', 'D', 3, 0, 1, 2, 3}
	w.Write(data)
	w.Close()
	one := gz.Len()
	w = kgzip.NewWriter(&gz)
	w.Write(data[:100])
	w.Close()
	g := gz.Bytes()
	gunzipAll(t, g)
	gunzipAll(t, append(bytes.Clone(g), 0))
	gunzipAll(t, append(bytes.Clone(g), 0x1f, 0x8b, 8, 0))
	hcrc := bytes.Clone(g[:one])
	hcrc[3] |= flagHCRC // no CRC-16 there: the next bytes are taken as one
	gunzipAll(t, hcrc)
	for n := 0; n < len(g); n++ {
		gunzipAll(t, g[:n])
	}
	for i := range 64 {
		for bit := range 8 {
			b := bytes.Clone(g)
			b[i] ^= 1 << bit
			gunzipAll(t, b)
			b = bytes.Clone(g)
			b[len(b)-1-i] ^= 1 << bit
			gunzipAll(t, b)
		}
	}
	long := append([]byte{0x1f, 0x8b, 8, flagName, 0, 0, 0, 0, 0, 3}, bytes.Repeat([]byte{'a'}, 511)...)
	long = append(long, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	gunzipAll(t, long)
	gunzipAll(t, append(long[:10:10], long[11:]...))
	if _, err := NewReader(bytes.NewReader(nil)); err != io.EOF {
		t.Fatalf("empty input: %v, want io.EOF", err)
	}
}

func FuzzInflate(f *testing.F) {
	data := []byte("Package: openssl\nVersion: 3.1.7-r0\nPackage: openssl-dev\nVersion: 3.1.7-r0\n")
	for _, enc := range encoders() {
		var fl bytes.Buffer
		compress(f, enc.fl(&fl), data, 1)
		f.Add(fl.Bytes())
	}
	stream, _ := fixedStream(1, 2)
	f.Add(stream)
	f.Add([]byte{0x04, 0xc0, 0x81, 0x08, 0x00, 0x00, 0x00, 0x00, 0x20, 0x7f, 0xeb, 0x0b, 0x00, 0x00}) // incomplete dist code
	f.Fuzz(func(t *testing.T, b []byte) {
		inflateAll(t, b)
	})
}

func FuzzGunzip(f *testing.F) {
	data := []byte("Package: openssl\nVersion: 3.1.7-r0\nPackage: openssl-dev\nVersion: 3.1.7-r0\n")
	for _, enc := range encoders() {
		var gz bytes.Buffer
		compress(f, enc.gz(&gz), data, 1)
		f.Add(gz.Bytes())
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		gunzipAll(t, b)
	})
}
