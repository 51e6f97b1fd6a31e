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
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil/sigstoretest"
	"github.com/wardensec/warden/pkg/policy/facts"
	"github.com/wardensec/warden/pkg/registry"
)

// TestRegistryGateKeyless: the registry gate lets through an image signed keyless by the
// release workflow (verified offline against the policy's trusted_root), and denies, with the
// reason, an unsigned one, one signed by another workflow, and a key signature without the
// Rekor entry that tlog: required asks for.
func TestRegistryGateKeyless(t *testing.T) {
	var reg http.Handler
	var regMu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		regMu.Lock()
		h := reg
		regMu.Unlock()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	gate := New(Options{Host: host})
	gate.SetPolicy(mustParse(t, "version: 1\ndefault: allow\n", t.TempDir()))
	v := &facts.Verifier{RemoteOptions: []remote.Option{remote.WithTransport(gate.Transport())}}
	gate.SetVerifiers(v, v)
	scanner := registry.ScannerFunc(func(_ context.Context, _ string, _ v1.Hash, _ v1.Image) (*registry.ScanResult, error) {
		return &registry.ScanResult{Scanner: "fake", ScannedAt: time.Now()}, nil
	})
	r, err := registry.New(registry.Options{Root: t.TempDir(), Gate: gate, Scanner: scanner})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	regMu.Lock()
	reg = r
	regMu.Unlock()
	gate.SetHandler(r)

	ss := sigstoretest.New(t)
	const release = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
	const issuer = "https://token.actions.githubusercontent.com"
	push := func(ref string) name.Digest {
		t.Helper()
		rf, err := name.ParseReference(host + ref)
		if err != nil {
			t.Fatal(err)
		}
		img := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("app/"+strings.ReplaceAll(ref, "/", "_"), "\x7fELF")))
		if err := remote.Write(rf, img); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		h, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return rf.Context().Digest(h.String())
	}
	signed := push("/prod/app:1.0")
	sigstoretest.Push(t, signed, nil, ss.SignKeyless(t, signed, release, issuer, nil))
	unsigned := push("/prod/unsigned:1.0")
	other := push("/prod/other:1.0")
	sigstoretest.Push(t, other, nil, ss.SignKeyless(t, other, "https://github.com/acme/app/.github/workflows/pr.yml@refs/pull/7/merge", issuer, nil))

	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "release.pub"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(ss.Root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "trusted_root.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	logged := push("/keyed/logged:1.0")
	sigstoretest.Push(t, logged, nil, ss.SignKey(t, logged, priv, time.Now()))
	notLogged := push("/keyed/notlogged:1.0")
	l := ss.SignKey(t, notLogged, priv, time.Now())
	delete(l.Annotations, "dev.sigstore.cosign/bundle")
	sigstoretest.Push(t, notLogged, nil, l)

	rotated := push("/keyed/rotated:1.0")
	sigstoretest.Push(t, rotated, nil, ss.SignKey(t, rotated, priv, time.Now()))

	gate.SetPolicy(mustParse(t, `version: 1
default: allow
rules:
  - name: prod
    match: ["`+host+`/prod/**"]
    signatures:
      trusted_root: trusted_root.json
      keyless:
        - issuer: `+issuer+`
          subject: `+release+`
  - name: rotated
    match: ["`+host+`/keyed/rotated*"]
    signatures:
      keys:
        - {path: release.pub, not_after: "`+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)+`"}
  - name: keyed
    match: ["`+host+`/keyed/**"]
    signatures:
      keys: [release.pub]
      trusted_root: trusted_root.json
      tlog: required
`, dir))
	for _, c := range []struct {
		ref  name.Reference
		want string // "" = allowed
	}{
		{signed, ""},
		{unsigned, "signatures: the image is not signed"},
		{other, "matches none of the trusted identities"},
		{logged, ""},
		{notLogged, "the transparency log is required"},
		{rotated, "release.pub expired at"},
	} {
		_, err := remote.Image(c.ref)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: denied: %v", c.ref, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v; want DENIED with %q", c.ref, err, c.want)
		}
	}
}
