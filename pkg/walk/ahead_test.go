package walk

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

func TestAheadReader(t *testing.T) {
	data := make([]byte, 3*aheadChunk+12345)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	// Read through small reads and forward skips: the same bytes as a plain read.
	a := newAheadReader(iotest.HalfReader(bytes.NewReader(data)))
	var got []byte
	want := []byte{}
	pos := 0
	buf := make([]byte, 1000)
	for pos < len(data) {
		if pos%3 == 0 {
			skip := min(int64(rand.IntN(2*aheadChunk)), int64(len(data)-pos))
			p, err := a.Seek(skip, io.SeekCurrent)
			if err != nil || p != int64(pos)+skip {
				t.Fatalf("Seek(%d) at %d = %d, %v", skip, pos, p, err)
			}
			pos += int(skip)
			continue
		}
		n, err := a.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, buf[:n]...)
		want = append(want, data[pos:pos+n]...)
		pos += n
	}
	if !bytes.Equal(got, want) {
		t.Fatal("read-ahead changed the bytes")
	}
	if n, err := a.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("at the end: %d, %v", n, err)
	}
	a.Close()

	// A skip past the end stops there; the error of the source comes through.
	a = newAheadReader(bytes.NewReader(data[:100]))
	if p, err := a.Seek(1000, io.SeekCurrent); p != 100 || err != nil {
		t.Fatalf("Seek past the end = %d, %v", p, err)
	}
	a.Close()
	boom := errors.New("boom")
	a = newAheadReader(io.MultiReader(bytes.NewReader(data[:10]), iotest.ErrReader(boom)))
	if b, err := io.ReadAll(a); !errors.Is(err, boom) || len(b) != 10 {
		t.Fatalf("ReadAll = %d bytes, %v", len(b), err)
	}
	a.Close()
	// Close before reading everything stops the goroutine.
	a = newAheadReader(bytes.NewReader(data))
	a.Read(buf)
	a.Close()
	a.Close()
}
