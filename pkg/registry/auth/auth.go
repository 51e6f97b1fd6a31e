// Package auth authenticates and authorizes registry requests: htpasswd
// (bcrypt) basic auth, and Docker's token flow (a /token endpoint that issues
// short-lived bearer JWTs carrying per-repository pull/push scopes).
package auth

import (
	"bufio"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wardensec/warden/pkg/registry"
)

// Htpasswd holds bcrypt password hashes by user.
type Htpasswd struct {
	users map[string][]byte
}

// LoadHtpasswd reads an htpasswd file (bcrypt entries only: htpasswd -B).
func LoadHtpasswd(file string) (*Htpasswd, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("htpasswd: %w", err)
	}
	defer f.Close()
	h, err := ParseHtpasswd(f)
	if err != nil {
		return nil, fmt.Errorf("htpasswd %s: %w", file, err)
	}
	return h, nil
}

// ParseHtpasswd parses "user:$2y$..." lines; blank lines and # comments are skipped.
func ParseHtpasswd(r io.Reader) (*Htpasswd, error) {
	h := &Htpasswd{users: map[string][]byte{}}
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		user, hash, ok := strings.Cut(line, ":")
		if !ok || user == "" {
			return nil, fmt.Errorf("line %d: want user:hash", n)
		}
		if !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$") {
			return nil, fmt.Errorf("line %d: user %q: only bcrypt hashes are accepted (htpasswd -B)", n, user)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return nil, fmt.Errorf("line %d: user %q: bad bcrypt hash: %w", n, user, err)
		}
		h.users[user] = []byte(hash)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return h, nil
}

// Check reports whether pass is user's password.
func (h *Htpasswd) Check(user, pass string) bool {
	hash, ok := h.users[user]
	if !ok {
		// Same cost as a real check, so timing does not reveal user names.
		_ = bcrypt.CompareHashAndPassword(dummyHash(), []byte(pass))
		return false
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil
}

// dummyHash is made on first use: bcrypt costs ~80 ms, which every warden
// command would otherwise pay at start-up.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("dummy"), bcrypt.DefaultCost)
	return h
})

// Rule grants actions on repositories matching Repo (a path.Match pattern;
// "*" matches one path segment, so use "**" for every repository) to Users
// ("*" = any authenticated user, "anonymous" = no credentials).
type Rule struct {
	Repo    string   `yaml:"repo" json:"repo"`
	Users   []string `yaml:"users" json:"users"`
	Actions []string `yaml:"actions" json:"actions"`
}

// Config configures Auth.
type Config struct {
	Htpasswd *Htpasswd
	// Token turns on Docker's token flow; otherwise clients use basic auth.
	Token bool
	// Service is the token audience (default "warden").
	Service string
	// TokenTTL is how long a token lives (default 15 minutes).
	TokenTTL time.Duration
	// Key signs tokens (HMAC-SHA256); random when empty (tokens die with the process).
	Key []byte
	// AnonymousPull lets requests without credentials pull.
	AnonymousPull bool
	// Rules restrict access; empty means any authenticated user may pull, push and delete anywhere.
	Rules []Rule
}

// Auth implements registry.Authorizer.
type Auth struct {
	cfg   Config
	mu    sync.Mutex
	cache map[string]bool // sha256(user:pass) of recently verified basic credentials
}

// New checks cfg and returns an Auth.
func New(cfg Config) (*Auth, error) {
	if cfg.Htpasswd == nil {
		return nil, errors.New("auth: no htpasswd users configured")
	}
	if cfg.Service == "" {
		cfg.Service = "warden"
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 15 * time.Minute
	}
	if len(cfg.Key) == 0 {
		cfg.Key = make([]byte, 32)
		if _, err := rand.Read(cfg.Key); err != nil {
			return nil, err
		}
	}
	for _, r := range cfg.Rules {
		if _, err := path.Match(r.Repo, "x"); err != nil {
			return nil, fmt.Errorf("auth rule %q: %w", r.Repo, err)
		}
		for _, a := range r.Actions {
			if a != "pull" && a != "push" && a != "delete" && a != "*" {
				return nil, fmt.Errorf("auth rule %q: unknown action %q (pull, push, delete, *)", r.Repo, a)
			}
		}
	}
	return &Auth{cfg: cfg, cache: map[string]bool{}}, nil
}

