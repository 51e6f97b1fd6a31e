package testimage

import (
	"archive/tar"
	"io"
	"io/fs"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wardensec/warden/internal/testutil"
)

// RefNameAnnotation is the OCI annotation naming an image in an OCI layout.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// WriteDockerArchive writes img as a `docker save` tarball (manifest.json,
// config, layer blobs) tagged tag (e.g. "example.com/app:1.0") to path.
func WriteDockerArchive(t testing.TB, img v1.Image, tag, path string) {
	t.Helper()
	ref, err := name.NewTag(tag)
	if err != nil {
		t.Fatalf("testimage: tag %q: %v", tag, err)
	}
	if err := tarball.WriteToFile(path, ref, img); err != nil {
		t.Fatalf("testimage: writing docker archive %s: %v", path, err)
	}
}

// WriteOCILayout writes img into the OCI image layout dir (created if needed;
// appended to when it exists). Each tag adds a ref.name annotation on the
// index.json entry; with no tag the entry has none.
func WriteOCILayout(t testing.TB, img v1.Image, dir string, tags ...string) {
	t.Helper()
	p := layoutPath(t, dir)
	if err := p.AppendImage(img, layout.WithAnnotations(refNames(tags))); err != nil {
		t.Fatalf("testimage: writing OCI layout %s: %v", dir, err)
	}
}

// WriteOCILayoutIndex writes a (multi-platform) index into the OCI layout dir
// as one index.json entry pointing at the nested index, as crane and skopeo do.
func WriteOCILayoutIndex(t testing.TB, idx v1.ImageIndex, dir string, tags ...string) {
	t.Helper()
	p := layoutPath(t, dir)
	if err := p.AppendIndex(idx, layout.WithAnnotations(refNames(tags))); err != nil {
		t.Fatalf("testimage: writing OCI layout %s: %v", dir, err)
	}
}

func refNames(tags []string) map[string]string {
	if len(tags) == 0 {
		return nil
	}
	return map[string]string{RefNameAnnotation: strings.Join(tags, ",")}
}

func layoutPath(t testing.TB, dir string) layout.Path {
	t.Helper()
	if p, err := layout.FromPath(dir); err == nil {
		return p
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatalf("testimage: creating OCI layout %s: %v", dir, err)
	}
	return p
}

// WriteOCIArchive writes img as an OCI archive: a tar of an OCI layout
// (oci-layout, index.json, blobs/), as `skopeo copy oci-archive:` and
// `docker buildx --output type=oci` produce.
func WriteOCIArchive(t testing.TB, img v1.Image, path string, tags ...string) {
	t.Helper()
	dir := t.TempDir()
	WriteOCILayout(t, img, dir, tags...)
	TarDir(t, dir, path)
}

// WriteOCIArchiveIndex is WriteOCIArchive for an image index.
func WriteOCIArchiveIndex(t testing.TB, idx v1.ImageIndex, path string, tags ...string) {
	t.Helper()
	dir := t.TempDir()
	WriteOCILayoutIndex(t, idx, dir, tags...)
	TarDir(t, dir, path)
}

// TarDir writes the regular files and directories under dir into an
// uncompressed tar at path, with paths relative to dir.
func TarDir(t testing.TB, dir, path string) {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatalf("testimage: %v", err)
	}
	defer out.Close()
	tw := tar.NewWriter(out)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel + "/", Mode: 0o755, ModTime: ModTime})
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: 0o644, Size: fi.Size(), ModTime: ModTime}); err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = out.Close()
	}
	if err != nil {
		t.Fatalf("testimage: writing tar %s of %s: %v", path, dir, err)
	}
}

// NewRegistry starts an in-process OCI registry (go-containerregistry's
// pkg/registry) on 127.0.0.1 and returns its host:port; it stops at the end of
// the test. Pass registry.WithReferrersSupport(true) for the OCI 1.1 referrers API.
func NewRegistry(t testing.TB, opts ...registry.Option) string {
	t.Helper()
	quiet := []registry.Option{registry.Logger(log.New(io.Discard, "", 0))}
	srv := httptest.NewServer(registry.New(append(quiet, opts...)...))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// PushToRegistry pushes img to ref ("127.0.0.1:port/repo:tag"), over plain HTTP.
func PushToRegistry(t testing.TB, img v1.Image, ref string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatalf("testimage: reference %q: %v", ref, err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("testimage: pushing %s: %v", ref, err)
	}
}

// PushIndexToRegistry pushes an image index (and all its images) to ref.
func PushIndexToRegistry(t testing.TB, idx v1.ImageIndex, ref string) {
	t.Helper()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatalf("testimage: reference %q: %v", ref, err)
	}
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatalf("testimage: pushing %s: %v", ref, err)
	}
}

// DockerLoad loads img into the local Docker Engine as tag (`docker load` of a
// docker-archive) and removes it (`docker rmi`) when the test ends. It needs a
// running engine (testutil.RequireDocker: fails in CI, skips elsewhere).
func DockerLoad(t testing.TB, img v1.Image, tag string) {
	t.Helper()
	testutil.RequireDocker(t)
	p := filepath.Join(t.TempDir(), "image.tar")
	WriteDockerArchive(t, img, tag, p)
	if out, err := exec.Command("docker", "load", "-i", p).CombinedOutput(); err != nil {
		t.Fatalf("testimage: docker load %s: %v\n%s", tag, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "rmi", "--force", tag).CombinedOutput(); err != nil {
			t.Logf("testimage: docker rmi %s: %v\n%s", tag, err, out)
		}
	})
}
