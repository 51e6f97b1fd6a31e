package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/wardensec/warden/pkg/registry"
)

func TestLimiterBackoff(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	l := newLimiter(3, time.Second, 10*time.Second)
	l.now = func() time.Time { return now }
	want := []time.Duration{0, 0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for i, w := range want {
		l.fail("ip:192.0.2.1")
		if got := l.wait("ip:192.0.2.1"); got != w {
			t.Errorf("after failure %d: blocked for %v, want %v", i+1, got, w)
		}
	}
	if got := l.wait("ip:192.0.2.2", "user:alice"); got != 0 {
		t.Errorf("other keys blocked for %v", got)
	}
	if got := l.wait("user:alice", "ip:192.0.2.1"); got != 10*time.Second {
		t.Errorf("the longest wait of several keys: %v", got)
	}
	now = now.Add(11 * time.Second)
	if got := l.wait("ip:192.0.2.1"); got != 0 {
		t.Errorf("after the backoff: still blocked for %v", got)
	}
	l.fail("ip:192.0.2.1") // failures are remembered within the window
	if got := l.wait("ip:192.0.2.1"); got != 10*time.Second {
		t.Errorf("a failure after the backoff: %v, want the ceiling", got)
	}
	now = now.Add(failureWindow + time.Minute)
	l.fail("ip:192.0.2.1") // forgotten after the window: a free failure again
	if got := l.wait("ip:192.0.2.1"); got != 0 {
		t.Errorf("a failure after the window: blocked for %v", got)
	}
	for range 5 {
		l.fail("ip:192.0.2.1")
	}
	l.reset("ip:192.0.2.1")
	if got := l.wait("ip:192.0.2.1"); got != 0 {
		t.Errorf("after a reset: blocked for %v", got)
	}
}

func TestLimiterBounded(t *testing.T) {
	l := newLimiter(1, time.Minute, time.Hour)
	l.maxEntries = 10
	for i := range 10 {
		l.fail("k" + strconv.Itoa(i)) // one free failure each: recorded, not blocked
	}
	l.fail("new")
	if len(l.m) > 10 {
		t.Fatalf("limiter holds %d keys, bound 10", len(l.m))
	}
	for range 2 {
		l.fail("blocked")
	}
	if l.wait("blocked") == 0 {
		t.Error("a key failing twice (one free failure) is not blocked")
	}
}

func TestClientKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.7:5555":             "ip:192.0.2.7",
		"[2001:db8:1:2:3:4:5:6]:443": "ip:2001:db8:1:2::/64",
		"[2001:db8:1:2:ffff::1]:443": "ip:2001:db8:1:2::/64",
		"[::ffff:192.0.2.7]:1":       "ip:192.0.2.7",
		"pipe":                       "ip:pipe",
	} {
		if got := clientKey(in); got != want {
			t.Errorf("clientKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHashPoolBounded: no more than the pool's workers compare at once, at
// most queue callers wait, the rest are refused at once.
func TestHashPoolBounded(t *testing.T) {
	p := newHashPool(2, 3)
	release := make(chan struct{})
	var running, most, full atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.do(context.Background(), func() {
				n := running.Add(1)
				for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
				}
				<-release
				running.Add(-1)
			})
			if errors.Is(err, errPoolFull) {
				full.Add(1)
			} else if err != nil {
				t.Error(err)
			}
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); full.Load() < 5 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if most.Load() != 2 || full.Load() != 5 {
		t.Errorf("at most %d ran at once (want 2), %d refused (want 10 - 2 running - 3 queued = 5)", most.Load(), full.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p2 := newHashPool(1, 1)
	p2.slots <- struct{}{}
	if err := p2.do(ctx, func() { t.Error("ran without a slot") }); !errors.Is(err, context.Canceled) {
		t.Errorf("a caller giving up while queued: %v", err)
	}
}

func basicReq(remote, user, pass, path string) *http.Request {
	r := httptest.NewRequest("GET", "http://127.0.0.1"+path, nil)
	r.RemoteAddr = remote
	if user != "" {
		r.SetBasicAuth(user, pass)
	}
	return r
}

func status(err error) int {
	var ae *registry.AuthError
	if errors.As(err, &ae) {
		return ae.Status
	}
	if err != nil {
		return -1
	}
	return 200
}

// TestFailedLoginsLimited: wrong passwords from one address, or for one user,
// are answered 429 with a Retry-After past the free failures — through the
// registry handler, the token endpoint and the UI's Authorize alike — while
// other addresses and users, and logins verified before the attack, go on.
func TestFailedLoginsLimited(t *testing.T) {
	a, err := New(Config{Htpasswd: htpasswd(t, "alice", "s3cret", "bob", "hunter2", "carol", "pw"), Token: true,
		FreeFailures: 3, Backoff: time.Minute, MaxBackoff: time.Hour, Tarpit: -1})
	if err != nil {
		t.Fatal(err)
	}
	const attacker, other = "198.51.100.9:40000", "203.0.113.5:40000"
	if err := a.Authorize(basicReq(attacker, "carol", "pw", "/v2/"), "", ""); err != nil {
		t.Fatalf("carol before the attack: %v", err)
	}
	for i := range 3 {
		if got := status(a.Authorize(basicReq(attacker, "alice", "guess"+strconv.Itoa(i), "/v2/"), "", "")); got != 401 {
			t.Fatalf("free failure %d: %d, want 401", i+1, got)
		}
	}
	if got := status(a.Authorize(basicReq(attacker, "alice", "guess", "/v2/"), "", "")); got != 401 {
		t.Fatalf("failure 4: %d, want 401 (it blocks what follows)", got)
	}
	err = a.Authorize(basicReq(attacker, "alice", "s3cret", "/v2/"), "", "")
	var ae *registry.AuthError
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests || ae.RetryAfter <= 50*time.Second || ae.RetryAfter > time.Minute {
		t.Fatalf("the right password from the blocked address: %v (%+v), want 429 retry after ~1m", err, ae)
	}
	// Other users from the blocked address: the address is blocked.
	if got := status(a.Authorize(basicReq(attacker, "bob", "hunter2", "/v2/"), "", "")); got != 429 {
		t.Errorf("bob from the blocked address: %d, want 429", got)
	}
	// alice from elsewhere: the user is blocked too (a distributed guess).
	if got := status(a.Authorize(basicReq(other, "alice", "s3cret", "/v2/"), "", "")); got != 429 {
		t.Errorf("alice from another address: %d, want 429", got)
	}
	// bob from elsewhere, and carol's already verified login from the blocked address, go on.
	if got := status(a.Authorize(basicReq(other, "bob", "hunter2", "/v2/"), "", "")); got != 200 {
		t.Errorf("bob from another address: %d", got)
	}
	if got := status(a.Authorize(basicReq(attacker, "carol", "pw", "/v2/"), "", "")); got != 200 {
		t.Errorf("carol's verified login from the blocked address: %d", got)
	}

	// The registry answers 429 TOOMANYREQUESTS with Retry-After.
	reg, err := registry.New(registry.Options{Root: t.TempDir(), Auth: a})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	w := httptest.NewRecorder()
	reg.ServeHTTP(w, basicReq(attacker, "alice", "s3cret", "/v2/"))
	if ra, _ := strconv.Atoi(w.Header().Get("Retry-After")); w.Code != 429 || ra < 50 || ra > 60 || !strings.Contains(w.Body.String(), "TOOMANYREQUESTS") {
		t.Errorf("registry: %d, Retry-After %q, %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	// So does the token endpoint.
	w = httptest.NewRecorder()
	a.TokenHandler().ServeHTTP(w, basicReq(attacker, "alice", "s3cret", "/token?service=warden"))
	if w.Code != 429 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), "TOOMANYREQUESTS") {
		t.Errorf("token endpoint: %d, Retry-After %q, %s", w.Code, w.Header().Get("Retry-After"), w.Body)
	}
	// A blocked unknown user is answered as a blocked known one.
	for range 5 {
		_ = a.Authorize(basicReq("192.0.2.200:1", "mallory", "x", "/v2/"), "", "")
	}
	if got := status(a.Authorize(basicReq("192.0.2.201:1", "mallory", "x", "/v2/"), "", "")); got != 429 {
		t.Errorf("unknown user after failures: %d, want 429 like a known one", got)
	}
}

// TestUnknownUserCostsTheSame: an unknown user is compared against a dummy
// hash of the users' own cost, so the time does not tell unknown users from
// wrong passwords (a cost-10 dummy against htpasswd -B's cost 5 would take
// 32 times as long).
func TestUnknownUserCostsTheSame(t *testing.T) {
	for _, cost := range []int{bcrypt.MinCost, 6} {
		var b strings.Builder
		for _, u := range []string{"alice", "bob", "carol"} {
			h, _ := bcrypt.GenerateFromPassword([]byte(u), cost)
			b.WriteString(u + ":" + string(h) + "\n")
		}
		hp, err := ParseHtpasswd(strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := bcrypt.Cost(dummyHash(hp.cost)); got != cost {
			t.Errorf("users of cost %d: dummy hash of cost %d", cost, got)
		}
		median := func(user string) time.Duration {
			var ds []time.Duration
			for range 9 {
				start := time.Now()
				if hp.Check(user, "wrong") {
					t.Fatal("wrong password accepted")
				}
				ds = append(ds, time.Since(start))
			}
			sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
			return ds[len(ds)/2]
		}
		known, unknown := median("alice"), median("nobody")
		if unknown > 4*known || known > 4*unknown {
			t.Errorf("cost %d: a wrong password takes %v, an unknown user %v", cost, known, unknown)
		}
	}
}

func writeHtpasswd(t *testing.T, file string, users ...string) {
	t.Helper()
	var b strings.Builder
	for i := 0; i+1 < len(users); i += 2 {
		h, _ := bcrypt.GenerateFromPassword([]byte(users[i+1]), bcrypt.MinCost)
		b.WriteString(users[i] + ":" + string(h) + "\n")
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// TestReloadHtpasswd: a user added to the file can log in after a reload; a
// removed user or a changed password stops working at once (the login cache
// is keyed by the hash); a half-written, invalid or emptied file keeps the
// users loaded before.
func TestReloadHtpasswd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	writeHtpasswd(t, file, "alice", "a1", "bob", "b1")
	hp, err := LoadHtpasswd(file)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Htpasswd: hp})
	if err != nil {
		t.Fatal(err)
	}
	login := func(user, pass string) int {
		return status(a.Authorize(basicReq("192.0.2.1:1", user, pass, "/v2/"), "", ""))
	}
	if login("alice", "a1") != 200 || login("bob", "b1") != 200 || login("carol", "c1") != 401 {
		t.Fatal("before the reload")
	}
	writeHtpasswd(t, file, "alice", "a2", "carol", "c1")
	if err := a.ReloadHtpasswd(file); err != nil {
		t.Fatal(err)
	}
	if got := [4]int{login("carol", "c1"), login("alice", "a2"), login("alice", "a1"), login("bob", "b1")}; got != [4]int{200, 200, 401, 401} {
		t.Errorf("after the reload: carol, alice new, alice old (cached), bob (removed, cached) = %v, want [200 200 401 401]", got)
	}

	good, _ := os.ReadFile(file)
	line := strings.SplitAfter(string(good), "\n")
	for name, content := range map[string]string{
		"cut mid-hash":   line[0] + line[1][:30],
		"empty":          "",
		"comments only":  "# being rewritten\n",
		"not bcrypt":     line[0] + "dave:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n",
		"cut mid-prefix": line[0] + "dave:$2",
	} {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		err := a.ReloadHtpasswd(file)
		if err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "keeping the 2 users") {
			t.Errorf("%s: reload error %v", name, err)
		}
		if login("carol", "c1") != 200 || login("alice", "a2") != 200 {
			t.Errorf("%s: the users loaded before stopped working", name)
		}
	}
	if err := a.ReloadHtpasswd(file + ".missing"); err == nil {
		t.Error("a missing file reloaded")
	}
	if login("carol", "c1") != 200 {
		t.Error("a missing file dropped the users")
	}
}

// TestWatchHtpasswd: the watcher reloads a changed file once it holds still,
// and keeps the old users while the file is invalid.
func TestWatchHtpasswd(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	writeHtpasswd(t, file, "alice", "a1")
	hp, err := LoadHtpasswd(file)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Htpasswd: hp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.WatchHtpasswd(ctx, file, 10*time.Millisecond)
	login := func(user, pass string) int {
		return status(a.Authorize(basicReq("192.0.2.1:1", user, pass, "/v2/"), "", ""))
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			if cond() {
				return
			}
		}
		t.Fatalf("not seen within 5s: %s", what)
	}
	time.Sleep(30 * time.Millisecond) // the watcher has taken its first look
	writeHtpasswd(t, file, "alice", "a1", "bob", "b1")
	waitFor("bob added", func() bool { return a.users.Load().Len() == 2 })
	if login("bob", "b1") != 200 {
		t.Fatal("bob cannot log in after the reload")
	}
	// Half-written: the old users stay, however long the file stays so.
	good, _ := os.ReadFile(file)
	if err := os.WriteFile(file, good[:len(good)-20], 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if a.users.Load().Len() != 2 || login("alice", "a1") != 200 || login("bob", "b1") != 200 {
		t.Fatal("a half-written file replaced the users")
	}
	writeHtpasswd(t, file, "bob", "b1")
	waitFor("alice removed", func() bool { return a.users.Load().Len() == 1 })
	if login("alice", "a1") != 401 || login("bob", "b1") != 200 {
		t.Error("after alice was removed")
	}
}

// TestBypassOnlyExplicit: the bypass action is granted only by a rule that
// names it — never by push, delete or "*", never without rules, never to
// anonymous callers — and PullFilter lists what each identity may pull.
func TestBypassOnlyExplicit(t *testing.T) {
	hp := htpasswd(t, "signer", "s", "ci", "c", "admin", "a")
	a, err := New(Config{Htpasswd: hp, AnonymousPull: true, Rules: []Rule{
		{Repo: "prod/**", Users: []string{"signer"}, Actions: []string{"pull", "push", "bypass"}},
		{Repo: "prod/**", Users: []string{"ci"}, Actions: []string{"pull", "push", "delete"}},
		{Repo: "**", Users: []string{"admin"}, Actions: []string{"*"}},
		{Repo: "**", Users: []string{"anonymous"}, Actions: []string{"pull", "bypass"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		user, repo string
		want       bool
	}{
		{"signer", "prod/app", true},
		{"signer", "dev/app", false},
		{"ci", "prod/app", false},
		{"admin", "prod/app", false},
		{"", "prod/app", false},
	} {
		if got := a.Can(c.user, c.repo, registry.ActionBypass); got != c.want {
			t.Errorf("Can(%q, %q, bypass) = %v, want %v", c.user, c.repo, got, c.want)
		}
	}
	open, err := New(Config{Htpasswd: hp}) // no rules: everyone may push, nobody may bypass
	if err != nil {
		t.Fatal(err)
	}
	if !open.Can("ci", "prod/app", "push") || open.Can("ci", "prod/app", registry.ActionBypass) {
		t.Error("without rules: push must be allowed and bypass not")
	}
	if _, err := New(Config{Htpasswd: hp, Rules: []Rule{{Repo: "**", Users: []string{"x"}, Actions: []string{"bypas"}}}}); err == nil {
		t.Error("a misspelt action was accepted")
	}
	ia := func(user, pass, repo string) bool {
		return a.IdentityCan(basicReq("192.0.2.1:1", user, pass, "/v2/"), repo, registry.ActionBypass)
	}
	if !ia("signer", "s", "prod/app") || ia("ci", "c", "prod/app") || ia("signer", "wrong", "prod/app") {
		t.Error("IdentityCan(bypass)")
	}
}

func TestPullFilter(t *testing.T) {
	a, err := New(Config{Htpasswd: htpasswd(t, "alice", "a", "bob", "b"), Token: true, Rules: []Rule{
		{Repo: "team-a/**", Users: []string{"alice"}, Actions: []string{"pull", "push"}},
		{Repo: "team-b/**", Users: []string{"bob"}, Actions: []string{"pull", "push"}},
		{Repo: "public/*", Users: []string{"anonymous", "*"}, Actions: []string{"pull"}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	repos := []string{"team-a/app", "team-b/app", "public/base", "secret/x"}
	list := func(req *http.Request) string {
		f := a.PullFilter(req)
		var out []string
		for _, r := range repos {
			if f(r) {
				out = append(out, r)
			}
		}
		return strings.Join(out, " ")
	}
	tok := func(user, pass string) string {
		w := httptest.NewRecorder()
		a.TokenHandler().ServeHTTP(w, basicReq("192.0.2.1:1", user, pass, "/token?service=warden&scope=registry:catalog:*"))
		var v struct{ Token string }
		if err := jsonDecode(w.Body.String(), &v); err != nil || v.Token == "" {
			t.Fatalf("token for %s: %d %s", user, w.Code, w.Body)
		}
		return v.Token
	}
	bearer := func(tk string) *http.Request {
		r := basicReq("192.0.2.1:1", "", "", "/v2/_catalog")
		r.Header.Set("Authorization", "Bearer "+tk)
		return r
	}
	forged := basicReq("192.0.2.1:1", "", "", "/v2/_catalog")
	forged.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("alice:wrong")))
	for name, c := range map[string]struct {
		req  *http.Request
		want string
	}{
		"alice":        {basicReq("192.0.2.1:1", "alice", "a", "/v2/_catalog"), "team-a/app public/base"},
		"bob":          {basicReq("192.0.2.1:1", "bob", "b", "/v2/_catalog"), "team-b/app public/base"},
		"bob's token":  {bearer(tok("bob", "b")), "team-b/app public/base"},
		"anonymous":    {basicReq("192.0.2.1:1", "", "", "/v2/_catalog"), ""}, // AnonymousPull is off
		"bad password": {forged, ""},
		"bad token":    {bearer("x.y.z"), ""},
	} {
		if got := list(c.req); got != c.want {
			t.Errorf("%s sees %q, want %q", name, got, c.want)
		}
	}
}

func jsonDecode(s string, v any) error { return json.Unmarshal([]byte(s), v) }

func TestUserKeyBounded(t *testing.T) {
	long := strings.Repeat("x", 1<<20)
	if k := userKey(long); len(k) > 80 || k == userKey(long+"y") {
		t.Errorf("userKey of a 1 MiB name: %d bytes", len(k))
	}
	if userKey("alice") != "user:alice" {
		t.Error(userKey("alice"))
	}
}

// TestTarpit: a blocked login's 429 is held (Tarpit, at most the time left)
// and its Retry-After is what is left after the hold.
func TestTarpit(t *testing.T) {
	a, err := New(Config{Htpasswd: htpasswd(t, "alice", "s3cret"), FreeFailures: 1, Backoff: 10 * time.Second, Tarpit: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		_ = a.Authorize(basicReq("192.0.2.1:1", "alice", "wrong", "/v2/"), "", "")
	}
	start := time.Now()
	err = a.Authorize(basicReq("192.0.2.1:1", "alice", "wrong", "/v2/"), "", "")
	held := time.Since(start)
	var ae *registry.AuthError
	if !errors.As(err, &ae) || ae.Status != 429 || held < 200*time.Millisecond || ae.RetryAfter > 9800*time.Millisecond || ae.RetryAfter < 9*time.Second {
		t.Errorf("blocked login: %v after %v (Retry-After %v), want 429 after 200ms, ~9.8s left", err, held, ae.RetryAfter)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	_ = a.Authorize(basicReq("192.0.2.1:1", "alice", "wrong", "/v2/").WithContext(ctx), "", "")
	if time.Since(start) > 100*time.Millisecond {
		t.Error("a caller that gave up is still held")
	}
}