// checkBasic verifies credentials; bcrypt is slow by design, so successes are cached.
func (a *Auth) checkBasic(user, pass string) bool {
	sum := sha256.Sum256([]byte(user + "\x00" + pass))
	key := hex.EncodeToString(sum[:])
	a.mu.Lock()
	ok := a.cache[key]
	a.mu.Unlock()
	if ok {
		return true
	}
	if !a.cfg.Htpasswd.Check(user, pass) {
		return false
	}
	a.mu.Lock()
	if len(a.cache) > 1000 {
		a.cache = map[string]bool{}
	}
	a.cache[key] = true
	a.mu.Unlock()
	return true
}

// Can reports whether user ("" = anonymous) may do action on repo.
func (a *Auth) Can(user, repo, action string) bool {
	if user == "" {
		if !a.cfg.AnonymousPull || action != "pull" {
			return false
		}
	}
	if len(a.cfg.Rules) == 0 {
		return user != "" || action == "pull"
	}
	for _, r := range a.cfg.Rules {
		if !matchRepo(r.Repo, repo) {
			continue
		}
		who := slices.Contains(r.Users, user) || (user != "" && slices.Contains(r.Users, "*")) || (user == "" && slices.Contains(r.Users, "anonymous"))
		if who && (slices.Contains(r.Actions, action) || slices.Contains(r.Actions, "*")) {
			return true
		}
	}
	return false
}

func matchRepo(pattern, repo string) bool {
	if pattern == "**" || pattern == repo {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, "/**"); ok {
		return repo == p || strings.HasPrefix(repo, p+"/")
	}
	ok, _ := path.Match(pattern, repo)
	return ok
}

func scopeActions(action string) string {
	if action == "pull" {
		return "pull"
	}
	if action == "delete" {
		return "delete"
	}
	return "pull,push"
}

func (a *Auth) challenge(req *http.Request, repo, action string) string {
	if !a.cfg.Token {
		return `Basic realm="warden"`
	}
	scheme := "http"
	if req.TLS != nil {
		scheme = "https"
	}
	c := fmt.Sprintf(`Bearer realm="%s://%s/token",service=%q`, scheme, req.Host, a.cfg.Service)
	if repo != "" && action != "" {
		c += fmt.Sprintf(`,scope="repository:%s:%s"`, repo, scopeActions(action))
	}
	return c
}

// Authorize implements registry.Authorizer.
func (a *Auth) Authorize(req *http.Request, repo, action string) error {
	unauth := func(msg string) error {
		return &registry.AuthError{Status: http.StatusUnauthorized, Challenge: a.challenge(req, repo, action), Message: msg}
	}
	h := req.Header.Get("Authorization")
	switch {
	case h == "":
		if action == "" && a.cfg.AnonymousPull && !a.cfg.Token {
			return nil
		}
		if action != "" && a.Can("", repo, action) {
			return nil
		}
		return unauth("credentials required")
	case strings.HasPrefix(strings.ToLower(h), "basic "):
		user, pass, ok := req.BasicAuth()
		if !ok || !a.checkBasic(user, pass) {
			return unauth("bad user name or password")
		}
		if action == "" || a.Can(user, repo, action) {
			return nil
		}
		return &registry.AuthError{Status: http.StatusForbidden, Message: fmt.Sprintf("user %q may not %s %s", user, action, repo)}
	case strings.HasPrefix(strings.ToLower(h), "bearer ") && a.cfg.Token:
		c, err := a.verify(h[len("bearer "):])
		if err != nil {
			return unauth("bad token: " + err.Error())
		}
		if action == "" || c.allows(repo, action) {
			return nil
		}
		return unauth(fmt.Sprintf("token does not grant %s on %s", action, repo))
	}
	return unauth("unsupported authorization scheme")
}

// IdentityCan implements registry.IdentityAuthorizer: whether the user behind
// the request's credentials (basic, or the subject of a valid token) may do
// action on repo, whatever scopes the token carries.
func (a *Auth) IdentityCan(req *http.Request, repo, action string) bool {
	h := req.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(strings.ToLower(h), "basic "):
		user, pass, ok := req.BasicAuth()
		return ok && a.checkBasic(user, pass) && a.Can(user, repo, action)
	case strings.HasPrefix(strings.ToLower(h), "bearer ") && a.cfg.Token:
		c, err := a.verify(h[len("bearer "):])
		return err == nil && c.Subject != "" && a.Can(c.Subject, repo, action)
	}
	return false
}

// --- tokens ---

type access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

type claims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  string   `json:"aud"`
	ExpiresAt int64    `json:"exp"`
	NotBefore int64    `json:"nbf"`
	IssuedAt  int64    `json:"iat"`
	ID        string   `json:"jti"`
	Access    []access `json:"access"`
}

