package registry_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/registry/auth"
	"github.com/wardensec/warden/pkg/registry/ui"
)

// authReg serves the registry, /token, the JSON API and the UI with htpasswd
// users (password = name + "-pw") and rules, and the built-in gate on prod/**
// (nothing is scanned, so every image there is denied).
type authReg struct {
	srv  *httptest.Server
	host string
}

func newAuthReg(t *testing.T, token bool, rules []auth.Rule, users ...string) *authReg {
	t.Helper()
	var b strings.Builder
	for _, u := range users {
		h, _ := bcrypt.GenerateFromPassword([]byte(u+"-pw"), bcrypt.MinCost)
		b.WriteString(u + ":" + string(h) + "\n")
	}
	hp, err := auth.ParseHtpasswd(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Config{Htpasswd: hp, Token: token, Rules: rules})
	if err != nil {
		t.Fatal(err)
	}
	sbom := sbomFunc(func(_ context.Context, w io.Writer, _, _ string, _ v1.Hash, _ v1.Image) error {
		_, err := io.WriteString(w, `{}`)
		return err
	})
	reg, err := registry.New(registry.Options{Root: t.TempDir(), Auth: a, SBOM: sbom,
		Gate: &registry.SeverityGate{Repos: []string{"prod/**"}}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v2/", reg)
	mux.Handle("/token", a.TokenHandler())
	mux.Handle("/api/v1/", reg.APIHandler())
	mux.Handle("/ui/", ui.Handler(reg, "/ui/"))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); reg.Close() })
	return &authReg{srv: srv, host: strings.TrimPrefix(srv.URL, "http://")}
}

func (r *authReg) push(t *testing.T, user, repo string) v1.Hash {
	t.Helper()
	img, _ := random.Image(300, 1)
	ref, _ := name.ParseReference(r.host+"/"+repo, name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: user, Password: user + "-pw"})); err != nil {
		t.Fatalf("%s pushing %s: %v", user, repo, err)
	}
	d, _ := img.Digest()
	return d
}

