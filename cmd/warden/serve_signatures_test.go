package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"html"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/sign"
)

// TestServeSignatures: `warden serve --htpasswd --policy --trusted-key`. Images
// are signed with pkg/sign by a user granted bypass; the JSON API and the UI
// name the signer — the policy rule's key in prod/, the --trusted-key key in
// dev/ — show a signature by an unknown key as invalid and an unsigned image
// as not signed; and a pull-only user gets the signed prod image (the policy
// verifies through the registry in-process, with authentication on).
func TestServeSignatures(t *testing.T) {
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
	newKey := func(file string) crypto.Signer {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKIXPublicKey(k.Public())
		writeFile(t, filepath.Join(dir, file), string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
		return k
	}
	release, ops, stranger := newKey("release.pub"), newKey("ops.pub"), newKey("stranger.pub")
	writeFile(t, filepath.Join(dir, "policy.yaml"), "version: 1\ndefault: allow\nrules:\n  - name: prod\n    match: [\"registry.test/prod/**\"]\n    signatures: {keys: [release.pub]}\n")
	addr := startServe(t, "--cache-dir", t.TempDir(), "--root", t.TempDir(), "--no-scan", "--config", filepath.Join(dir, "serve.yaml"),
		"--policy", filepath.Join(dir, "policy.yaml"), "--host", "registry.test", "--trusted-key", filepath.Join(dir, "ops.pub"))

	alice := remote.WithAuth(&authn.Basic{Username: "alice", Password: "alice-pw"})
	for _, c := range []struct {
		repo string
		key  crypto.Signer
	}{{"prod/app:1", release}, {"prod/unsigned:1", nil}, {"dev/app:1", ops}, {"dev/other:1", stranger}, {"dev/unsigned:1", nil}} {
		img, _ := random.Image(300, 1)
		ref, err := name.ParseReference(addr+"/"+c.repo, name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, alice); err != nil {
			t.Fatalf("push %s: %v", c.repo, err)
		}
		if c.key != nil {
			if _, err := sign.Image(context.Background(), ref, c.key, sign.Options{RemoteOptions: []remote.Option{alice}}); err != nil {
				t.Fatalf("sign %s: %v", c.repo, err)
			}
		}
	}
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
	check := func(repo string) *registry.SignatureReport {
		t.Helper()
		var det registry.ImageDetail
		if err := json.Unmarshal([]byte(get("/api/v1/image?repo="+repo+"&ref=1")), &det); err != nil {
			t.Fatal(err)
		}
		if det.SignatureCheck == nil {
			t.Fatalf("%s: no signatureCheck", repo)
		}
		return det.SignatureCheck
	}
	for _, c := range []struct {
		repo, status, signer string
	}{
		{"prod/app", registry.SigVerified, "release.pub"},
		{"prod/unsigned", registry.SigUnsigned, ""},
		{"dev/app", registry.SigVerified, "ops.pub"},
		{"dev/other", registry.SigInvalid, ""},
		{"dev/unsigned", registry.SigUnsigned, ""},
	} {
		sc := check(c.repo)
		if sc.Status != c.status || (c.signer != "" && (len(sc.Signers) == 0 || sc.Signers[0].Key != c.signer || sc.Signers[0].KeyID != sign.KeyID(map[string]crypto.Signer{"release.pub": release, "ops.pub": ops}[c.signer].Public()))) {
			t.Errorf("%s: %+v", c.repo, sc)
		}
		if c.status == registry.SigInvalid && (len(sc.Invalid) == 0 || !strings.Contains(sc.Invalid[0].Reason, "ops.pub")) {
			t.Errorf("%s: invalid signatures without a reason: %+v", c.repo, sc.Invalid)
		}
		page := html.UnescapeString(get("/ui/image?repo=" + c.repo + "&ref=1"))
		if !strings.Contains(page, `data-status="`+c.status+`"`) || (c.signer != "" && !strings.Contains(page, "Signed by "+c.signer)) {
			t.Errorf("UI page of %s lacks status %q / signer %q", c.repo, c.status, c.signer)
		}
	}
	// bob (pull only) gets the signed prod image; the unsigned one is DENIED.
	bob := remote.WithAuth(&authn.Basic{Username: "bob", Password: "bob-pw"})
	for repo, want := range map[string]string{"prod/app:1": "", "prod/unsigned:1": "not signed"} {
		ref, _ := name.ParseReference(addr+"/"+repo, name.Insecure)
		_, err := remote.Image(ref, bob)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("bob pulling %s: %v", repo, err)
		}
	}
	// A bad --trusted-key stops the server with the file named.
	_, stderr, code := runWardenCmd(t, "serve", "--root", t.TempDir(), "--no-scan", "--trusted-key", filepath.Join(dir, "missing.pub"))
	if code != exitError || !strings.Contains(stderr, "missing.pub") {
		t.Errorf("missing --trusted-key: exit %d %q", code, stderr)
	}
}
