package main

import (
	"context"
	"crypto"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/sign"
)

// checkWorld is a registry on 127.0.0.1 holding three images, a vulnerability
// database imported from the corpus's Alpine secdb, a signing key and a policy.
type checkWorld struct {
	host   string
	state  string // --cache-dir with the database
	dir    string // policy directory (keys/)
	policy string
	signer crypto.Signer
}

func withUser(t *testing.T, img v1.Image, user string) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.User = user
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func newCheckWorld(t *testing.T) *checkWorld {
	t.Helper()
	corpus := testutil.Corpus(t)
	w := &checkWorld{host: testimage.NewRegistry(t), state: t.TempDir(), dir: t.TempDir()}

	// The vulnerability database: the real Alpine 3.19 secdb.
	if _, stderr, code := runWardenCmd(t, "db", "import", filepath.Join(corpus, "feeds", "alpine-secdb", "v3.19"), "--cache-dir", w.state); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, stderr)
	}

	// Images: the Alpine 3.19.4 minirootfs (root, CVE-2024-9143 in openssl),
	// a clean non-root app, and a non-root app whose layer 1 adds a private
	// key that layer 2 deletes.
	alpine := testimage.Image(t, nil, testimage.LayerFromTarGz(t, filepath.Join(corpus, "images", "alpine-minirootfs-3.19.4-x86_64.tar.gz")))
	osRelease := testimage.Reg("etc/os-release", "ID=alpine\nVERSION_ID=3.19.4\n")
	clean := withUser(t, testimage.Image(t, nil, testimage.Layer(t, osRelease, testimage.Reg("app/server", "\x7fELF"))), "1000")
	leaky := withUser(t, testimage.Image(t, nil,
		testimage.Layer(t, osRelease, testimage.Reg("app/server", "\x7fELF"), testimage.Reg("root/.ssh/id_ed25519", fakeSSHKey)),
		testimage.Layer(t, testimage.Whiteout("root/.ssh/id_ed25519"))), "1000")
	testimage.PushToRegistry(t, alpine, w.host+"/prod/alpine:3.19.4")
	testimage.PushToRegistry(t, clean, w.host+"/prod/app:1.0")
	testimage.PushToRegistry(t, clean, w.host+"/prod/app:latest")
	testimage.PushToRegistry(t, leaky, w.host+"/prod/leaky:1.0")
	testimage.PushToRegistry(t, alpine, w.host+"/dev/alpine:3.19.4")
	testimage.PushToRegistry(t, alpine, w.host+"/other/alpine:3.19.4")

	// A release key; the clean and leaky images are signed with it, alpine is not.
	priv, pub, err := sign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sign.ParsePrivateKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	w.signer = signer
	if err := os.MkdirAll(filepath.Join(w.dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.dir, "keys", "release.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"/prod/app:1.0", "/prod/leaky:1.0"} {
		ref, err := name.ParseReference(w.host + r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sign.Image(context.Background(), ref, signer, sign.Options{}); err != nil {
			t.Fatalf("signing %s: %v", r, err)
		}
	}
	w.policy = filepath.Join(w.dir, "policy.yaml")
	doc := `version: 1
default: deny
rules:
  - name: prod
    match: ["HOST/prod/**"]
    signatures: {keys: [keys/release.pub], threshold: 1}
    vulnerabilities: {max_severity: HIGH, ignore_unfixed: true}
    image: {forbid_root: true, forbid_latest: true, forbid_secrets: true}
  - name: dev
    match: ["HOST/dev/**"]
    vulnerabilities: {max_severity: CRITICAL, unknown_severity: LOW}
`
	if err := os.WriteFile(w.policy, []byte(strings.ReplaceAll(doc, "HOST", w.host)), 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *checkWorld) mask(s string) string {
	s = strings.ReplaceAll(s, w.host, "$REGISTRY")
	s = strings.ReplaceAll(s, w.dir, "$POLICYDIR")
	return s
}

// TestCheckDecisions: golden decisions over images built in the test —
// signed/unsigned, vulnerable/clean, root/non-root, latest, a secret added in
// layer 1 and deleted in layer 2 — through the real verifier, matcher and lint.
func TestCheckDecisions(t *testing.T) {
	w := newCheckWorld(t)
	cases := []struct {
		name, image string
		code        int
	}{
		{"signed-clean", "registry:" + w.host + "/prod/app:1.0", 0},
		{"unsigned-vulnerable-root", "registry:" + w.host + "/prod/alpine:3.19.4", exitFail},
		{"secret-deleted", "registry:" + w.host + "/prod/leaky:1.0", exitFail},
		{"latest", "registry:" + w.host + "/prod/app:latest", exitFail},
		{"dev-unknown-low", "registry:" + w.host + "/dev/alpine:3.19.4", 0},
		{"no-rule", "registry:" + w.host + "/other/alpine:3.19.4", exitFail},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, code := runWardenCmd(t, "check", c.image, "--policy", w.policy, "--cache-dir", w.state)
			if code != c.code {
				t.Errorf("exit %d, want %d\n%s%s", code, c.code, out, stderr)
			}
			checkGolden(t, "check/"+c.name+".golden", w.mask(out))
		})
	}

	// JSON: the secret names its file and both layers.
	out, _, code := runWardenCmd(t, "check", "registry:"+w.host+"/prod/leaky:1.0", "--policy", w.policy, "--cache-dir", w.state, "--format", "json")
	var d policy.Decision
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range d.Reasons {
		if r.Check == "image.forbid_secrets" && r.Result == policy.Fail && strings.Contains(strings.Join(r.Details, "\n"), "/root/.ssh/id_ed25519") &&
			strings.Contains(strings.Join(r.Details, "\n"), "deleted or overwritten in layer 1 but still readable in layer 0") {
			found = true
		}
	}
	if d.Allow || code != exitFail || !found {
		t.Errorf("leaky image: allow %v, exit %d, secret reported %v: %s", d.Allow, code, found, out)
	}
}

