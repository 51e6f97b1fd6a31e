package walk

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wardensec/warden/internal/testimage"
)

var errStreamMismatch = errors.New("stream: content does not match its digest")

// selfChecking is a stream that checks its own digest (as pkg/source's do):
// the walk trusts it instead of hashing again, and its failure comes through.
type selfChecking struct {
	r      io.Reader
	digest v1.Hash
	fail   bool // fail at EOF as a mismatch
}

func (s *selfChecking) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF && s.fail {
		return n, errStreamMismatch
	}
	return n, err
}
func (s *selfChecking) Close() error            { return nil }
func (s *selfChecking) VerifiedDigest() v1.Hash { return s.digest }

type selfCheckingLayer struct {
	v1.Layer
	blob     []byte
	fail     bool
	trailing int
	opened   *selfChecking
}

func (l *selfCheckingLayer) Compressed() (io.ReadCloser, error) {
	d, err := l.Layer.Digest()
	if err != nil {
		return nil, err
	}
	r := io.MultiReader(bytes.NewReader(l.blob), bytes.NewReader(make([]byte, l.trailing)))
	l.opened = &selfChecking{r: r, digest: d, fail: l.fail}
	return l.opened, nil
}

func TestVerifiedStream(t *testing.T) {
	good := testimage.Layer(t, testimage.Reg("lib/apk/db/installed", "P:a\nV:1\n\n"))
	blob, err := good.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(blob)
	other := testimage.TarGz(t, testimage.Reg("lib/apk/db/installed", "P:b\nV:2\n\n"))

	// Trusted: the walk does not hash (the bytes are another layer's, yet the
	// stream says they are fine), and the stream's own failure comes through.
	inv, err := Inventory(context.Background(), testimage.Image(t, nil, &selfCheckingLayer{Layer: good, blob: other}), Options{Extractors: osExtractors()})
	if err != nil || len(inv.Packages) != 1 || inv.Packages[0].Name != "b" {
		t.Fatalf("trusted stream: %v, %+v", err, inv)
	}
	_, err = Inventory(context.Background(), testimage.Image(t, nil, &selfCheckingLayer{Layer: good, blob: b, fail: true}), Options{Extractors: osExtractors(), ImageName: "img"})
	if !errors.Is(err, errStreamMismatch) || !strings.Contains(err.Error(), "img") {
		t.Fatalf("failing stream: %v", err)
	}
	// Data after the blob is refused (the gzip reader sees it as a bad next member).
	_, err = Inventory(context.Background(), testimage.Image(t, nil, &selfCheckingLayer{Layer: good, blob: b, trailing: 2 << 20}), Options{Extractors: osExtractors()})
	if err == nil {
		t.Fatal("trailing data accepted")
	}
}
