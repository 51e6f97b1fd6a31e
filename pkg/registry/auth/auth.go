// Package auth authenticates and authorizes registry requests: htpasswd
// (bcrypt) basic auth, and Docker's token flow (a /token endpoint that issues
// short-lived bearer JWTs carrying per-repository pull/push scopes).
//
// Failed logins are limited per client address and per user (429 with
// Retry-After) and compared on a small fixed pool (limit.go); the htpasswd
// file is reloaded when it changes (reload.go).
package auth

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wardensec/warden/pkg/registry"
)

// Htpasswd holds bcrypt password hashes by user.
type Htpasswd struct {
	users map[string][]byte
	cost  int // the most common cost among the hashes: what an unknown user is compared at
}

// Len is the number of users.
func (h *Htpasswd) Len() int { return len(h.users) }

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
	costs := map[int]int{}
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
		cost, err := bcrypt.Cost([]byte(hash))
		if err != nil {
			return nil, fmt.Errorf("line %d: user %q: bad bcrypt hash: %w", n, user, err)
		}
		if len(hash) != bcryptLen {
			// bcrypt.Cost reads only the prefix: a line cut short (a file
			// still being written) must not load as a user who cannot log in.
			return nil, fmt.Errorf("line %d: user %q: bcrypt hash of %d characters, want %d (cut short?)", n, user, len(hash), bcryptLen)
		}
		h.users[user] = []byte(hash)
		costs[cost]++
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	h.cost = bcrypt.DefaultCost
	best := 0
	for c, k := range costs {
		if k > best || (k == best && c > h.cost) {
			h.cost, best = c, k
		}
	}
	return h, nil
}

const bcryptLen = 60 // "$2y$10$" + 22 characters of salt + 31 of hash

// Check reports whether pass is user's password. It costs one bcrypt
// comparison whether or not the user exists.
func (h *Htpasswd) Check(user, pass string) bool {
	hash, ok := h.users[user]
	if !ok {
		// A hash of the users' own cost, so timing does not tell an unknown
		// user from a wrong password (htpasswd -B defaults to cost 5, Go to 10).
		_ = bcrypt.CompareHashAndPassword(dummyHash(h.cost), []byte(pass))
		return false
	}
	return bcrypt.CompareHashAndPassword(hash, []byte(pass)) == nil
}

var dummyHashes sync.Map // cost → []byte

// dummyHash is made on first use per cost: bcrypt at cost 10 takes ~80 ms,
// which every warden command would otherwise pay at start-up.
func dummyHash(cost int) []byte {
	if h, ok := dummyHashes.Load(cost); ok {
		return h.([]byte)
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	h, err := bcrypt.GenerateFromPassword([]byte(hex.EncodeToString(b[:])), cost)
	if err != nil {
		h, _ = bcrypt.GenerateFromPassword(b[:], bcrypt.DefaultCost)
	}
	v, _ := dummyHashes.LoadOrStore(cost, h)
	return v.([]byte)
}

// Rule grants actions on repositories matching Repo (a path.Match pattern;
// "*" matches one path segment, so use "**" for every repository) to Users
// ("*" = any authenticated user, "anonymous" = no credentials). Actions are
// pull, push, delete, "*" (all three) and bypass: reading manifests past the
// pull gate, for the identity that signs. Only a rule naming bypass grants it.
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
	// Rules restrict access; empty means any authenticated user may pull,
	// push and delete anywhere (nobody may bypass the pull gate).
	Rules []Rule

	// HashWorkers is how many bcrypt comparisons run at once (default: a
	// quarter of the CPUs, at least 1); HashQueue how many more may wait for
	// one (default 16 per worker) before logins are answered 429.
	HashWorkers, HashQueue int
	// FreeFailures is how many failed logins a client address or a user name
	// may have before each further failure blocks it (default 5) for Backoff
	// (default 1s), doubling up to MaxBackoff (default 5m).
	FreeFailures        int
	Backoff, MaxBackoff time.Duration
	// Tarpit holds the 429 answer to a blocked login, or to one that finds
	// the hashing queue full, this long (default 1s, at most the time left;
	// negative: answer at once), so that a client that does not wait for
	// Retry-After sends one request per connection and tarpit, not thousands
	// a second.
	Tarpit time.Duration
	// Logger hears of htpasswd reloads; nil: silent.
	Logger *slog.Logger
}

// Auth implements registry.Authorizer.
type Auth struct {
	cfg      Config
	users    atomic.Pointer[Htpasswd]
	limit    *limiter
	pool     *hashPool
	log      *slog.Logger
	reloadMu sync.Mutex

	mu    sync.Mutex
	cache map[string]string // sha256(user:pass) of verified basic credentials → the hash they matched
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
			if a != "pull" && a != "push" && a != "delete" && a != "*" && a != registry.ActionBypass {
				return nil, fmt.Errorf("auth rule %q: unknown action %q (pull, push, delete, *, bypass)", r.Repo, a)
			}
		}
	}
	workers := cfg.HashWorkers
	if workers <= 0 {
		workers = max(1, runtime.GOMAXPROCS(0)/4)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Auth{cfg: cfg, cache: map[string]string{}, log: log,
		limit: newLimiter(cfg.FreeFailures, cfg.Backoff, cfg.MaxBackoff),
		pool:  newHashPool(workers, cfg.HashQueue)}
	a.users.Store(cfg.Htpasswd)
	return a, nil
}

var errBadCredentials = errors.New("bad user name or password")

func tooMany(wait time.Duration, msg string) *registry.AuthError {
	return &registry.AuthError{Status: http.StatusTooManyRequests, RetryAfter: wait, Message: msg}
}

