package verify_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil/sigstoretest"
	"github.com/wardensec/warden/pkg/verify"
)

// TestCosignVerifiesKeylessFixture: the peer, cosign, accepts the keyless .sig the test's own
// Sigstore makes (with the same trusted root) and refuses it for another identity, just as
// Warden does — so the fixture is cosign's real format, and both agree on it.
func TestCosignVerifiesKeylessFixture(t *testing.T) {
	c := newCosign(t)
	ss := sigstoretest.New(t)
	tr, err := verify.LoadTrustedRoot(ss.Root)
	if err != nil {
		t.Fatal(err)
	}
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "acme/app", "v1")
	const who, iss = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", "https://token.actions.githubusercontent.com"
	sigstoretest.Push(t, d, nil, ss.SignKeyless(t, d, who, iss, nil))
	args := func(id string) []string {
		return []string{"verify", "--allow-http-registry", "--trusted-root", ss.Root, "--insecure-ignore-sct",
			"--new-bundle-format=false", "--certificate-identity", id, "--certificate-oidc-issuer", iss, d.String()}
	}
	if out, err := c.run(t, args(who)...); err != nil {
		t.Fatalf("cosign refused the keyless fixture: %v\n%s", err, out)
	}
	if out, err := c.run(t, args("https://github.com/acme/evil/.github/workflows/x.yml@refs/heads/main")...); err == nil {
		t.Fatalf("cosign accepted another identity:\n%s", out)
	}
	res, err := verify.Image(context.Background(), d, verify.Options{Identities: []verify.Identity{{Subject: who, Issuer: iss}}, TrustedRoot: tr})
	if err != nil || !strings.Contains(res.Signers[0].Subject, "acme/app") {
		t.Fatalf("warden: %v %+v", err, res)
	}
}
