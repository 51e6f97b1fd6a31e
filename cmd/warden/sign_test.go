package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// sigRun runs the warden CLI in-process and returns stdout, stderr (including the error line
// main would print) and the exit status main would use.
func sigRun(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd()
	cmd.SetArgs(args)
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	err := cmd.ExecuteContext(context.Background())
	code := exitOK
	if err != nil {
		code = exitError
		var ee *exitErr
		if errors.As(err, &ee) {
			code = ee.code
		}
		errb.WriteString("warden: " + err.Error() + "\n")
	}
	return out.String(), errb.String(), code
}

func sigRegistry(t *testing.T, referrers bool) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(registry.WithReferrersSupport(referrers), registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Host
}

func sigPushRandom(t *testing.T, ref string) {
	t.Helper()
	img, err := random.Image(128, 1)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
}

func wantRun(t *testing.T, wantCode int, wantIn string, args ...string) (string, string) {
	t.Helper()
	out, errs, code := sigRun(t, args...)
	if code != wantCode || !strings.Contains(out+errs, wantIn) {
		t.Fatalf("warden %s: exit %d, want %d and output containing %q\nstdout:\n%s\nstderr:\n%s",
			strings.Join(args, " "), code, wantCode, wantIn, out, errs)
	}
	return out, errs
}

