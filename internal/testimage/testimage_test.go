package testimage

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func names(t *testing.T, l v1.Layer) []string {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

func TestWhiteoutNames(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Whiteout("etc/passwd").Path, "etc/.wh.passwd"},
		{Whiteout("top").Path, ".wh.top"},
		{Opaque("var/lib/dpkg").Path, "var/lib/dpkg/.wh..wh..opq"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestImageIsValidAndDeterministic(t *testing.T) {
	files := []File{Dir("etc/"), Reg("etc/os-release", "ID=test\n"), Symlink("bin/sh", "/bin/busybox"),
		Hardlink("etc/hosts", "etc/os-release"), Whiteout("etc/shadow"), Opaque("var")}
	img := Image(t, nil, Layer(t, files...), Layer(t, Reg("a", "b")))
	if err := validate.Image(img); err != nil {
		t.Fatal(err)
	}
	img2 := Image(t, nil, Layer(t, files...), Layer(t, Reg("a", "b")))
	d1, _ := img.Digest()
	d2, _ := img2.Digest()
	if d1 != d2 {
		t.Errorf("same files, different digests %s %s", d1, d2)
	}
	ls, _ := img.Layers()
	got := names(t, ls[0])
	want := []string{"etc/", "etc/os-release", "bin/sh", "etc/hosts", "etc/.wh.shadow", "var/.wh..wh..opq"}
	if len(got) != len(want) {
		t.Fatalf("entries %q, want %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("entry %d %q, want %q", i, got[i], want[i])
		}
	}
}

func TestWriters(t *testing.T) {
	img := Image(t, nil, Layer(t, Reg("hello", "world")))
	want, _ := img.Digest()
	dir := t.TempDir()

	p := filepath.Join(dir, "d.tar")
	WriteDockerArchive(t, img, "example.com/a:1", p)
	tag, _ := name.NewTag("example.com/a:1")
	if got, err := tarball.ImageFromPath(p, &tag); err != nil {
		t.Fatal(err)
	} else if err := validate.Image(got); err != nil {
		t.Fatal(err)
	}

	lay := filepath.Join(dir, "layout")
	WriteOCILayout(t, img, lay, "1.0")
	lp, err := layout.FromPath(lay)
	if err != nil {
		t.Fatal(err)
	}
	ii, _ := lp.ImageIndex()
	im, _ := ii.IndexManifest()
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != want || im.Manifests[0].Annotations[RefNameAnnotation] != "1.0" {
		t.Fatalf("index.json: %+v", im.Manifests)
	}

	oa := filepath.Join(dir, "o.tar")
	WriteOCIArchive(t, img, oa)
	if fi, err := os.Stat(oa); err != nil || fi.Size() == 0 {
		t.Fatalf("oci archive: %v", err)
	}

	host := NewRegistry(t)
	PushToRegistry(t, img, host+"/x/y:1")
	ref, _ := name.ParseReference(host+"/x/y:1", name.Insecure)
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != want {
		t.Errorf("registry digest %s, want %s", d, want)
	}

	idx := Index(t, img, Image(t, Platform("linux", "arm64", "v8"), Layer(t, Reg("x", "y"))))
	PushIndexToRegistry(t, idx, host+"/x/multi:1")
}

func TestBombAndRaw(t *testing.T) {
	const size = 64 << 20
	blob := TarGz(t, Zeros("bomb", size))
	if len(blob) > size/500 {
		t.Errorf("64 MiB of zeros compressed to %d bytes", len(blob))
	}
	l := LayerFromBytes(t, blob)
	rc, _ := l.Uncompressed()
	n, err := io.Copy(io.Discard, rc)
	if err != nil || n < size {
		t.Errorf("uncompressed %d bytes, %v", n, err)
	}

	trunc := RawLayer(Truncate(blob, len(blob)/2))
	img := Image(t, nil, trunc)
	ls, _ := img.Layers()
	rc, err = ls[0].Uncompressed()
	if err == nil {
		_, err = io.Copy(io.Discard, rc)
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated gzip read: %v, want unexpected EOF", err)
	}
}

func TestHeaderSize(t *testing.T) {
	b := TarBytes(t, File{Path: "short", Content: []byte("abc"), HeaderSize: 4096}, Reg("next", "x"))
	tr := tar.NewReader(bytes.NewReader(b))
	if _, err := tr.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, tr); err == nil {
		t.Error("reading an entry declaring more bytes than present: no error")
	}
}

func TestSparse(t *testing.T) {
	const size = 1 << 40 // 1 TiB
	b := TarBytes(t, Reg("before", "x"), SparseZeros("var/bomb", size), Reg("after", "y"))
	if len(b) > 8<<10 {
		t.Errorf("tar of a sparse TiB is %d bytes", len(b))
	}
	tr := tar.NewReader(bytes.NewReader(b))
	var got []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Name)
		if h.Name == "var/bomb" {
			if h.Size != size {
				t.Errorf("sparse size %d, want %d", h.Size, size)
			}
			n, err := io.CopyN(io.Discard, tr, 1<<20)
			if err != nil || n != 1<<20 {
				t.Errorf("reading the sparse file: %d, %v", n, err)
			}
		}
	}
	if strings.Join(got, " ") != "before var/bomb after" {
		t.Errorf("entries %q", got)
	}
}
