package testimage

import (
	"archive/tar"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/wardensec/warden/internal/testutil"
)

// Source is one place an image was written to, as a pkg/source reference.
type Source struct {
	Kind string // "docker-archive", "oci-layout", "oci-archive", "registry", "docker", "dir"
	Ref  string // e.g. "oci-archive:/tmp/x/image.tar"
}

// AllSources writes img everywhere Warden reads images from and returns the
// references: a docker-archive, an OCI layout, an OCI archive, an in-process
// registry on 127.0.0.1, the Docker Engine (`docker load`; included when an
// engine answers, and always in CI, where a missing engine fails the test) and
// an unpacked root filesystem (dir:, the flattened image). Everything is removed
// when the test ends.
func AllSources(t testing.TB, img v1.Image) []Source {
	t.Helper()
	tmp := t.TempDir()
	da := filepath.Join(tmp, "image-docker.tar")
	WriteDockerArchive(t, img, "warden.test/all-sources:1", da)
	lay := filepath.Join(tmp, "layout")
	WriteOCILayout(t, img, lay, "1")
	oa := filepath.Join(tmp, "image-oci.tar")
	WriteOCIArchive(t, img, oa, "1")
	host := NewRegistry(t)
	PushToRegistry(t, img, host+"/all-sources:1")
	root := filepath.Join(tmp, "rootfs")
	Unpack(t, img, root)
	out := []Source{
		{"docker-archive", "docker-archive:" + da},
		{"oci-layout", "oci-layout:" + lay + ":1"},
		{"oci-archive", "oci-archive:" + oa},
		{"registry", "registry:" + host + "/all-sources:1"},
		{"dir", "dir:" + root},
	}
	if testutil.InCI() || exec.Command("docker", "info").Run() == nil {
		b := make([]byte, 6)
		rand.Read(b)
		tag := "warden-test/all-sources:" + hex.EncodeToString(b)
		DockerLoad(t, img, tag)
		out = append(out, Source{"docker", "docker:" + tag})
	} else {
		t.Log("testimage: no Docker Engine answers; the docker source is left out")
	}
	return out
}

// Unpack writes the flattened file system of img (whiteouts applied) into
// dir: directories, regular files, symlinks and hard links. It is for test
// images only, and refuses entries that would land outside dir.
func Unpack(t testing.TB, img v1.Image, dir string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	inside := func(n string) (string, bool) {
		n = path.Clean("/" + strings.TrimPrefix(n, "./"))
		return filepath.Join(dir, filepath.FromSlash(n)), n != "/"
	}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("testimage: unpacking: %v", err)
		}
		p, ok := inside(h.Name)
		if !ok {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, os.FileMode(h.Mode).Perm()|0o700)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeLink:
			target, _ := inside(h.Linkname)
			err = os.Link(target, p)
		case tar.TypeReg:
			var f *os.File
			if f, err = os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode).Perm()); err == nil {
				_, err = io.Copy(f, tr)
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
		}
		if err != nil {
			t.Fatalf("testimage: unpacking %s: %v", h.Name, err)
		}
	}
}
