package registrygate

import (
	"context"
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
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/policy/facts"
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/sign"
)

func nonRoot(t *testing.T, img v1.Image) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.User = "1000"
	out, err := mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestRegistryEnforcesPolicy: the registry, with this gate, refuses pulls
// with DENIED and the policy's reasons — unsigned, vulnerable (per its own
// scan result), secret in a deleted layer — and serves a signed clean image:
// the registry decides with the same policy.Evaluate as `warden check`.
func TestRegistryEnforcesPolicy(t *testing.T) {
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
	gate.SetPolicy(mustParse(t, "version: 1\ndefault: allow\n", t.TempDir())) // open while we push and sign
	v := &facts.Verifier{RemoteOptions: []remote.Option{remote.WithTransport(gate.Transport())}}
	gate.SetVerifiers(v, v)

	scanner := registry.ScannerFunc(func(_ context.Context, repo string, _ v1.Hash, _ v1.Image) (*registry.ScanResult, error) {
		res := &registry.ScanResult{Scanner: "fake", ScannedAt: time.Now()}
		if repo == "prod/vuln" {
			res.Findings = []registry.Finding{{ID: "CVE-2024-9143", Package: "libcrypto3", Version: "3.1.7-r0", FixedVersion: "3.1.7-r1", Severity: "CRITICAL"}}
		}
		return res, nil
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

	key := "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n"
	clean := nonRoot(t, testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("app/server", "\x7fELF"))))
	leaky := nonRoot(t, testimage.Image(t, nil,
		testimage.Layer(t, testimage.Reg("app/server", "\x7fELF"), testimage.Reg("root/.ssh/id_ed25519", key)),
		testimage.Layer(t, testimage.Whiteout("root/.ssh/id_ed25519"))))
	vuln := nonRoot(t, testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("app/vuln", "\x7fELF"))))
	push := func(img v1.Image, ref string) name.Reference {
		t.Helper()
		rf, err := name.ParseReference(host + ref)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(rf, img); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		return rf
	}
	app := push(clean, "/prod/app:1.0")
	unsigned := push(clean, "/prod/unsigned:1.0")
	leakyRef := push(leaky, "/prod/leaky:1.0")
	vulnRef := push(vuln, "/prod/vuln:1.0")
	dev := push(clean, "/dev/app:1.0")

	dir := t.TempDir()
	priv, pub, err := sign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sign.ParsePrivateKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "release.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, rf := range []name.Reference{app, leakyRef, vulnRef} {
		if _, err := sign.Image(context.Background(), rf, signer, sign.Options{}); err != nil {
			t.Fatalf("sign %s: %v", rf, err)
		}
	}

	gate.SetPolicy(mustParse(t, `version: 1
default: allow
rules:
  - name: prod
    match: ["`+host+`/prod/**"]
    signatures: {keys: [keys/release.pub]}
    vulnerabilities: {max_severity: HIGH}
    image: {forbid_root: true, forbid_secrets: true}
`, dir))

	// Wait for the background scans: until then prod pulls are denied as not scanned.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := remote.Image(app)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "not been scanned") || time.Now().After(deadline) {
			t.Fatalf("pull of the signed clean image: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, c := range []struct {
		ref  name.Reference
		want string // "" = allowed
	}{
		{app, ""},
		{dev, ""},
		{unsigned, "signatures: the image is not signed"},
		{vulnRef, "CVE-2024-9143 in libcrypto3 3.1.7-r0 (CRITICAL"},
		{leakyRef, "image.forbid_secrets: 1 secret(s) in the image; private key (PEM) in /root/.ssh/id_ed25519"},
	} {
		_, err := remote.Image(c.ref)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: denied: %v", c.ref, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: err = %v; want DENIED with %q", c.ref, err, c.want)
		}
	}
	// A nil policy denies everything (fail closed).
	gate.SetPolicy(nil)
	if _, err := remote.Image(dev); err == nil || !strings.Contains(err.Error(), "DENIED") {
		t.Errorf("nil policy: err = %v", err)
	}
}

func mustParse(t *testing.T, doc, dir string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("policy.yaml", []byte(doc), dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSubject(t *testing.T) {
	g := New(Options{Host: "registry.example.com"})
	d, _ := v1.NewHash("sha256:" + strings.Repeat("a", 64))
	s := g.Subject(registry.Subject{Repo: "prod/app", Reference: "1.0", Digest: d})
	if s.Ref != "registry.example.com/prod/app:1.0" || s.Repository != "registry.example.com/prod/app" || s.Digest != d.String() {
		t.Errorf("by tag: %+v", s)
	}
	s = g.Subject(registry.Subject{Repo: "prod/app", Reference: d.String(), Digest: d})
	if s.Ref != "registry.example.com/prod/app@"+d.String() {
		t.Errorf("by digest: %+v", s)
	}
}
