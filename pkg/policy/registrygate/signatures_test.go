package registrygate

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/pkg/policy/facts"
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
)

// userAuth is basic auth with two users: alice may do everything, bob may pull.
type userAuth struct{}

func (userAuth) Authorize(req *http.Request, repo, action string) error {
	u, p, ok := req.BasicAuth()
	switch {
	case !ok || p != u+"-pw" || (u != "alice" && u != "bob"):
		return &registry.AuthError{Status: http.StatusUnauthorized, Challenge: `Basic realm="test"`, Message: "who are you"}
	case u == "bob" && action != "pull" && action != "":
		return &registry.AuthError{Status: http.StatusForbidden, Message: "bob may only pull"}
	}
	return nil
}

// TestSignaturesBehindAuth: with authentication on, the policy still checks
// signatures through the registry in-process (InternalHandler: no credentials
// needed, the image being decided is readable), so a pull-only user gets the
// signed image and is refused the unsigned one; the SignatureChecker names
// the covering rule's key as the signer, and trusts nothing in a repository
// no rule covers.
func TestSignaturesBehindAuth(t *testing.T) {
	gate := New(Options{})
	v := &facts.Verifier{RemoteOptions: []remote.Option{remote.WithTransport(gate.Transport())}}
	gate.SetVerifiers(v, v)
	r, err := registry.New(registry.Options{Root: t.TempDir(), Gate: gate, Auth: userAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	gate.SetHandler(r.InternalHandler())
	checker := &SignatureChecker{Gate: gate}
	checker.SetHandler(r.InternalHandler())
	srv := httptest.NewServer(r)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	gate.opt.Host = host

	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(key.Public())
	if err := os.WriteFile(filepath.Join(dir, "release.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	gate.SetPolicy(mustParse(t, "version: 1\ndefault: allow\nrules:\n  - name: prod\n    match: [\""+host+"/prod/**\"]\n    signatures: {keys: [release.pub]}\n", dir))

	alice := remote.WithAuth(&authn.Basic{Username: "alice", Password: "alice-pw"})
	bob := remote.WithAuth(&authn.Basic{Username: "bob", Password: "bob-pw"})
	push := func(repo string, signIt bool) (name.Reference, v1.Hash) {
		t.Helper()
		img, _ := random.Image(200, 1)
		ref, _ := name.ParseReference(host+"/"+repo, name.Insecure)
		if err := remote.Write(ref, img, alice); err != nil {
			t.Fatal(err)
		}
		if signIt { // alice may push, so she reads past the gate, as cosign does
			if _, err := sign.Image(context.Background(), ref, key, sign.Options{RemoteOptions: []remote.Option{alice}}); err != nil {
				t.Fatalf("sign %s: %v", ref, err)
			}
		}
		d, _ := img.Digest()
		return ref, d
	}
	signed, signedD := push("prod/app:1", true)
	unsigned, _ := push("prod/other:1", false)
	_, devD := push("dev/app:1", true)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := remote.Image(signed, bob, remote.WithContext(ctx)); err != nil {
		t.Errorf("bob pulling the signed image: %v", err)
	}
	if _, err := remote.Image(unsigned, bob, remote.WithContext(ctx)); err == nil || !strings.Contains(err.Error(), "not signed") {
		t.Errorf("bob pulling the unsigned image: %v", err)
	}

	rep, err := checker.CheckSignatures(ctx, "prod/app", signedD)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != registry.SigVerified || len(rep.Signers) != 2 || rep.Signers[0].Key != "release.pub" ||
		rep.Signers[0].KeyID != sign.KeyID(key.Public()) || len(rep.Keys) != 1 {
		t.Errorf("signed image: %+v", rep)
	}
	if rep, err := checker.CheckSignatures(ctx, "dev/app", devD); err != nil || rep.Status != registry.SigNoKeys {
		t.Errorf("repository no rule covers: %+v, %v", rep, err)
	}
	// A key given to the checker (--trusted-key) applies everywhere.
	checker.Keys = []verify.Key{verify.NewKey("ops.pub", key.Public())}
	if rep, err := checker.CheckSignatures(ctx, "dev/app", devD); err != nil || rep.Status != registry.SigVerified || rep.Signers[0].Key != "ops.pub" {
		t.Errorf("trusted key in an uncovered repository: %+v, %v", rep, err)
	}
	// The checker keeps one Puller and a cache across checks: a repeat is cached, and an image
	// signed after a check that refused it is verified at once (the state is read every time).
	if rep, err := checker.CheckSignatures(ctx, "prod/app", signedD); err != nil || rep.Status != registry.SigVerified || !rep.Cached {
		t.Errorf("repeat check of the signed image: %+v, %v", rep, err)
	}
	_, unsignedD := push("prod/later:1", false)
	if rep, err := checker.CheckSignatures(ctx, "prod/later", unsignedD); err != nil || rep.Status != registry.SigUnsigned {
		t.Errorf("before signing: %+v, %v", rep, err)
	}
	later, _ := name.ParseReference(host+"/prod/later:1", name.Insecure)
	if _, err := sign.Image(context.Background(), later, key, sign.Options{RemoteOptions: []remote.Option{alice}}); err != nil {
		t.Fatal(err)
	}
	if rep, err := checker.CheckSignatures(ctx, "prod/later", unsignedD); err != nil || rep.Status != registry.SigVerified || rep.Cached {
		t.Errorf("after signing: %+v, %v", rep, err)
	}
}
