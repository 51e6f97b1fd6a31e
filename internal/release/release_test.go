package release

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/internal/testutil"
)

// cloneHEAD clones the repository's HEAD into dir (a fresh clone, as a user
// or CI has it).
func cloneHEAD(t *testing.T, root, dir string) {
	t.Helper()
	out, err := exec.Command("git", "clone", "-q", root, dir).CombinedOutput()
	if err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
}

func runRelease(t *testing.T, clone, dist string, args ...string) {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"scripts/release.sh"}, args...)...)
	cmd.Dir = clone
	cmd.Env = append(os.Environ(), "DIST="+dist, "WARDEN_RELEASE_KEY=", "VERSION=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("release.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestRelease runs scripts/release.sh in a fresh clone and checks what it
// wrote: a static linux-amd64 binary with ISA-L built in; checksums and a
// signature of every file; Warden's image as an OCI layout with its signature
// and SBOM attestation, which `warden verify` accepts once pushed; the
// docker load archive, which runs a scan as user 65532 on a read-only root
// filesystem. Then a second clone at another path builds byte-identical
// binaries.
func TestRelease(t *testing.T) {
	root := testutil.RepoRoot(t)
	testutil.RequireTool(t, "git")
	testutil.RequireTool(t, "file")
	dir := t.TempDir()
	clone, dist := filepath.Join(dir, "a"), filepath.Join(dir, "dist")
	cloneHEAD(t, root, clone)
	runRelease(t, clone, dist)
	bin := filepath.Join(dist, "warden-linux-amd64")
	commit := strings.TrimSpace(run(t, "git", "-C", clone, "rev-parse", "HEAD"))

	if out := run(t, "file", bin); !strings.Contains(out, "statically linked") {
		t.Errorf("file: %s", out)
	}
	if out, _ := exec.Command("ldd", bin).CombinedOutput(); !strings.Contains(string(out), "not a dynamic executable") {
		t.Errorf("ldd: %s", out)
	}
	ver := strings.Split(strings.TrimSpace(run(t, bin, "version")), "\n")
	if len(ver) != 2 || ver[1] != "gzip: ISA-L (in process)" || !strings.Contains(ver[0], "commit "+commit) {
		t.Fatalf("warden version: %q", ver)
	}
	version := strings.Fields(ver[0])[1]

	// SHA256SUMS and the signatures.
	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, line := range strings.Split(strings.TrimSpace(string(sums)), "\n") {
		sum, f, _ := strings.Cut(line, "  ")
		b, err := os.ReadFile(filepath.Join(dist, f))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			t.Errorf("SHA256SUMS: %s differs", f)
		}
		listed = append(listed, f)
	}
	for _, want := range []string{"warden-linux-amd64", "warden-linux-arm64", "warden-darwin-arm64", "warden-image.tar", "warden.cdx.json", "warden-image.cdx.json"} {
		if !strings.Contains(string(sums), "  "+want+"\n") {
			t.Errorf("SHA256SUMS lacks %s", want)
		}
	}
	pub := filepath.Join(dist, "warden-release.pub")
	for _, f := range append(listed, "SHA256SUMS") {
		run(t, bin, "verify-blob", "--key", pub, "--signature", filepath.Join(dist, f+".sig"), filepath.Join(dist, f))
	}
	sbom, _ := os.ReadFile(filepath.Join(dist, "warden.cdx.json"))
	for _, want := range []string{"github.com/wardensec/warden", "github.com/google/go-containerregistry", "stdlib"} {
		if !bytes.Contains(sbom, []byte(want)) {
			t.Errorf("warden.cdx.json lacks %s", want)
		}
	}
	for _, f := range []string{"warden-linux-arm64", "warden-darwin-arm64"} {
		if out := run(t, "file", filepath.Join(dist, f)); !strings.Contains(out, map[string]string{"warden-linux-arm64": "ARM aarch64", "warden-darwin-arm64": "Mach-O"}[f]) {
			t.Errorf("file %s: %s", f, out)
		}
	}

	// The layout, pushed to a registry, verifies with the release key.
	t.Run("verify", func(t *testing.T) {
		srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(true)))
		defer srv.Close()
		repo, err := name.NewRepository(strings.TrimPrefix(srv.URL, "http://") + "/warden")
		if err != nil {
			t.Fatal(err)
		}
		idx, err := layout.ImageIndexFromPath(filepath.Join(dist, "warden-image"))
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		tags := map[string]bool{}
		for _, d := range im.Manifests {
			img, err := idx.Image(d.Digest)
			if err != nil {
				t.Fatal(err)
			}
			var ref name.Reference = repo.Digest(d.Digest.String())
			if tag := d.Annotations[RefName]; tag != "" {
				ref, tags[tag] = repo.Tag(tag), true
			}
			if err := remote.Write(ref, img, remote.WithContext(context.Background())); err != nil {
				t.Fatal(err)
			}
		}
		if !tags[version] || len(tags) != 3 {
			t.Errorf("layout tags %v: want %s, its .sig and its .att", tags, version)
		}
		ref := repo.Tag(version).String()
		run(t, bin, "verify", "--key", pub, ref)
		run(t, bin, "verify-attestation", "--key", pub, "--type", "cyclonedx", ref)
	})

	t.Run("docker", func(t *testing.T) {
		testutil.RequireDocker(t)
		run(t, "docker", "load", "-i", filepath.Join(dist, "warden-image.tar"))
		image := "warden:" + version
		t.Cleanup(func() { exec.Command("docker", "rmi", "-f", image).Run() })
		// The state directory (the database) is a volume; the image is a mounted file.
		work := t.TempDir()
		state := filepath.Join(work, "state")
		cmd := exec.Command(bin, "db", "import", filepath.Join(root, "testdata", "feeds"))
		cmd.Env = append(os.Environ(), "WARDEN_CACHE_DIR="+state)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("db import: %v\n%s", err, out)
		}
		archive := filepath.Join(work, "alpine.tar")
		idx, err := layout.ImageIndexFromPath(filepath.Join(root, "testdata", "images", "alpine-3.19.4"))
		if err != nil {
			t.Fatal(err)
		}
		im, _ := idx.IndexManifest()
		img, err := idx.Image(im.Manifests[0].Digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteDockerArchive(archive, img, "alpine:3.19.4"); err != nil {
			t.Fatal(err)
		}
		run(t, "chmod", "-R", "a+rwX", work)
		out := run(t, "docker", "run", "--rm", "--read-only", "--user", "65532",
			"-v", state+":"+CacheDir, "-v", archive+":/x.tar:ro", image, "scan", "docker-archive:/x.tar")
		if !strings.Contains(out, "CVE-2024-9143") {
			t.Errorf("scan in the container:\n%s", out)
		}
		if out := run(t, "docker", "run", "--rm", "--read-only", "--user", "65532", image, "version"); !strings.Contains(out, "gzip: ISA-L (in process)") {
			t.Errorf("version in the container: %s", out)
		}
	})

	// Reproducible: another clone at another path, the same binaries.
	t.Run("reproducible", func(t *testing.T) {
		clone2, dist2 := filepath.Join(dir, "elsewhere", "b"), filepath.Join(dir, "dist2")
		cloneHEAD(t, root, clone2)
		runRelease(t, clone2, dist2, "--binaries-only")
		for _, f := range []string{"warden-linux-amd64", "warden-linux-arm64", "warden-darwin-arm64"} {
			a, _ := os.ReadFile(filepath.Join(dist, f))
			b, _ := os.ReadFile(filepath.Join(dist2, f))
			if len(a) == 0 || !bytes.Equal(a, b) {
				ha, hb := sha256.Sum256(a), sha256.Sum256(b)
				t.Errorf("%s: two builds differ: %x and %x", f, ha, hb)
			}
		}
	})
}
