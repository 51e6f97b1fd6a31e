package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/source"
)

// TestScanAttest: `scan --attest --key` signs the scan report and the SBOM onto the
// scanned registry image; verify-attestation finds both with the public key.
func TestScanAttest(t *testing.T) {
	state, _ := scanState(t, "alpine-secdb/v3.19")
	t.Setenv("WARDEN_PASSWORD", "pw")
	k := filepath.Join(t.TempDir(), "k")
	wantRun(t, 0, "", "keygen", "--output-key-prefix", k)

	img, err := source.Open(context.Background(), "oci-layout:"+filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4"), source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	ref := sigRegistry(t, true) + "/alpine:3.19.4"
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img.Image); err != nil {
		t.Fatal(err)
	}

	out, errs, code := runWardenCmd(t, "--cache-dir", state, "scan", "--format", "json", "--attest", "--key", k+".key", "registry:"+ref)
	if code != 0 {
		t.Fatalf("scan --attest: exit %d\n%s\n%s", code, out, errs)
	}
	vout, _ := wantRun(t, 0, "CVE-2024-9143", "verify-attestation", "--key", k+".pub", "--type", "vuln", ref)
	if !strings.Contains(vout, "libssl3") {
		t.Errorf("the vuln attestation does not hold the report:\n%s", vout)
	}
	wantRun(t, 0, "libcrypto3", "verify-attestation", "--key", k+".pub", "--type", "cyclonedx", ref)

	// Misuse is refused before anything is signed.
	if _, errs, code := runWardenCmd(t, "--cache-dir", state, "scan", "--attest", "registry:"+ref); code != exitError || !strings.Contains(errs, "--key") {
		t.Errorf("--attest without --key: exit %d, %s", code, errs)
	}
	layout := "oci-layout:" + filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4")
	if _, errs, code := runWardenCmd(t, "--cache-dir", state, "scan", "--attest", "--key", k+".key", layout); code != exitError || !strings.Contains(errs, "registry") {
		t.Errorf("--attest on a layout: exit %d, %s", code, errs)
	}
}
