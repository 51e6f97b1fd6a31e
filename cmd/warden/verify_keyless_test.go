package main

import (
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/internal/testutil/sigstoretest"
)

const (
	ciWho = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
	ciIss = "https://token.actions.githubusercontent.com"
)

// keylessImage pushes an image to host/repo:tag, signs it keyless as ciWho with the test's own
// Sigstore, and returns the reference by digest.
func keylessImage(t *testing.T, ss *sigstoretest.Sigstore, host, repo, tag string, signed bool) name.Digest {
	t.Helper()
	ref := host + "/" + repo + ":" + tag
	sigPushRandom(t, ref)
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(r)
	if err != nil {
		t.Fatal(err)
	}
	d := r.Context().Digest(desc.Digest.String())
	if signed {
		sigstoretest.Push(t, d, nil, ss.SignKeyless(t, d, ciWho, ciIss, nil))
	}
	return d
}

// TestVerifyKeylessCLI: the interface `warden verify IMAGE --certificate-identity ID
// --certificate-oidc-issuer URL --trusted-root FILE` exits 0 verified, 10 not signed, 11 invalid.
func TestVerifyKeylessCLI(t *testing.T) {
	ss := sigstoretest.New(t)
	host := sigRegistry(t, true)
	signed := keylessImage(t, ss, host, "acme/app", "v1", true)
	unsigned := keylessImage(t, ss, host, "acme/app", "v2", false)
	flags := []string{"--certificate-identity", ciWho, "--certificate-oidc-issuer", ciIss, "--trusted-root", ss.Root}
	wantRun(t, exitOK, "issuer "+ciIss+" (keyless", append([]string{"verify", signed.String()}, flags...)...)
	wantRun(t, exitOK, "Verified", append([]string{"verify", host + "/acme/app:v1", "--certificate-identity-regexp", `https://github\.com/acme/.*`}, flags[2:]...)...)
	wantRun(t, exitUnsigned, "not signed", append([]string{"verify", unsigned.String()}, flags...)...)
	wantRun(t, exitBadSignature, "matches none of the trusted identities",
		"verify", signed.String(), "--certificate-identity", "https://github.com/acme/evil/.github/workflows/x.yml@refs/heads/main",
		"--certificate-oidc-issuer", ciIss, "--trusted-root", ss.Root)
	wantRun(t, exitBadSignature, "matches none", "verify", signed.String(), "--certificate-identity", ciWho,
		"--certificate-oidc-issuer", "https://accounts.google.com", "--trusted-root", ss.Root)
	other := sigstoretest.New(t) // a trusted root that does not know the CA and log
	wantRun(t, exitBadSignature, "keyless signature", "verify", signed.String(), "--certificate-identity", ciWho,
		"--certificate-oidc-issuer", ciIss, "--trusted-root", other.Root)
	wantRun(t, exitError, "trusted root", "verify", signed.String(), "--certificate-identity", ciWho, "--certificate-oidc-issuer", ciIss)
	wantRun(t, exitError, "issuer", "verify", signed.String(), "--certificate-identity", ciWho, "--trusted-root", ss.Root)
}

func TestVerifyBlobCLI(t *testing.T) {
	dir := filepath.Join("..", "..", "pkg", "verify", "testdata", "sigstore")
	art := filepath.Join(dir, "conformance", "a.txt")
	root := filepath.Join(dir, "trusted-root-public-good.json")
	const who = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
	for _, v := range []string{"happy-path-v0.1", "happy-path-v0.2", "happy-path-v0.3"} {
		wantRun(t, exitOK, "(keyless)", "verify-blob", art, "--bundle", filepath.Join(dir, "conformance", v, "bundle.sigstore.json"),
			"--certificate-identity", who, "--certificate-oidc-issuer", ciIss, "--trusted-root", root)
	}
	b := filepath.Join(dir, "conformance", "happy-path-v0.3", "bundle.sigstore.json")
	wantRun(t, exitBadSignature, "matches none", "verify-blob", art, "--bundle", b,
		"--certificate-identity", ciWho, "--certificate-oidc-issuer", ciIss, "--trusted-root", root)
	wantRun(t, exitBadSignature, "does not match", "verify-blob", b, "--bundle", b,
		"--certificate-identity", who, "--certificate-oidc-issuer", ciIss, "--trusted-root", root)
	wantRun(t, exitError, "--bundle is required", "verify-blob", art, "--certificate-identity", who, "--certificate-oidc-issuer", ciIss, "--trusted-root", root)
	key := filepath.Join(dir, "conformance", "managed-key-happy-path", "key.pub")
	kb := filepath.Join(dir, "conformance", "managed-key-happy-path", "bundle.sigstore.json")
	wantRun(t, exitOK, "signed by "+key, "verify-blob", art, "--bundle", kb, "--key", key, "--require-tlog", "--trusted-root", root)
}

// TestVerifyAttestationKeylessCLI: verify-attestation takes the keyless flags too.
func TestVerifyAttestationKeylessCLI(t *testing.T) {
	ss := sigstoretest.New(t)
	host := sigRegistry(t, true)
	d := keylessImage(t, ss, host, "acme/app", "v1", false)
	sigstoretest.PushBundle(t, d, nil, ss.AttestKeyless(t, d, d, ciWho, ciIss, "https://cyclonedx.org/bom", map[string]any{"bomFormat": "CycloneDX"}))
	flags := []string{"--type", "cyclonedx", "--certificate-oidc-issuer", ciIss, "--trusted-root", ss.Root}
	wantRun(t, exitOK, `"bomFormat":"CycloneDX"`, append([]string{"verify-attestation", d.String(), "--certificate-identity", ciWho}, flags...)...)
	wantRun(t, exitBadSignature, "matches none", append([]string{"verify-attestation", d.String(), "--certificate-identity", "someone@example.com"}, flags...)...)
}
