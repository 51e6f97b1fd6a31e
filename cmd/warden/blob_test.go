package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
)

// TestSignBlobCosign: a file signed by warden sign-blob verifies with cosign
// verify-blob and warden verify-blob; one signed by cosign sign-blob verifies
// with warden verify-blob; a changed file or another key fails with exit 11.
func TestSignBlobCosign(t *testing.T) {
	cosign := testutil.RequireTool(t, "cosign")
	dir := t.TempDir()
	t.Setenv("WARDEN_PASSWORD", "pw")
	t.Setenv("COSIGN_PASSWORD", "pw")
	for _, p := range []string{"a", "b"} {
		if out, errOut, code := runWardenCmd(t, "keygen", "--output-key-prefix", filepath.Join(dir, p)); code != exitOK {
			t.Fatalf("keygen %s: exit %d: %s %s", p, code, out, errOut)
		}
	}
	blob := filepath.Join(dir, "warden-linux-amd64")
	writeFile(t, blob, "a release binary\x00\x01")
	sig := filepath.Join(dir, "blob.sig")
	if out, errOut, code := runWardenCmd(t, "sign-blob", "--key", filepath.Join(dir, "a.key"), "--output-signature", sig, blob); code != exitOK {
		t.Fatalf("sign-blob: exit %d: %s %s", code, out, errOut)
	}
	cmd := exec.Command(cosign, "verify-blob", "--key", filepath.Join(dir, "a.pub"), "--signature", sig,
		"--insecure-ignore-tlog=true", blob)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign verify-blob of warden's signature: %v\n%s", err, out)
	}

	cosSig := filepath.Join(dir, "cosign.sig")
	cmd = exec.Command(cosign, "sign-blob", "--key", filepath.Join(dir, "a.key"), "--tlog-upload=false",
		"--use-signing-config=false", "--new-bundle-format=false", "--output-signature", cosSig, "--yes", blob)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cosign sign-blob: %v\n%s", err, out)
	}

	changed := filepath.Join(dir, "changed")
	writeFile(t, changed, "a release binary\x00\x02")
	for _, tc := range []struct {
		name, pub, sig, file string
		want                 int
	}{
		{"warden signature", "a.pub", sig, blob, exitOK},
		{"cosign signature", "a.pub", cosSig, blob, exitOK},
		{"changed file", "a.pub", sig, changed, exitBadSignature},
		{"other key", "b.pub", sig, blob, exitBadSignature},
		{"cosign signature, other key", "b.pub", cosSig, blob, exitBadSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runWardenCmd(t, "verify-blob", "--key", filepath.Join(dir, tc.pub), "--signature", tc.sig, tc.file)
			if code != tc.want {
				t.Fatalf("verify-blob: exit %d, want %d: %s %s", code, tc.want, out, errOut)
			}
			if code == exitOK && !strings.Contains(out, "Verified OK") {
				t.Errorf("stdout %q", out)
			}
			if code != exitOK && !strings.Contains(errOut, tc.file) {
				t.Errorf("error does not name the file: %q", errOut)
			}
		})
	}

	notB64 := filepath.Join(dir, "bad.sig")
	if err := os.WriteFile(notB64, []byte("%%%"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := runWardenCmd(t, "verify-blob", "--key", filepath.Join(dir, "a.pub"), "--signature", notB64, blob); code != exitError || !strings.Contains(errOut, notB64) {
		t.Errorf("non-base64 signature: exit %d, %q", code, errOut)
	}
}
