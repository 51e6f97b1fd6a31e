package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/wardensec/warden/internal/testutil/notationtest"
	"github.com/wardensec/warden/pkg/registry"
)

// TestNotationServe: notation-go signs images pushed to a `warden serve` started here, in JWS and
// in COSE. `warden verify` and `warden check` accept them with the right trust store and refuse
// an untrusted CA, an expired certificate and a tampered manifest (a signature of another
// manifest), each with the notation check named; the registry gate lets a pull-only user pull
// the signed image and refuses the others through the same policy; the UI shows the notation
// signer.
func TestNotationServe(t *testing.T) {
	dir := t.TempDir()
	var users strings.Builder
	for _, u := range []string{"alice", "bob"} {
		h, _ := bcrypt.GenerateFromPassword([]byte(u+"-pw"), bcrypt.MinCost)
		users.WriteString(u + ":" + string(h) + "\n")
	}
	writeFile(t, filepath.Join(dir, "htpasswd"), users.String())
	writeFile(t, filepath.Join(dir, "serve.yaml"), `auth:
  htpasswd: `+filepath.Join(dir, "htpasswd")+`
  access:
    - {repo: "**", users: [alice], actions: ["*", bypass]}
    - {repo: "**", users: [bob], actions: [pull]}
`)
	pki := notationtest.New(t, "acme-ca", time.Time{}, time.Time{})
	foreign := notationtest.New(t, "evil-ca", time.Time{}, time.Time{})
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	expired := notationtest.New(t, "acme-ca-2020", old, old.AddDate(1, 0, 0))
	store := filepath.Join(dir, "notation-ca")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*notationtest.PKI{pki, expired} {
		b, _ := os.ReadFile(p.CAFile)
		writeFile(t, filepath.Join(store, filepath.Base(p.CAFile)), string(b))
		p.Username, p.Password = "alice", "alice-pw"
	}
	foreign.Username, foreign.Password = "alice", "alice-pw"
	rule := "    signatures:\n      notation:\n        trust_store: notation-ca\n        identities: [\"" + notationtest.Identity + "\"]\n"
	writeFile(t, filepath.Join(dir, "policy.yaml"), "version: 1\ndefault: allow\nrules:\n  - name: prod\n    match: [\"registry.test/prod/**\"]\n"+rule)
	addr := startServe(t, "--cache-dir", t.TempDir(), "--root", t.TempDir(), "--no-scan", "--config", filepath.Join(dir, "serve.yaml"),
		"--policy", filepath.Join(dir, "policy.yaml"), "--host", "registry.test")
	writeFile(t, filepath.Join(dir, "check.yaml"), "version: 1\ndefault: allow\nrules:\n  - name: prod\n    match: [\""+addr+"/prod/**\"]\n"+rule)
	// warden verify and check read the registry as alice, through a Docker config.
	docker := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"auths": map[string]any{addr: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte("alice:alice-pw"))}}})
	writeFile(t, filepath.Join(docker, "config.json"), string(cfg))
	t.Setenv("DOCKER_CONFIG", docker)

	alice := remote.WithAuth(&authn.Basic{Username: "alice", Password: "alice-pw"})
	push := func(repo string) name.Digest {
		t.Helper()
		img, _ := random.Image(300, 1)
		ref, err := name.ParseReference(addr+"/"+repo, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, alice); err != nil {
			t.Fatalf("push %s: %v", repo, err)
		}
		h, _ := img.Digest()
		return ref.Context().Digest(h.String())
	}
	jws, cose := push("prod/jws:1"), push("prod/cose:1")
	pki.Sign(t, jws, notationtest.JWS, nil)
	pki.Sign(t, cose, notationtest.COSE, nil)
	foreign.Sign(t, push("prod/untrusted:1"), notationtest.JWS, nil)
	exp := push("prod/expired:1")
	expired.Push(t, exp, notationtest.COSE, expired.Envelope(t, notationtest.COSE, expired.Target(t, exp), old.AddDate(0, 6, 0)))
	tam := push("prod/tampered:1")
	pki.Push(t, tam, notationtest.JWS, pki.Envelope(t, notationtest.JWS, pki.Target(t, jws), time.Now()))
	push("prod/unsigned:1")

	trust := []string{"--notation-trust-store", store, "--notation-identity", notationtest.Identity}
	state := t.TempDir()
	for _, c := range []struct {
		repo   string
		code   int
		reason string
	}{
		{"prod/jws", exitOK, "notation, trusted by notation:" + store},
		{"prod/cose", exitOK, "(COSE)"},
		{"prod/untrusted", exitBadSignature, "authenticity check failed"},
		{"prod/expired", exitBadSignature, "authenticTimestamp check failed"},
		{"prod/tampered", exitBadSignature, "content descriptor mismatch"},
		{"prod/unsigned", exitUnsigned, "not signed"},
	} {
		wantRun(t, c.code, c.reason, append([]string{"verify", addr + "/" + c.repo + ":1"}, trust...)...)
		out, stderr, code := runWardenCmd(t, "check", "registry:"+addr+"/"+c.repo+":1", "--policy", filepath.Join(dir, "check.yaml"), "--cache-dir", state)
		wantCheck := exitOK
		verdict := "ALLOWED"
		if c.code != exitOK {
			wantCheck, verdict = exitFail, "DENIED"
		}
		if code != wantCheck || !strings.Contains(out+stderr, verdict) || !strings.Contains(out+stderr, c.reason) && c.code != exitOK {
			t.Errorf("check %s: exit %d (want %d), want %s and %q in:\n%s%s", c.repo, code, wantCheck, verdict, c.reason, out, stderr)
		}
	}
	// A cosign key alone does not accept a notation signature: it is listed as invalid (exit 11).
	wantRun(t, exitBadSignature, "no notation trust store is configured", "verify", addr+"/prod/jws:1", "--key", writeTestKey(t, dir))

	// The registry gate: bob (pull only) gets the signed images, not the others.
	bob := remote.WithAuth(&authn.Basic{Username: "bob", Password: "bob-pw"})
	for repo, want := range map[string]string{"prod/jws:1": "", "prod/cose:1": "", "prod/untrusted:1": "authenticity", "prod/tampered:1": "content descriptor mismatch", "prod/unsigned:1": "not signed"} {
		ref, _ := name.ParseReference(addr+"/"+repo, name.Insecure)
		_, err := remote.Image(ref, bob)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("bob pulling %s: %v (want %q)", repo, err, want)
		}
	}
	// The UI and its API show the notation signer.
	get := func(path string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		req.SetBasicAuth("bob", "bob-pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	for repo, status := range map[string]string{"prod/jws": registry.SigVerified, "prod/cose": registry.SigVerified, "prod/untrusted": registry.SigInvalid} {
		var det registry.ImageDetail
		if err := json.Unmarshal([]byte(get("/api/v1/image?repo="+repo+"&ref=1")), &det); err != nil {
			t.Fatal(err)
		}
		sc := det.SignatureCheck
		if sc == nil || sc.Status != status {
			t.Fatalf("%s: signature check %+v, want %s", repo, sc, status)
		}
		page := html.UnescapeString(get("/ui/image?repo=" + repo + "&ref=1"))
		if status == registry.SigVerified {
			if len(sc.Signers) != 1 || sc.Signers[0].Format != "notation" || sc.Signers[0].Subject != notationtest.Subject {
				t.Errorf("%s: signers %+v", repo, sc.Signers)
			}
			if !strings.Contains(page, notationtest.Subject) || !strings.Contains(page, "<td>notation</td>") {
				t.Errorf("UI page of %s does not show the notation signer", repo)
			}
		} else if len(sc.Invalid) == 0 || !strings.Contains(sc.Invalid[0].Reason, "authenticity") {
			t.Errorf("%s: invalid %+v", repo, sc.Invalid)
		}
	}
}

// writeTestKey writes a fresh ECDSA public key (PKIX PEM) into dir and returns its path.
func writeTestKey(t *testing.T, dir string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(k.Public())
	p := filepath.Join(dir, "cosign.pub")
	writeFile(t, p, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	return p
}
