package serve

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func htpasswd(t *testing.T, user, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "users.htpasswd")
	if err := os.WriteFile(f, []byte(user+":"+string(h)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func newServer(t *testing.T, c *Config) *Server {
	t.Helper()
	s, err := New(context.Background(), c, Options{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func get(t *testing.T, h http.Handler, path, user, pw string) int {
	t.Helper()
	r := httptest.NewRequest("GET", "http://127.0.0.1:5000"+path, nil)
	if user != "" {
		r.SetBasicAuth(user, pw)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Code
}

// TestMetricsRoute: with authentication on, /metrics on the registry port
// needs the API's login; with MetricsAddr it is not on the registry port.
func TestMetricsRoute(t *testing.T) {
	c := &Config{Addr: "127.0.0.1:0", Root: t.TempDir()}
	c.Scan.Disabled = true
	c.Auth.Htpasswd = htpasswd(t, "alice", "pw")
	h := newServer(t, c).Handler()
	for _, tc := range []struct {
		user, pw string
		want     int
	}{{"", "", 401}, {"alice", "wrong", 401}, {"alice", "pw", 200}} {
		if got := get(t, h, "/metrics", tc.user, tc.pw); got != tc.want {
			t.Errorf("/metrics as %q/%q: %d, want %d", tc.user, tc.pw, got, tc.want)
		}
	}
	if got := get(t, h, "/v2/", "alice", "pw"); got != 200 {
		t.Errorf("/v2/ as alice: %d", got)
	}

	c2 := *c
	c2.Root = t.TempDir()
	c2.MetricsAddr = "127.0.0.1:0"
	if got := get(t, newServer(t, &c2).Handler(), "/metrics", "alice", "pw"); got != 404 {
		t.Errorf("/metrics on the registry port with MetricsAddr: %d, want 404", got)
	}
}

// TestNewRefuses: configurations New must refuse, each with an error naming
// what is wrong.
func TestNewRefuses(t *testing.T) {
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte("version: 1\n"), 0o644)
	for _, tc := range []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"no port", func(c *Config) { c.Addr = "127.0.0.1" }, `--addr "127.0.0.1"`},
		{"public without auth", func(c *Config) { c.Addr = "0.0.0.0:5000" }, "refusing to listen on"},
		{"tls half", func(c *Config) { c.TLS.Cert = "c.pem" }, "TLS needs both"},
		{"gc interval", func(c *Config) { c.GC.Interval = "often" }, `gc interval "often"`},
		{"gc grace", func(c *Config) { c.GC.Interval, c.GC.Grace = "1h", "-1s" }, `gc grace "-1s"`},
		{"db check", func(c *Config) { c.Scan.DBCheck = "0s" }, `scan.dbCheck "0s"`},
		{"policy and gate", func(c *Config) { c.Policy, c.Gate.Repos = pol, []string{"**"} }, "either a policy"},
		{"missing htpasswd", func(c *Config) { c.Auth.Htpasswd = "/nonexistent/users.htpasswd" }, "/nonexistent/users.htpasswd"},
		{"missing key", func(c *Config) { c.TrustedKeys = []string{"/nonexistent/key.pub"} }, "--trusted-key"},
		{"bad storage", func(c *Config) { c.Storage = "gs://bucket" }, "--storage"},
		{"bad meta", func(c *Config) { c.Meta = "mysql://x" }, "--meta"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{Addr: "127.0.0.1:0", Root: t.TempDir()}
			c.Scan.Disabled = true
			tc.edit(c)
			s, err := New(context.Background(), c, Options{CacheDir: t.TempDir()})
			if err == nil {
				s.Close()
				t.Fatalf("New accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// TestLoadConfig: keys are read, unknown keys are errors naming the file.
func TestLoadConfig(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "serve.yaml")
	os.WriteFile(good, []byte("addr: 127.0.0.1:5001\nstorage: s3://b/p?endpoint=http://127.0.0.1:8333&region=us-east-1\n"+
		"metricsAddr: 127.0.0.1:9100\ngc: {interval: 6h, grace: 1h}\nauth: {htpasswd: u, token: true, tokenKeyFile: k}\n"), 0o644)
	c, err := LoadConfig(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:5001" || c.MetricsAddr != "127.0.0.1:9100" || c.GC.Interval != "6h" || !c.Auth.Token || c.Auth.TokenKeyFile != "k" ||
		!strings.HasPrefix(c.Storage, "s3://b/p?") {
		t.Errorf("LoadConfig: %+v", c)
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("adr: 127.0.0.1:5001\n"), 0o644)
	if _, err := LoadConfig(bad); err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "adr") {
		t.Errorf("unknown key: %v", err)
	}
	if c, err := LoadConfig(""); err != nil || c.Addr != "" {
		t.Errorf("no file: %+v, %v", c, err)
	}
}
