package auth

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wardensec/warden/pkg/registry"
)

func htpasswd(t testing.TB, users ...string) *Htpasswd {
	t.Helper()
	var b strings.Builder
	b.WriteString("# users\n\n")
	for i := 0; i+1 < len(users); i += 2 {
		h, err := bcrypt.GenerateFromPassword([]byte(users[i+1]), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString(users[i] + ":" + string(h) + "\n")
	}
	hp, err := ParseHtpasswd(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	return hp
}

func TestParseHtpasswdRejects(t *testing.T) {
	for _, in := range []string{
		"alice:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n", // SHA1 is not accepted
		"alice:$apr1$abc$def\n",                     // MD5 neither
		"nocolon\n",
		":$2y$05$abcdefghijklmnopqrstuu5Zo5WJkS5hYxqGqg0hYd8zjGv4pW7y6\n",
		"bob:$2y$99$bad\n",
	} {
		if _, err := ParseHtpasswd(strings.NewReader(in)); err == nil {
			t.Errorf("ParseHtpasswd(%q) accepted it", in)
		}
	}
}

func TestBasic(t *testing.T) {
	a, err := New(Config{Htpasswd: htpasswd(t, "alice", "s3cret", "bob", "hunter2"), Rules: []Rule{
		{Repo: "team/**", Users: []string{"alice"}, Actions: []string{"pull", "push"}},
		{Repo: "**", Users: []string{"*"}, Actions: []string{"pull"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	req := func(user, pass string) *http.Request {
		r := httptest.NewRequest("GET", "http://127.0.0.1/v2/", nil)
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		return r
	}
	status := func(err error) int {
		var ae *registry.AuthError
		if err == nil {
			return 200
		}
		if errors.As(err, &ae) {
			return ae.Status
		}
		return -1
	}
	for _, tc := range []struct {
		user, pass, repo, action string
		want                     int
	}{
		{"alice", "s3cret", "", "", 200},
		{"alice", "wrong", "", "", 401},
		{"", "", "", "", 401},
		{"", "", "team/app", "pull", 401}, // anonymous pull is off
		{"alice", "s3cret", "team/app", "push", 200},
		{"alice", "s3cret", "team/sub/app", "push", 200},
		{"bob", "hunter2", "team/app", "pull", 200},
		{"bob", "hunter2", "team/app", "push", 403},
		{"alice", "s3cret", "other", "push", 403},
		{"carol", "x", "team/app", "pull", 401},
	} {
		got := status(a.Authorize(req(tc.user, tc.pass), tc.repo, tc.action))
		if got != tc.want {
			t.Errorf("%s/%s %s %q: got %d, want %d", tc.user, tc.pass, tc.action, tc.repo, got, tc.want)
		}
	}
	err = a.Authorize(req("", ""), "x", "pull")
	var ae *registry.AuthError
	if !errors.As(err, &ae) || ae.Challenge != `Basic realm="warden"` {
		t.Errorf("challenge = %v", err)
	}
}

func TestTokenFlow(t *testing.T) {
	a, err := New(Config{Token: true, AnonymousPull: true, Htpasswd: htpasswd(t, "alice", "s3cret"), Rules: []Rule{
		{Repo: "**", Users: []string{"alice"}, Actions: []string{"*"}},
		{Repo: "public/*", Users: []string{"anonymous"}, Actions: []string{"pull"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.TokenHandler())
	defer srv.Close()
	token := func(user, pass string, scopes ...string) (int, string) {
		q := url.Values{"service": {"warden"}, "scope": scopes}
		r, _ := http.NewRequest("GET", srv.URL+"?"+q.Encode(), nil)
		if user != "" {
			r.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Token string `json:"token"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body.Token
	}
	use := func(tok, repo, action string) error {
		r := httptest.NewRequest("GET", "http://127.0.0.1:5000/v2/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return a.Authorize(r, repo, action)
	}
	code, tok := token("alice", "s3cret", "repository:team/app:pull,push")
	if code != 200 || tok == "" {
		t.Fatalf("token for alice: %d %q", code, tok)
	}
	if err := use(tok, "team/app", "push"); err != nil {
		t.Errorf("alice's push token refused: %v", err)
	}
	if err := use(tok, "team/other", "pull"); err == nil {
		t.Error("token for team/app accepted for team/other")
	}
	if code, _ := token("alice", "wrong", "repository:team/app:pull"); code != 401 {
		t.Errorf("bad password got a token: %d", code)
	}
	// Anonymous: pull on public/*, nothing else even if asked.
	code, anon := token("", "", "repository:public/app:pull,push", "repository:team/app:pull")
	if code != 200 {
		t.Fatalf("anonymous token: %d", code)
	}
	if err := use(anon, "public/app", "pull"); err != nil {
		t.Errorf("anonymous pull of public/app refused: %v", err)
	}
	for _, c := range [][2]string{{"public/app", "push"}, {"team/app", "pull"}} {
		if err := use(anon, c[0], c[1]); err == nil {
			t.Errorf("anonymous token allowed %s on %s", c[1], c[0])
		}
	}
	// Tampering and expiry.
	if err := use(tok[:len(tok)-2]+"AA", "team/app", "pull"); err == nil {
		t.Error("tampered token accepted")
	}
	other, _ := New(Config{Token: true, Htpasswd: htpasswd(t, "alice", "s3cret")})
	r := httptest.NewRequest("GET", "http://127.0.0.1/v2/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	if err := other.Authorize(r, "team/app", "pull"); err == nil {
		t.Error("token signed with another key accepted")
	}
	expired, _ := a.sign(claims{Audience: "warden", ExpiresAt: time.Now().Add(-time.Minute).Unix(),
		Access: []access{{Type: "repository", Name: "team/app", Actions: []string{"pull"}}}})
	if err := use(expired, "team/app", "pull"); err == nil {
		t.Error("expired token accepted")
	}
	// The challenge names the realm, service and scope.
	r = httptest.NewRequest("GET", "http://127.0.0.1:5000/v2/team/app/manifests/latest", nil)
	var ae *registry.AuthError
	if err := a.Authorize(r, "team/app", "pull"); !errors.As(err, &ae) ||
		ae.Challenge != `Bearer realm="http://127.0.0.1:5000/token",service="warden",scope="repository:team/app:pull"` {
		t.Errorf("challenge: %v", err)
	}
	// Behind a load balancer that ends TLS, the realm is the https one the client reaches.
	r = httptest.NewRequest("GET", "http://registry.example.com/v2/team/app/manifests/latest", nil)
	r.Header.Set("X-Forwarded-Proto", "https")
	if err := a.Authorize(r, "team/app", "pull"); !errors.As(err, &ae) ||
		ae.Challenge != `Bearer realm="https://registry.example.com/token",service="warden",scope="repository:team/app:pull"` {
		t.Errorf("challenge behind a TLS-ending balancer: %v", err)
	}
}

// FuzzParseHtpasswd: any input parses or is refused, never a panic; every
// accepted user has a whole bcrypt hash of a valid cost (a line cut short is refused).
func FuzzParseHtpasswd(f *testing.F) {
	f.Add("alice:$2y$05$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2bT/r7q1BB8I2s0BRqC\n")
	f.Add("alice:$2y$05$c4WoMPo3SXsafkva.HHa6uXQZWr7oboPiC2b")
	f.Add("# comment\n\nbob:{SHA}x\n")
	f.Fuzz(func(t *testing.T, s string) {
		hp, err := ParseHtpasswd(strings.NewReader(s))
		if err != nil {
			return
		}
		for u, hash := range hp.users {
			if _, err := bcrypt.Cost(hash); u == "" || len(hash) != bcryptLen || err != nil {
				t.Fatalf("accepted user %q with hash %q (%v)", u, hash, err)
			}
		}
	})
}

func FuzzVerifyToken(f *testing.F) {
	a, _ := New(Config{Token: true, Htpasswd: &Htpasswd{users: map[string][]byte{}}, Key: []byte("k")})
	good, _ := a.sign(claims{Audience: "warden", ExpiresAt: time.Now().Add(time.Hour).Unix()})
	f.Add(good)
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := a.verify(s)
		if err == nil && c == nil {
			t.Fatal("nil claims without error")
		}
	})
}

func FuzzParseScope(f *testing.F) {
	f.Add("repository:library/alpine:pull,push")
	f.Add("registry:catalog:*")
	f.Add("repository:host:5000/x:pull")
	f.Fuzz(func(t *testing.T, s string) { _, _ = parseScope(s) })
}