func (r *authReg) get(t *testing.T, user, path string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", r.srv.URL+path, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	if user != "" {
		req.SetBasicAuth(user, user+"-pw")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestListingsFollowPullRights: alice may pull team-a/**, bob team-b/**. The
// catalog (paged too, by basic auth and by token), the JSON API's repository
// list and the UI's list each show a user only what they may pull; tag lists,
// scan, SBOM, image and referrers answers about team-a are refused to bob,
// for a repository that does not exist as for one that does.
func TestListingsFollowPullRights(t *testing.T) {
	r := newAuthReg(t, true, []auth.Rule{
		{Repo: "team-a/**", Users: []string{"alice"}, Actions: []string{"pull", "push"}},
		{Repo: "team-b/**", Users: []string{"bob"}, Actions: []string{"pull", "push"}},
	}, "alice", "bob")
	// Token flow for pushes: ggcr asks /token; the catalog below uses basic auth and a token.
	da := r.push(t, "alice", "team-a/app:1")
	r.push(t, "alice", "team-a/lib:1")
	r.push(t, "bob", "team-b/app:1")

	catalog := func(user, query string) ([]string, string) {
		t.Helper()
		resp, body := r.get(t, user, "/v2/_catalog"+query)
		var c struct{ Repositories []string }
		if resp.StatusCode != 200 || json.Unmarshal([]byte(body), &c) != nil {
			t.Fatalf("catalog as %s: %d %s", user, resp.StatusCode, body)
		}
		return c.Repositories, resp.Header.Get("Link")
	}
	for _, c := range []struct{ user, query, want, link string }{
		{"bob", "", "team-b/app", ""},
		{"alice", "", "team-a/app team-a/lib", ""},
		{"bob", "?n=1", "team-b/app", ""}, // team-a's repositories sort first, yet bob's page is full
		{"alice", "?n=1", "team-a/app", `</v2/_catalog?n=1&last=team-a/app>; rel="next"`},
		{"alice", "?n=1&last=team-a/app", "team-a/lib", ""},
	} {
		got, link := catalog(c.user, c.query)
		if strings.Join(got, " ") != c.want || link != c.link {
			t.Errorf("catalog%s as %s: %q (Link %q), want %q (Link %q)", c.query, c.user, got, link, c.want, c.link)
		}
	}
	// With a token (Docker's flow): the token's subject decides.
	tr, err := http.NewRequest("GET", r.srv.URL+"/token?service=warden&scope=registry:catalog:*", nil)
	if err != nil {
		t.Fatal(err)
	}
	tr.SetBasicAuth("bob", "bob-pw")
	tresp, err := http.DefaultClient.Do(tr)
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	_ = json.NewDecoder(tresp.Body).Decode(&tok)
	tresp.Body.Close()
	creq, _ := http.NewRequest("GET", r.srv.URL+"/v2/_catalog", nil)
	creq.Header.Set("Authorization", "Bearer "+tok.Token)
	cresp, err := http.DefaultClient.Do(creq)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := io.ReadAll(cresp.Body)
	cresp.Body.Close()
	if cresp.StatusCode != 200 || strings.Contains(string(cb), "team-a") || !strings.Contains(string(cb), "team-b/app") {
		t.Errorf("catalog with bob's token: %d %s", cresp.StatusCode, cb)
	}

	if resp, body := r.get(t, "bob", "/api/v1/repositories"); resp.StatusCode != 200 || strings.Contains(body, "team-a") || !strings.Contains(body, `"team-b/app"`) {
		t.Errorf("/api/v1/repositories as bob: %d %s", resp.StatusCode, body)
	}
	if resp, body := r.get(t, "bob", "/ui/"); resp.StatusCode != 200 || strings.Contains(body, "team-a") || !strings.Contains(body, "team-b/app") {
		t.Errorf("/ui/ as bob: %d, lists team-a: %v", resp.StatusCode, strings.Contains(body, "team-a"))
	}
	if _, body := r.get(t, "alice", "/ui/"); !strings.Contains(body, "team-a/lib") || strings.Contains(body, "team-b") {
		t.Errorf("/ui/ as alice: lists team-a/lib %v, team-b %v", strings.Contains(body, "team-a/lib"), strings.Contains(body, "team-b"))
	}
	for _, repo := range []string{"team-a/app", "team-a/nothing"} {
		for _, p := range []string{
			"/v2/" + repo + "/tags/list",
			"/v2/" + repo + "/referrers/" + da.String(),
			"/v2/" + repo + "/manifests/1",
			"/api/v1/tags?repo=" + repo,
			"/api/v1/scan?repo=" + repo + "&digest=" + da.String(),
			"/api/v1/sbom?repo=" + repo + "&ref=1",
			"/api/v1/image?repo=" + repo + "&ref=1",
			"/ui/repo?repo=" + repo,
			"/ui/image?repo=" + repo + "&ref=1",
		} {
			if resp, body := r.get(t, "bob", p); resp.StatusCode != http.StatusForbidden || strings.Contains(body, "team-a/lib") {
				t.Errorf("GET %s as bob: %d, want 403", p, resp.StatusCode)
			}
		}
	}
	if resp, body := r.get(t, "alice", "/api/v1/tags?repo=team-a/app"); resp.StatusCode != 200 || !strings.Contains(body, `"1"`) {
		t.Errorf("alice's own tags: %d %s", resp.StatusCode, body)
	}
}

// TestPushOnlyUserIsGated: push rights do not skip the pull gate — a user
// with [pull, push] on prod/** and, without any access rules, every
// authenticated user (who may then push anywhere) get the gate's DENIED, by
// basic auth and by token; only an explicit bypass grant reads past it.
func TestPushOnlyUserIsGated(t *testing.T) {
	for _, token := range []bool{false, true} {
		r := newAuthReg(t, token, []auth.Rule{
			{Repo: "prod/**", Users: []string{"ci"}, Actions: []string{"pull", "push"}},
			{Repo: "prod/**", Users: []string{"admin"}, Actions: []string{"*"}},
			{Repo: "prod/**", Users: []string{"signer"}, Actions: []string{"pull", "push", "bypass"}},
		}, "ci", "admin", "signer")
		d := r.push(t, "ci", "prod/app:1")
		for _, c := range []struct {
			user string
			want int
		}{{"ci", 403}, {"admin", 403}, {"signer", 200}} {
			img, err := remote.Image(mustRef(t, r.host+"/prod/app:1"), remote.WithAuth(&authn.Basic{Username: c.user, Password: c.user + "-pw"}))
			switch {
			case c.want == 200 && err != nil:
				t.Errorf("token=%v: %s (bypass) pulling: %v", token, c.user, err)
			case c.want == 403 && (err == nil || !strings.Contains(err.Error(), "DENIED") || !strings.Contains(err.Error(), "has not been scanned")):
				t.Errorf("token=%v: %s (push, no bypass) pulling: %v, want DENIED by the gate", token, c.user, err)
			case err == nil:
				if got, _ := img.Digest(); got != d {
					t.Errorf("digest %s, want %s", got, d)
				}
			}
		}
	}
	// No access rules: every authenticated user may push anywhere — and is gated.
	r := newAuthReg(t, false, nil, "alice")
	r.push(t, "alice", "prod/app:1")
	if resp, body := r.get(t, "alice", "/v2/prod/app/manifests/1"); resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "DENIED") {
		t.Errorf("alice (push rights, no rules) pulling a denied image: %d %s", resp.StatusCode, body)
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}
