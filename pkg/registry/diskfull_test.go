package registry_test

import (
	"crypto/rand"
	"os"
	"os/exec"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/wardensec/warden/pkg/registry"
)

// TestDiskFull: on a 4 MiB tmpfs, a blob that does not fit fails with an
// error, nothing partial becomes visible, what was stored stays intact, and
// pushes that fit still work afterwards. Mounting needs root (CI runs as root).
func TestDiskFull(t *testing.T) {
	root := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", root).CombinedOutput(); err != nil {
		if os.Geteuid() == 0 {
			t.Fatalf("mount tmpfs: %v: %s", err, out)
		}
		t.Skipf("needs root to mount a small tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", root).Run() })
	r := newTestReg(t, registry.Options{Root: root})
	small, _ := random.Image(100000, 2)
	if err := remote.Write(r.ref(t, "full/app:small"), small); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 6<<20)
	_, _ = rand.Read(big)
	d := digestOf(big)
	resp := do(t, "POST", r.srv.URL+"/v2/full/app/blobs/uploads/?digest="+d, big)
	if resp.StatusCode < 500 {
		t.Fatalf("a blob larger than the disk: status %d (%s)", resp.StatusCode, errCode(t, resp))
	}
	t.Logf("disk full answered %d: %s", resp.StatusCode, errCode(t, resp))
	if resp := do(t, "HEAD", r.srv.URL+"/v2/full/app/blobs/"+d, nil); resp.StatusCode != 404 {
		t.Errorf("partial blob visible: %d", resp.StatusCode)
	}
	// Chunked: the failing PATCH leaves the session as it was.
	resp = do(t, "POST", r.srv.URL+"/v2/full/app/blobs/uploads/", nil)
	loc := resp.Header.Get("Location")
	if resp := do(t, "PATCH", r.srv.URL+loc, big); resp.StatusCode < 500 {
		t.Errorf("PATCH larger than the disk: %d", resp.StatusCode)
	}
	if resp := do(t, "GET", r.srv.URL+loc, nil); resp.StatusCode != 204 || resp.Header.Get("Range") != "0-0" {
		t.Errorf("session after failed PATCH: %d Range %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	do(t, "DELETE", r.srv.URL+loc, nil)
	// Space is back: another small image pushes, the first still validates.
	other, _ := random.Image(100000, 1)
	if err := remote.Write(r.ref(t, "full/app:other"), other); err != nil {
		t.Fatalf("push after disk full: %v", err)
	}
	got, err := remote.Image(r.ref(t, "full/app:small"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("stored image damaged: %v", err)
	}
}
