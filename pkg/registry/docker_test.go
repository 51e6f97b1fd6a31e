package registry_test

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/registry"
)

// dockerImage builds a small runnable-shaped image (one layer with a file).
func dockerImage(t *testing.T, content string) v1.Image {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
	tw.Write([]byte(content))
	tw.Close()
	b := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Cmd = []string{"/hello.txt"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command("docker", args...).CombinedOutput()
	return string(out), err
}

// TestDocker: the real Docker CLI and Engine push an image built here to the
// registry on 127.0.0.1 (which Docker treats as insecure-allowed), pull an
// allowed one back, and fail to pull one the gate denies, showing its reason.
func TestDocker(t *testing.T) {
	testutil.RequireDocker(t)
	r := newTestReg(t, registry.Options{Gate: &fakeGate{}})
	var rnd [6]byte
	rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	img := dockerImage(t, "hello from warden "+id+"\n")
	dev := r.host + "/dev/wardentest:" + id
	prod := r.host + "/prod/wardentest:" + id
	tag, _ := name.NewTag(dev, name.Insecure)
	archive := filepath.Join(t.TempDir(), "img.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { docker(t, "rmi", "-f", dev, prod) })
	var pushed string
	for _, args := range [][]string{
		{"load", "-i", archive},
		{"tag", dev, prod},
		{"push", dev},
		{"push", prod},
		{"rmi", dev, prod},
		{"pull", dev},
	} {
		out, err := docker(t, args...)
		if err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
		if args[0] == "push" && args[1] == dev {
			// "<tag>: digest: sha256:... size: N"
			if _, after, ok := strings.Cut(out, "digest: "); ok {
				pushed, _, _ = strings.Cut(after, " ")
			}
		}
	}
	// Docker rewrites the manifest in its own media types; the pull gets what the push stored.
	if pushed == "" {
		t.Fatal("docker push printed no digest")
	}
	if resp := do(t, "HEAD", r.srv.URL+"/v2/dev/wardentest/manifests/"+pushed, nil); resp.StatusCode != 200 {
		t.Errorf("pushed manifest %s: %d", pushed, resp.StatusCode)
	}
	if out, _ := docker(t, "image", "inspect", "--format", "{{json .RepoDigests}}", dev); !strings.Contains(out, pushed) {
		t.Errorf("pulled image's RepoDigests %s lack %s", out, pushed)
	}
	out, err := docker(t, "pull", prod)
	if err == nil {
		t.Fatalf("docker pull of a denied image succeeded:\n%s", out)
	}
	for _, w := range []string{"warden policy denied", "CVE-2024-9143", "no valid signature"} {
		if !strings.Contains(out, w) {
			t.Errorf("docker pull output lacks %q:\n%s", w, out)
		}
	}
	t.Logf("denied docker pull said: %s", strings.TrimSpace(out))
}
