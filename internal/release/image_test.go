package release

import (
	"archive/tar"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/wardensec/warden/pkg/lint"
)

const testCACerts = "/etc/ssl/certs/ca-certificates.crt" // Debian's ca-certificates

func testImageOptions(t *testing.T) ImageOptions {
	t.Helper()
	if _, err := os.Stat(testCACerts); err != nil {
		t.Fatalf("the image needs a CA bundle (Debian package ca-certificates): %v", err)
	}
	bin := filepath.Join(t.TempDir(), "warden")
	if err := os.WriteFile(bin, []byte("\x7fELF not really a binary"), 0o755); err != nil {
		t.Fatal(err)
	}
	return ImageOptions{Binary: bin, CACerts: testCACerts, Version: "v1.2.3", Revision: "abc",
		Created: time.Date(2026, 11, 26, 19, 49, 14, 0, time.UTC)}
}

// files returns the image's files by path with their headers and content.
func files(t *testing.T, opt ImageOptions) (map[string]*tar.Header, map[string]string) {
	t.Helper()
	img, err := Image(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs, data := map[string]*tar.Header{}, map[string]string{}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(tr)
			hs[h.Name], data[h.Name] = h, string(b)
		}
		rc.Close()
	}
	return hs, data
}

// TestImage: the image is valid OCI, runs the binary as user 65532 with the
// CA certificates and a writable state directory, every time is the commit's,
// and warden lint finds nothing in it.
func TestImage(t *testing.T) {
	opt := testImageOptions(t)
	img, err := Image(opt)
	if err != nil {
		t.Fatal(err)
	}
	// Validated as written: mutate's in-memory manifest has empty annotation
	// maps where the serialized one has none.
	p, err := layout.Write(t.TempDir(), empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	written, err := p.Image(d)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(written); err != nil {
		t.Fatalf("validate.Image: %v", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" || len(c.Entrypoint) != 1 || c.Entrypoint[0] != BinaryPath || c.WorkingDir != Home ||
		cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Time.Equal(opt.Created) {
		t.Errorf("config: %+v", cf)
	}
	if c.Labels["org.opencontainers.image.version"] != "v1.2.3" || c.Labels["org.opencontainers.image.revision"] != "abc" {
		t.Errorf("labels %v", c.Labels)
	}
	hs, data := files(t, opt)
	if !strings.Contains(data["etc/passwd"], "nonroot:x:65532:65532:") || !strings.Contains(data["etc/group"], "nonroot:x:65532:") {
		t.Errorf("passwd %q group %q", data["etc/passwd"], data["etc/group"])
	}
	ca, _ := os.ReadFile(testCACerts)
	if data[CACertPath[1:]] != string(ca) {
		t.Error("the CA bundle differs from the one given")
	}
	if h := hs[BinaryPath[1:]]; h == nil || h.Mode != 0o755 || h.Uid != 0 {
		t.Errorf("binary: %+v", h)
	}
	if h := hs[CacheDir[1:]+"/"]; h == nil || h.Uid != UID {
		t.Errorf("state directory not the user's: %+v", h)
	}
	for n, h := range hs {
		if !h.ModTime.Equal(opt.Created) {
			t.Errorf("%s: time %v, want the commit's %v", n, h.ModTime, opt.Created)
		}
		if h.Mode&0o6000 != 0 {
			t.Errorf("%s: setuid/setgid", n)
		}
	}
	rep, err := lint.Lint(context.Background(), img, lint.Options{Reference: "warden:v1.2.3", Packages: -1})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) != 0 {
		t.Errorf("warden lint: %+v", rep.Findings)
	}
}

// TestImageReproducible: the same inputs give the same digest; another
// commit time gives another.
func TestImageReproducible(t *testing.T) {
	opt := testImageOptions(t)
	digest := func(o ImageOptions) string {
		img, err := Image(o)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	a, b := digest(opt), digest(opt)
	if a != b {
		t.Errorf("two builds: %s and %s", a, b)
	}
	opt.Created = opt.Created.Add(time.Second)
	if c := digest(opt); c == a {
		t.Errorf("another commit time gave the same digest %s", c)
	}
}

func TestImageErrors(t *testing.T) {
	opt := testImageOptions(t)
	for _, tc := range []struct {
		name string
		mod  func(*ImageOptions)
		want string
	}{
		{"no time", func(o *ImageOptions) { o.Created = time.Time{} }, "creation time"},
		{"no binary", func(o *ImageOptions) { o.Binary = "/nonexistent/warden" }, "/nonexistent/warden"},
		{"not PEM", func(o *ImageOptions) { o.CACerts = o.Binary }, "no PEM certificate"},
	} {
		o := opt
		tc.mod(&o)
		if _, err := Image(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
