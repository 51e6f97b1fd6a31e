package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil/sigstoretest"
	"github.com/wardensec/warden/pkg/sign"
)

// TestCheckKeyless: warden check allows an image signed keyless by the identity the policy
// trusts (offline, against the policy's trusted_root) and denies other signers, with reasons.
func TestCheckKeyless(t *testing.T) {
	ss := sigstoretest.New(t)
	host := sigRegistry(t, true)
	signed := keylessImage(t, ss, host, "prod/app", "1.0", true)
	unsigned := keylessImage(t, ss, host, "prod/unsigned", "1.0", false)
	dir := t.TempDir()
	data, err := os.ReadFile(ss.Root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trusted_root.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(name, subject string) string {
		p := filepath.Join(dir, name)
		doc := "version: 1\ndefault: deny\nrules:\n  - name: prod\n    match: [\"" + host + "/prod/**\"]\n" +
			"    signatures:\n      trusted_root: trusted_root.json\n      keyless:\n        - issuer: " + ciIss + "\n          subject: " + subject + "\n"
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.yaml", ciWho)
	evil := write("evil.yaml", "https://github.com/acme/evil/.github/workflows/x.yml@refs/heads/main")
	state := t.TempDir()
	for _, c := range []struct {
		image, policy string
		code          int
		want          []string
	}{
		{signed.String(), good, exitOK, []string{"ALLOWED", "signed by 1 of 1 trusted keys and keyless identities", ciWho}},
		{unsigned.String(), good, exitFail, []string{"DENIED", "the image is not signed"}},
		{signed.String(), evil, exitFail, []string{"DENIED", "matches none of the trusted identities"}},
	} {
		out, stderr, code := runWardenCmd(t, "check", "registry:"+c.image, "--policy", c.policy, "--cache-dir", state)
		for _, w := range c.want {
			if code != c.code || !strings.Contains(out+stderr, w) {
				t.Errorf("check %s with %s: exit %d (want %d), want %q in:\n%s%s", c.image, filepath.Base(c.policy), code, c.code, w, out, stderr)
				break
			}
		}
	}
}

// TestCheckKeylessAttestation: a policy attestation with keyless identities (and trusted_root)
// is satisfied by a keyless CycloneDX attestation of that identity, and not by another identity's.
func TestCheckKeylessAttestation(t *testing.T) {
	ss := sigstoretest.New(t)
	host := sigRegistry(t, true)
	good := keylessImage(t, ss, host, "prod/app", "1.0", false)
	sigstoretest.PushBundle(t, good, nil, ss.AttestKeyless(t, good, good, ciWho, ciIss, sign.PredicateCycloneDX, map[string]any{"bomFormat": "CycloneDX"}))
	other := keylessImage(t, ss, host, "prod/other", "1.0", false)
	sigstoretest.PushBundle(t, other, nil, ss.AttestKeyless(t, other, other, "mallory@example.com", "https://accounts.google.com", sign.PredicateCycloneDX, map[string]any{}))
	dir := t.TempDir()
	data, err := os.ReadFile(ss.Root)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "trusted_root.json"), string(data))
	pol := filepath.Join(dir, "policy.yaml")
	writeFile(t, pol, "version: 1\ndefault: deny\nrules:\n  - name: prod\n    match: [\""+host+"/prod/**\"]\n"+
		"    attestations:\n      - type: cyclonedx\n        trusted_root: trusted_root.json\n        keyless:\n          - {issuer: "+ciIss+", subject: "+ciWho+"}\n")
	state := t.TempDir()
	for _, c := range []struct {
		image string
		code  int
		want  string
	}{
		{good.String(), exitOK, "ALLOWED"},
		{other.String(), exitFail, "no https://cyclonedx.org/bom attestation signed by " + ciWho},
	} {
		out, stderr, code := runWardenCmd(t, "check", "registry:"+c.image, "--policy", pol, "--cache-dir", state)
		if code != c.code || !strings.Contains(out+stderr, c.want) {
			t.Errorf("check %s: exit %d (want %d), want %q in:\n%s%s", c.image, code, c.code, c.want, out, stderr)
		}
	}
}