// TestCheckFailsClosed: whatever cannot be established denies, with the reason.
func TestCheckFailsClosed(t *testing.T) {
	w := newCheckWorld(t)
	write := func(name, doc string) string {
		p := filepath.Join(w.dir, name)
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	bad := write("bad.yaml", "version: 1\nrules:\n  - match: [\"**\"]\n    signatures: {keys: [keys/release.pub], treshold: 1}\n")
	if err := os.WriteFile(filepath.Join(w.dir, "keys", "broken.pub"), []byte("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badKey := write("badkey.yaml", "version: 1\nrules:\n  - match: [\"**\"]\n    signatures:\n      keys: [keys/broken.pub]\n")
	badPattern := write("badpattern.yaml", "version: 1\nrules:\n  - match: [\"registry.example.com/prod/***\"]\n")
	image := "registry:" + w.host + "/prod/app:1.0"
	// A policy that cannot be used is an error (exit 1, file:line on
	// stderr, no verdict on stdout), never the denial code 3.
	mask := func(s string) string { return strings.ReplaceAll(w.mask(s), w.state, "$STATE") }
	for _, r := range []run{
		{"policy-unknown-field", exitError, "a policy that cannot be read or parsed", []string{"check", image, "--policy", bad, "--cache-dir", w.state}},
		{"policy-key-does-not-parse", exitError, "a policy that cannot be read or parsed", []string{"check", image, "--policy", badKey, "--cache-dir", w.state}},
		{"policy-bad-pattern", exitError, "a policy that cannot be read or parsed", []string{"check", image, "--policy", badPattern, "--cache-dir", w.state}},
		{"policy-missing", exitError, "a policy that cannot be read or parsed", []string{"check", image, "--policy", filepath.Join(w.dir, "nope.yaml"), "--cache-dir", w.state}},
		{"policy-unknown-field-json", exitError, "a policy that cannot be read or parsed", []string{"check", image, "--policy", bad, "--cache-dir", w.state, "--format", "json"}},
	} {
		t.Run(r.name, func(t *testing.T) {
			stdout, _ := transcriptRun(t, "check", r, mask)
			if stdout != "" {
				t.Errorf("an unusable policy printed a verdict on stdout:\n%s", stdout)
			}
		})
	}
	wantStderr := map[string]string{
		"policy-unknown-field":      "bad.yaml:4: unknown field \"treshold\"",
		"policy-key-does-not-parse": "badkey.yaml:5: key \"keys/broken.pub\"",
		"policy-bad-pattern":        "badpattern.yaml:3: match pattern",
		"policy-missing":            "nope.yaml",
	}
	for name, want := range wantStderr {
		if b, err := os.ReadFile(filepath.Join("testdata", "check", name+".txt")); err != nil || !strings.Contains(string(b), want) {
			t.Errorf("%s: transcript lacks %q (%v)", name, want, err)
		}
	}

	// What cannot be established about the image denies (exit 3), with the reason.
	cases := []struct {
		name  string
		args  []string
		wants []string
	}{
		{"no database", []string{"check", image, "--policy", w.policy, "--cache-dir", t.TempDir()}, []string{"DENIED", "FAIL vulnerabilities", "no vulnerability database"}},
		{"unreachable registry", []string{"check", "registry:127.0.0.1:1/prod/app:1.0", "--policy", w.policy, "--cache-dir", w.state}, []string{"DENIED", "FAIL image"}},
		{"archive: signatures cannot be checked", []string{"check", filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4"),
			"--ref", w.host + "/prod/alpine:3.19.4", "--policy", w.policy, "--cache-dir", w.state}, []string{"DENIED", "FAIL signatures", "open the image as registry:REF"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, code := runWardenCmd(t, c.args...)
			if code != exitFail {
				t.Errorf("exit %d, want 3\n%s%s", code, out, stderr)
			}
			for _, want := range c.wants {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
		})
	}
	// --key supplies the trusted key to a rule that lists none.
	nokeys := write("nokeys.yaml", "version: 1\nrules:\n  - match: [\"**\"]\n    signatures: {threshold: 1}\n")
	if out, _, code := runWardenCmd(t, "check", image, "--policy", nokeys, "--cache-dir", w.state); code != exitFail || !strings.Contains(out, "no trusted key is configured") {
		t.Errorf("no keys anywhere: exit %d\n%s", code, out)
	}
	if out, _, code := runWardenCmd(t, "check", image, "--policy", nokeys, "--key", filepath.Join(w.dir, "keys", "release.pub"), "--cache-dir", w.state); code != 0 {
		t.Errorf("--key: exit %d\n%s", code, out)
	}

	// Usage errors are exit 1.
	for _, args := range [][]string{{"check", image}, {"check", image, "--policy", w.policy, "--format", "xml"}, {"check", image, "--policy", w.policy, "--key", badKey}} {
		if _, _, code := runWardenCmd(t, args...); code != exitError {
			t.Errorf("%v: exit %d, want 1", args, code)
		}
	}
}

// TestCheckAttestations: a signed CycloneDX SBOM attestation (written by
// `warden sbom`, attached with pkg/sign) satisfies max_age_days when fresh,
// and denies when old or missing.
func TestCheckAttestations(t *testing.T) {
	w := newCheckWorld(t)
	attest := func(image string, age time.Duration) {
		t.Helper()
		t.Setenv("SOURCE_DATE_EPOCH", fmt.Sprint(time.Now().Add(-age).Unix()))
		out := filepath.Join(t.TempDir(), "sbom.json")
		if _, stderr, code := runWardenCmd(t, "sbom", "registry:"+w.host+image, "--format", "cyclonedx-json", "--output", out, "--no-cache"); code != 0 {
			t.Fatalf("sbom: %s", stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(w.host + image)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sign.Attest(context.Background(), ref, w.signer, sign.PredicateCycloneDX, data, sign.Options{}); err != nil {
			t.Fatalf("attest %s: %v", image, err)
		}
	}
	attest("/prod/app:1.0", 24*time.Hour)
	attest("/prod/leaky:1.0", 30*24*time.Hour)
	pol := filepath.Join(w.dir, "attest.yaml")
	doc := "version: 1\nrules:\n  - match: [\"" + w.host + "/prod/**\"]\n    attestations:\n      - {type: cyclonedx, max_age_days: 7, keys: [keys/release.pub]}\n"
	if err := os.WriteFile(pol, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		image, want string
		code        int
	}{
		{"/prod/app:1.0", "ok   attestations                 https://cyclonedx.org/bom attestation from", 0},
		{"/prod/leaky:1.0", "older than 7 days", exitFail},
		{"/prod/alpine:3.19.4", "no https://cyclonedx.org/bom attestation signed by", exitFail},
	} {
		out, stderr, code := runWardenCmd(t, "check", "registry:"+w.host+c.image, "--policy", pol, "--cache-dir", w.state)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%s: exit %d (want %d), output lacks %q:\n%s%s", c.image, code, c.code, c.want, out, stderr)
		}
	}
}
