// Package testpolicy starts a loopback registry holding a signed and an
// unsigned image, with a policy that requires the signature: the fixture of
// the runtime enforcement points' tests.
package testpolicy

import (
	"context"
	"crypto"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/sign"
)

// Fixture is a loopback registry with a signed and an unsigned image and a
// policy that requires a signature with release.pub under prod/.
type Fixture struct {
	Host     string
	Signed   string // host/prod/app:1 (signed)
	Unsigned string // host/prod/unsigned:1
	// Private is host/private/app:1 (signed), readable only with User and Password.
	Private, User, Password string
	Policy                  *policy.Policy
	Signer                  crypto.Signer
	KeyDir                  string // holds release.pub
}

// New starts the registry (stopped at the end of the test), pushes and signs.
func New(t testing.TB) *Fixture {
	t.Helper()
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	const user, password = "puller", "s3cret"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v2/private/") {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != password {
				w.Header().Set("WWW-Authenticate", `Basic realm="testpolicy"`)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	f := &Fixture{Host: host, Signed: host + "/prod/app:1", Unsigned: host + "/prod/unsigned:1",
		Private: host + "/private/app:1", User: user, Password: password}
	auth := remote.WithAuth(&authn.Basic{Username: user, Password: password})
	push := func(img v1.Image, ref string) name.Reference {
		rf, err := name.ParseReference(ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(rf, img, auth); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		return rf
	}
	app := push(testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("app/server", "\x7fELF signed"))), f.Signed)
	push(testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("app/server", "\x7fELF unsigned"))), f.Unsigned)
	private := push(testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("app/server", "\x7fELF private"))), f.Private)
	priv, pub, err := sign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	f.Signer, err = sign.ParsePrivateKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f.KeyDir = dir
	if err := os.WriteFile(filepath.Join(dir, "release.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := sign.Image(context.Background(), app, f.Signer, sign.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := sign.Image(context.Background(), private, f.Signer, sign.Options{RemoteOptions: []remote.Option{auth}}); err != nil {
		t.Fatal(err)
	}
	f.Policy, err = policy.Parse("policy.yaml", []byte(`version: 1
default: deny
rules:
  - name: prod
    match: ["`+host+`/prod/**", "`+host+`/private/**"]
    signatures: {keys: [release.pub]}
`), dir)
	if err != nil {
		t.Fatal(err)
	}
	return f
}
