package walk

import (
	"bytes"
	"context"
	"encoding/gob"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/layercache"
)

func corpusLayer(b *testing.B, name string) []byte {
	blob, err := os.ReadFile(filepath.Join(testutil.Corpus(b), "images", name))
	if err != nil {
		b.Fatal(err)
	}
	return blob
}

// BenchmarkWalkAlpineLayer reads the Alpine minirootfs layer (3.3 MB gzip,
// 7.6 MB of files) with the OS extractors, no cache.
func BenchmarkWalkAlpineLayer(b *testing.B) {
	blob := corpusLayer(b, "alpine-minirootfs-3.19.4-x86_64.tar.gz")
	opt := &Options{Extractors: osExtractors()}
	b.SetBytes(int64(len(blob)))
	b.ReportAllocs()
	for b.Loop() {
		r, err := readLayer(context.Background(), bytes.NewReader(blob), "sha256:x", opt)
		if err != nil {
			b.Fatal(err)
		}
		merge([]*layerResult{r}, opt)
	}
}

// BenchmarkWalkWarm is a fully cached walk of the Debian package DB image.
func BenchmarkWalkWarm(b *testing.B) {
	img := debianImage(b)
	c, err := layercache.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	opt := Options{Extractors: osExtractors(), Cache: c}
	if _, err := Inventory(context.Background(), img, opt); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Inventory(context.Background(), img, opt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResultEncoding compares the cache's binary encoding with gob
// (what the cache used before format 2) on the Debian layer result.
func BenchmarkResultEncoding(b *testing.B) {
	blob := corpusLayer(b, "debian-bookworm-minbase-pkgdb.tar.gz")
	r, err := readLayer(context.Background(), bytes.NewReader(blob), "sha256:x", &Options{Extractors: osExtractors()})
	if err != nil {
		b.Fatal(err)
	}
	type gobbed struct {
		Files     map[string]*fileResult
		Whiteouts []string
		Opaque    []string
	}
	enc, _ := encodeResult(r)
	var gb bytes.Buffer
	if err := gob.NewEncoder(&gb).Encode(&gobbed{r.Files, r.Whiteouts, r.Opaque}); err != nil {
		b.Fatal(err)
	}
	b.Run("binary-decode", func(b *testing.B) {
		b.ReportMetric(float64(len(enc)), "bytes")
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeResult(enc, false, nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gob-decode", func(b *testing.B) {
		b.ReportMetric(float64(gb.Len()), "bytes")
		b.ReportAllocs()
		for b.Loop() {
			var back gobbed
			if err := gob.NewDecoder(bytes.NewReader(gb.Bytes())).Decode(&back); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("binary-encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeResult(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gob-encode", func(b *testing.B) {
		for b.Loop() {
			var buf bytes.Buffer
			if err := gob.NewEncoder(&buf).Encode(&gobbed{r.Files, r.Whiteouts, r.Opaque}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
