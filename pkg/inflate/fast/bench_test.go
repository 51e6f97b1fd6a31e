package fast

import (
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	"io"
	"os"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
)

// BenchmarkInflate inflates the gzip file FAST_BENCH_GZ (make one with
// tar -C / -cf - usr/lib/x86_64-linux-gnu usr/bin | gzip -6 > /tmp/big.tar.gz)
// with compress/gzip, klauspost/compress/gzip and this package, through
// Read calls of 256 KiB (as a tar reader would) and through WriteTo. MB/s
// is of output.
func BenchmarkInflate(b *testing.B) {
	path := os.Getenv("FAST_BENCH_GZ")
	if path == "" {
		b.Skip("FAST_BENCH_GZ names no gzip file")
	}
	comp, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	size, err := io.Copy(io.Discard, must(kgzip.NewReader(bytes.NewReader(comp))))
	if err != nil {
		b.Fatal(err)
	}
	open := map[string]func(io.Reader) (io.Reader, error){
		"stdlib":    func(r io.Reader) (io.Reader, error) { return stdgzip.NewReader(r) },
		"klauspost": func(r io.Reader) (io.Reader, error) { return kgzip.NewReader(r) },
		"fast":      func(r io.Reader) (io.Reader, error) { return NewReader(r) },
	}
	for _, name := range []string{"stdlib", "klauspost", "fast"} {
		for _, mode := range []string{"Read", "WriteTo"} {
			if mode == "WriteTo" && name == "stdlib" {
				continue
			}
			b.Run(name+"/"+mode, func(b *testing.B) {
				b.SetBytes(size)
				buf := make([]byte, 256<<10)
				for b.Loop() {
					zr, err := open[name](bufio.NewReaderSize(bytes.NewReader(comp), 256<<10))
					if err != nil {
						b.Fatal(err)
					}
					var n int64
					if mode == "Read" {
						n, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{zr}, buf)
					} else {
						n, err = io.Copy(io.Discard, zr)
					}
					if err != nil || n != size {
						b.Fatal(n, err)
					}
				}
			})
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