func (c *claims) allows(repo, action string) bool {
	for _, a := range c.Access {
		if a.Type == "repository" && a.Name == repo && (slices.Contains(a.Actions, action) || slices.Contains(a.Actions, "*")) {
			return true
		}
	}
	return false
}

var b64 = base64.RawURLEncoding

func (a *Auth) sign(c claims) (string, error) {
	hdr := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	msg := hdr + "." + b64.EncodeToString(body)
	mac := hmac.New(sha256.New, a.cfg.Key)
	mac.Write([]byte(msg))
	return msg + "." + b64.EncodeToString(mac.Sum(nil)), nil
}

// verify checks a token's signature, algorithm, audience and lifetime.
func (a *Auth) verify(tok string) (*claims, error) {
	parts := strings.Split(strings.TrimSpace(tok), ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	hb, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(hb, &hdr); err != nil || hdr.Alg != "HS256" {
		return nil, fmt.Errorf("unsupported algorithm %q", hdr.Alg)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("signature: %w", err)
	}
	mac := hmac.New(sha256.New, a.cfg.Key)
	mac.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, errors.New("signature does not verify")
	}
	cb, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	var c claims
	if err := json.Unmarshal(cb, &c); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	now := time.Now().Unix()
	if c.Audience != a.cfg.Service {
		return nil, fmt.Errorf("audience %q is not %q", c.Audience, a.cfg.Service)
	}
	if now >= c.ExpiresAt {
		return nil, errors.New("expired")
	}
	if now+60 < c.NotBefore {
		return nil, errors.New("not valid yet")
	}
	return &c, nil
}

// parseScope parses "repository:name:pull,push".
func parseScope(s string) (access, bool) {
	i := strings.Index(s, ":")
	j := strings.LastIndex(s, ":")
	if i < 0 || j <= i {
		return access{}, false
	}
	return access{Type: s[:i], Name: s[i+1 : j], Actions: strings.Split(s[j+1:], ",")}, true
}

// TokenHandler serves GET /token: Docker's token endpoint. Credentials come by
// basic auth (absent: anonymous); each requested scope is granted only the
// actions the user may do.
func (a *Auth) TokenHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		user := ""
		if req.Header.Get("Authorization") != "" {
			u, p, ok := req.BasicAuth()
			if !ok || !a.checkBasic(u, p) {
				w.Header().Set("WWW-Authenticate", `Basic realm="warden"`)
				writeTokenError(w, http.StatusUnauthorized, "bad user name or password")
				return
			}
			user = u
		} else if !a.cfg.AnonymousPull {
			w.Header().Set("WWW-Authenticate", `Basic realm="warden"`)
			writeTokenError(w, http.StatusUnauthorized, "credentials required")
			return
		}
		if svc := req.URL.Query().Get("service"); svc != "" && svc != a.cfg.Service {
			writeTokenError(w, http.StatusBadRequest, fmt.Sprintf("unknown service %q", svc))
			return
		}
		var granted []access
		for _, s := range req.URL.Query()["scope"] {
			for _, one := range strings.Split(s, " ") {
				sc, ok := parseScope(one)
				if !ok || sc.Type != "repository" {
					continue
				}
				var acts []string
				for _, act := range sc.Actions {
					if act == "*" {
						for _, x := range []string{"pull", "push", "delete"} {
							if a.Can(user, sc.Name, x) {
								acts = append(acts, x)
							}
						}
						continue
					}
					if a.Can(user, sc.Name, act) && !slices.Contains(acts, act) {
						acts = append(acts, act)
					}
				}
				granted = append(granted, access{Type: "repository", Name: sc.Name, Actions: acts})
			}
		}
		now := time.Now()
		var id [12]byte
		_, _ = rand.Read(id[:])
		tok, err := a.sign(claims{
			Issuer: "warden", Subject: user, Audience: a.cfg.Service,
			ExpiresAt: now.Add(a.cfg.TokenTTL).Unix(), NotBefore: now.Add(-time.Minute).Unix(), IssuedAt: now.Unix(),
			ID: hex.EncodeToString(id[:]), Access: granted,
		})
		if err != nil {
			writeTokenError(w, http.StatusInternalServerError, err.Error())
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token": tok, "access_token": tok, "expires_in": int(a.cfg.TokenTTL.Seconds()),
			"issued_at": now.UTC().Format(time.RFC3339),
		})
	})
}

func writeTokenError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": "UNAUTHORIZED", "message": msg}}})
}