func TestSigningCLI(t *testing.T) {
	t.Setenv("WARDEN_PASSWORD", "s3cret")
	dir := t.TempDir()
	k1, k2 := filepath.Join(dir, "k1"), filepath.Join(dir, "k2")
	wantRun(t, 0, "Private key written to "+k1+".key", "keygen", "--output-key-prefix", k1)
	wantRun(t, 0, "", "keygen", "--output-key-prefix", k2)
	fi, err := os.Stat(k1 + ".key")
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("private key mode %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	wantRun(t, exitError, "already exists", "keygen", "--output-key-prefix", k1)

	for _, referrers := range []bool{true, false} {
		host := sigRegistry(t, referrers)
		img := host + "/app:v1"
		sigPushRandom(t, img)

		_, errs := wantRun(t, exitUnsigned, "no signature found for "+img+": the image is not signed", "verify", "--key", k1+".pub", img)
		_ = errs
		_, errs = wantRun(t, 0, "Signed "+host+"/app@sha256:", "sign", "--key", k1+".key", "-a", "env=prod", img)
		if !strings.Contains(errs, "WARNING: "+img+" is a tag") {
			t.Errorf("no tag warning:\n%s", errs)
		}
		out, _ := wantRun(t, 0, "Verified "+host+"/app@sha256:", "verify", "--key", k1+".pub", "-a", "env=prod", img)
		if !strings.Contains(out, "signed by "+k1+".pub (legacy)") || !strings.Contains(out, "signed by "+k1+".pub (bundle)") {
			t.Errorf("verify does not name the signer in both formats:\n%s", out)
		}
		_, errs = wantRun(t, exitBadSignature, "no valid signature for the given keys", "verify", "--key", k2+".pub", img)
		if !strings.Contains(errs, "invalid (legacy)") || !strings.Contains(errs, "does not verify") {
			t.Errorf("invalid signatures not reported:\n%s", errs)
		}
		wantRun(t, exitBadSignature, `annotation \"env\" is \"prod\", want \"dev\"`, "verify", "--key", k1+".pub", "-a", "env=dev", "--output", "json", img)
		wantRun(t, exitBadSignature, "2 required", "verify", "--key", k1+".pub", "--key", k2+".pub", "--threshold", "2", img)
		wantRun(t, 0, "Signed", "sign", "--key", k2+".key", "--store", "bundle", img)
		wantRun(t, 0, "Verified", "verify", "--key", k1+".pub", "--key", k2+".pub", "--threshold", "2", img)

		// Attestations.
		bom := filepath.Join(dir, "bom.json")
		if err := os.WriteFile(bom, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[{"name":"zlib"}]}`), 0o644); err != nil {
			t.Fatal(err)
		}
		wantRun(t, exitUnsigned, "no attestation found for "+img, "verify-attestation", "--key", k1+".pub", img)
		wantRun(t, 0, "Attested", "attest", "--key", k1+".key", "--type", "cyclonedx", "--predicate", bom, img)
		out, _ = wantRun(t, 0, `"bomFormat":"CycloneDX"`, "verify-attestation", "--key", k1+".pub", "--type", "cyclonedx", img)
		if strings.Count(out, "zlib") != 2 {
			t.Errorf("want the predicate printed for the .att and the bundle:\n%s", out)
		}
		wantRun(t, exitBadSignature, "skipped for their predicate type", "verify-attestation", "--key", k1+".pub", "--type", "spdx", img)
	}
}

func TestSigningCLIKeyFailures(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("WARDEN_PASSWORD", "right")
	k := filepath.Join(dir, "k")
	wantRun(t, 0, "", "keygen", "--output-key-prefix", k)
	img := sigRegistry(t, true) + "/app:v1"
	sigPushRandom(t, img)

	t.Setenv("WARDEN_PASSWORD", "wrong")
	wantRun(t, exitError, "wrong password", "sign", "--key", k+".key", img)
	// COSIGN_PASSWORD is read when WARDEN_PASSWORD is not set.
	os.Unsetenv("WARDEN_PASSWORD")
	t.Setenv("COSIGN_PASSWORD", "right")
	wantRun(t, 0, "Signed", "sign", "--key", k+".key", "--store", "legacy", img)

	data, _ := os.ReadFile(k + ".key")
	trunc := filepath.Join(dir, "trunc.key")
	if err := os.WriteFile(trunc, data[:len(data)/3], 0o600); err != nil {
		t.Fatal(err)
	}
	wantRun(t, exitError, "private key "+trunc+": no PEM block found (truncated", "sign", "--key", trunc, img)
	pub, _ := os.ReadFile(k + ".pub")
	if err := os.WriteFile(filepath.Join(dir, "trunc.pub"), pub[:40], 0o644); err != nil {
		t.Fatal(err)
	}
	wantRun(t, exitError, "trunc.pub: no PEM block found", "verify", "--key", filepath.Join(dir, "trunc.pub"), img)
	wantRun(t, exitError, "--key is required", "verify", img)
	wantRun(t, exitError, "resolving 127.0.0.1:1/app:v1", "verify", "--key", k+".pub", "127.0.0.1:1/app:v1") // unreachable
	wantRun(t, exitError, "unknown format", "sign", "--key", k+".key", "--format", "x", img)
	wantRun(t, exitError, "reading public key", "verify", "--key", filepath.Join(dir, "missing.pub"), img)

	// Import a plain PEM private key; its signatures verify with the written public key.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalECPrivateKey(ec)
	plain := filepath.Join(dir, "plain.pem")
	if err := os.WriteFile(plain, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	imp := filepath.Join(dir, "imported")
	wantRun(t, 0, "", "keygen", "--import", plain, "--output-key-prefix", imp)
	wantRun(t, 0, "Signed", "sign", "--key", imp+".key", img)
	wantRun(t, 0, "signed by "+imp+".pub", "verify", "--key", imp+".pub", img)
}

// The helper scan --attest uses attaches both attestations.
func TestSigAttestScan(t *testing.T) {
	t.Setenv("WARDEN_PASSWORD", "pw")
	dir := t.TempDir()
	k := filepath.Join(dir, "k")
	wantRun(t, 0, "", "keygen", "--output-key-prefix", k)
	img := sigRegistry(t, false) + "/app:v1"
	sigPushRandom(t, img)
	cmd := newRootCmd()
	cmd.SetContext(context.Background())
	cmd.SetErr(io.Discard)
	g := &globals{logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	now := time.Now()
	if err := sigAttestScan(cmd, g, k+".key", img, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6"}`),
		map[string]any{"findings": []string{"CVE-2024-0001"}}, now, now, "v0.1.0", "2026-11-26"); err != nil {
		t.Fatal(err)
	}
	out, _ := wantRun(t, 0, "CVE-2024-0001", "verify-attestation", "--key", k+".pub", "--type", "vuln", img)
	if strings.Count(out, "CVE-2024-0001") != 2 {
		t.Errorf("want the vuln predicate in both formats:\n%s", out)
	}
	wantRun(t, 0, `"bomFormat":"CycloneDX"`, "verify-attestation", "--key", k+".pub", "--type", "cyclonedx", img)
}
