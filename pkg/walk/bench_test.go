package walk

import (
	"bytes"
	"context"
	"encoding/json"
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

// BenchmarkResultEncoding compares gob (what the cache uses: it keeps every
// field, including the json:"-" Go symbols) with JSON on the Debian layer result.
func BenchmarkResultEncoding(b *testing.B) {
	blob := corpusLayer(b, "debian-bookworm-minbase-pkgdb.tar.gz")
	r, err := readLayer(context.Background(), bytes.NewReader(blob), "sha256:x", &Options{Extractors: osExtractors()})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("gob-decode", func(b *testing.B) {
		enc, _ := encodeResult(r)
		for b.Loop() {
			if _, err := decodeResult(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json-decode", func(b *testing.B) {
		enc, _ := json.Marshal(r)
		for b.Loop() {
			var back layerResult
			if err := json.Unmarshal(enc, &back); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("gob", func(b *testing.B) {
		var n int
		for b.Loop() {
			enc, err := encodeResult(r)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := decodeResult(enc); err != nil {
				b.Fatal(err)
			}
			n = len(enc)
		}
		b.ReportMetric(float64(n), "bytes")
	})
	b.Run("json", func(b *testing.B) {
		var n int
		for b.Loop() {
			enc, err := json.Marshal(r)
			if err != nil {
				b.Fatal(err)
			}
			var back layerResult
			if err := json.Unmarshal(enc, &back); err != nil {
				b.Fatal(err)
			}
			n = len(enc)
		}
		b.ReportMetric(float64(n), "bytes")
	})
}