// checkBasic verifies credentials: nil, errBadCredentials, a 429
// *registry.AuthError when the client address or the user is blocked (or
// the hashing queue is full), or the request's context error. Successes are
// cached (bcrypt is slow by design) for as long as the user's hash is the one
// they matched, so a reloaded htpasswd takes effect at once.
func (a *Auth) checkBasic(req *http.Request, user, pass string) error {
	hp := a.users.Load()
	sum := sha256.Sum256([]byte(user + "\x00" + pass))
	key := hex.EncodeToString(sum[:])
	hash, known := hp.users[user]
	a.mu.Lock()
	matched, ok := a.cache[key]
	a.mu.Unlock()
	if ok && known && matched == string(hash) {
		return nil
	}
	keys := []string{clientKey(req.RemoteAddr), userKey(user)}
	if w := a.limit.wait(keys...); w > 0 {
		return tooMany(a.tarpit(req.Context(), w), "too many failed logins; try again later")
	}
	var match bool
	var blocked time.Duration
	err := a.pool.do(req.Context(), func() {
		// Blocked while waiting (by failures of requests queued before)?
		if blocked = a.limit.wait(keys...); blocked == 0 {
			match = hp.Check(user, pass)
		}
	})
	switch {
	case err == errPoolFull:
		// Held too: else a flood is answered as fast as it is sent whenever a
		// block expires and the queue fills before the next failure blocks again.
		return tooMany(max(time.Second, a.tarpit(req.Context(), time.Second)), err.Error())
	case err != nil:
		return err
	case blocked > 0:
		return tooMany(blocked, "too many failed logins; try again later")
	case !match:
		a.limit.fail(keys...)
		return errBadCredentials
	}
	a.limit.reset(keys...)
	a.mu.Lock()
	if len(a.cache) > 1000 {
		a.cache = map[string]string{}
	}
	a.cache[key] = string(hash)
	a.mu.Unlock()
	return nil
}

// tarpit waits min(Tarpit, w) (or until ctx ends) and returns what is left of w.
func (a *Auth) tarpit(ctx context.Context, w time.Duration) time.Duration {
	d := a.cfg.Tarpit
	if d == 0 {
		d = time.Second
	}
	d = min(d, w)
	if d <= 0 {
		return w
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	return w - d
}

// basicError turns a checkBasic error into the answer.
func basicError(err error, unauth func(string) error) error {
	var ae *registry.AuthError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.Is(err, errBadCredentials) {
		return unauth(err.Error())
	}
	return unauth("checking credentials: " + err.Error())
}

// Can reports whether user ("" = anonymous) may do action on repo.
func (a *Auth) Can(user, repo, action string) bool {
	if user == "" {
		if !a.cfg.AnonymousPull || action != "pull" {
			return false
		}
	}
	if action == registry.ActionBypass && len(a.cfg.Rules) == 0 {
		return false // only an explicit grant bypasses the pull gate
	}
	if len(a.cfg.Rules) == 0 {
		return user != "" || action == "pull"
	}
	for _, r := range a.cfg.Rules {
		if !matchRepo(r.Repo, repo) {
			continue
		}
		who := slices.Contains(r.Users, user) || (user != "" && slices.Contains(r.Users, "*")) || (user == "" && slices.Contains(r.Users, "anonymous"))
		if who && (slices.Contains(r.Actions, action) || (action != registry.ActionBypass && slices.Contains(r.Actions, "*"))) {
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
	// Behind a load balancer that ends TLS the request arrives in plain HTTP:
	// the balancer's X-Forwarded-Proto says what the client used. The realm
	// only tells the asking client where to fetch its own token, so a forged
	// header misleads no one else.
	scheme := "http"
	if req.TLS != nil || strings.EqualFold(req.Header.Get("X-Forwarded-Proto"), "https") {
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
		if !ok {
			return unauth("bad user name or password")
		}
		if err := a.checkBasic(req, user, pass); err != nil {
			return basicError(err, unauth)
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
		return ok && a.checkBasic(req, user, pass) == nil && a.Can(user, repo, action)
	case strings.HasPrefix(strings.ToLower(h), "bearer ") && a.cfg.Token:
		c, err := a.verify(h[len("bearer "):])
		return err == nil && c.Subject != "" && a.Can(c.Subject, repo, action)
	}
	return false
}

// PullFilter implements registry.PullFilter: the caller (anonymous, the
// basic-auth user, or the subject of a valid token) is found once, and each
// repository is listed only when that identity may pull it.
func (a *Auth) PullFilter(req *http.Request) func(repo string) bool {
	user, ok := "", true
	h := req.Header.Get("Authorization")
	switch {
	case h == "":
	case strings.HasPrefix(strings.ToLower(h), "basic "):
		u, p, bok := req.BasicAuth()
		ok = bok && a.checkBasic(req, u, p) == nil
		user = u
	case strings.HasPrefix(strings.ToLower(h), "bearer ") && a.cfg.Token:
		c, err := a.verify(h[len("bearer "):])
		ok = err == nil
		if ok {
			user = c.Subject
		}
	default:
		ok = false
	}
	if !ok {
		return func(string) bool { return false }
	}
	return func(repo string) bool { return a.Can(user, repo, "pull") }
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
			err := errBadCredentials
			if ok {
				err = a.checkBasic(req, u, p)
			}
			var ae *registry.AuthError
			if errors.As(err, &ae) {
				w.Header().Set("Retry-After", registry.RetryAfterSeconds(ae.RetryAfter))
				writeTokenError(w, ae.Status, ae.Message)
				return
			}
			if err != nil {
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
	name := "UNAUTHORIZED"
	if code == http.StatusTooManyRequests {
		name = "TOOMANYREQUESTS"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": name, "message": msg}}})
}
