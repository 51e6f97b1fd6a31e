// Package serve is the composition root of `warden serve`: from a Config it
// opens the blob storage (filesystem or S3) and the metadata database (SQLite
// or PostgreSQL), builds authentication, the scanner (pkg/walk and pkg/match
// behind registry.Scanner), the pull gate (a policy or the severity gate), the
// signature checker and the registry, routes the registry API, /token,
// /api/v1/, /ui/ and /metrics, and runs the background loops: the
// vulnerability database watcher, online garbage collection and the htpasswd
// reload. cmd/warden only turns flags into a Config.
package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/pkg/cachedir"
	"github.com/wardensec/warden/pkg/httpserve"
	"github.com/wardensec/warden/pkg/layercache"
	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/policy/facts"
	"github.com/wardensec/warden/pkg/policy/registrygate"
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/registry/auth"
	"github.com/wardensec/warden/pkg/registry/meta"
	"github.com/wardensec/warden/pkg/registry/storage"
	"github.com/wardensec/warden/pkg/registry/ui"
	"github.com/wardensec/warden/pkg/source"
	"github.com/wardensec/warden/pkg/verify"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Options are what `warden serve` takes besides its Config.
type Options struct {
	// CacheDir is the state directory as given (--cache-dir); empty:
	// $WARDEN_CACHE_DIR, else the user cache directory (pkg/cachedir).
	CacheDir string
	// Logger receives the background loops' logs; nil: silent.
	Logger *slog.Logger
	// Stderr receives the status lines (listening on ..., stopped); nil: discarded.
	Stderr io.Writer
	// ToolVersion is written into the SBOMs served at /api/v1/sbom.
	ToolVersion string
}

// Server is a registry built from a Config, ready to listen.
type Server struct {
	cfg       Config
	opts      Options
	reg       *registry.Registry
	au        *auth.Auth
	lc        *layercache.Cache
	dbPath    string        // the vulnerability database the scanner reads ("" without scanning)
	dbCheck   time.Duration // how often dbPath is checked for a new database
	gcEvery   time.Duration // online GC interval (0: off)
	gcGrace   time.Duration
	storeDesc string
	upstream  *registry.Upstream
}

// DefaultRoot is root, or <state dir>/registry when root is empty.
func DefaultRoot(cacheDir, root string) (string, error) {
	if root != "" {
		return root, nil
	}
	dir, err := cachedir.Resolve(cacheDir)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "registry"), nil
}

// Run builds the server from c and serves it until ctx ends.
func Run(ctx context.Context, c *Config, o Options) error {
	s, err := New(ctx, c, o)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Serve(ctx)
}

// New checks c and builds everything it names: storage, metadata,
// authentication, scanner, gate and registry. Nothing listens yet; Close
// releases what New opened.
func New(ctx context.Context, c *Config, o Options) (_ *Server, err error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	s := &Server{cfg: *c, opts: o}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", c.Addr, err)
	}
	root, err := DefaultRoot(o.CacheDir, c.Root)
	if err != nil {
		return nil, err
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return nil, errors.New("TLS needs both --tls-cert and --tls-key")
	}
	if err := s.parseDurations(); err != nil {
		return nil, err
	}
	opt := registry.Options{Root: root, Logger: o.Logger, ScanWorkers: c.Scan.Workers, Redirect: c.StorageRedirect}
	s.storeDesc = root
	if c.Storage != "" {
		if opt.Store, err = storage.OpenURL(ctx, c.Storage, root); err != nil {
			return nil, fmt.Errorf("--storage: %w", err)
		}
		s.storeDesc = opt.Store.Describe()
	}
	if c.Meta != "" {
		if opt.Meta, err = meta.OpenURL(ctx, c.Meta, filepath.Join(root, "meta.db")); err != nil {
			return nil, fmt.Errorf("--meta: %w", err)
		}
		s.storeDesc += ", metadata " + opt.Meta.Describe()
	}
	closeMeta := func() {
		if opt.Meta != nil && s.reg == nil {
			opt.Meta.Close()
		}
	}
	defer func() {
		if err != nil {
			closeMeta()
		}
	}()

	if c.Auth.Htpasswd != "" {
		if s.au, err = newAuth(c, o.Logger); err != nil {
			return nil, err
		}
		opt.Auth = s.au
	} else if !isLoopback(host) {
		return nil, fmt.Errorf("refusing to listen on %q without authentication: configure --htpasswd, or listen on 127.0.0.1", c.Addr)
	}

	var stateDir string
	if !c.Scan.Disabled || c.Policy != "" {
		if stateDir, err = cachedir.Resolve(o.CacheDir); err != nil {
			return nil, err
		}
		if s.lc, err = layercache.Open(cachedir.LayerCachePath(stateDir)); err != nil {
			return nil, fmt.Errorf("opening the layer cache: %w", err)
		}
	}
	if !c.Scan.Disabled {
		s.dbPath = cachedir.DBPath(stateDir)
		ls := &libScanner{dbPath: s.dbPath, cache: s.lc, log: o.Logger, toolVersion: o.ToolVersion}
		opt.Scanner, opt.SBOM = ls, ls
		opt.Webhook = c.Scan.Webhook
		if _, err := os.Stat(s.dbPath); err != nil {
			fmt.Fprintf(o.Stderr, "warden serve: warning: no vulnerability database at %s yet: scans will fail until `warden db update`\n", s.dbPath)
		}
	}
	if c.Upstream != "" {
		if opt.Upstream, err = registry.NewUpstream(c.Upstream, remote.WithAuthFromKeychain(source.DockerConfigKeychain(""))); err != nil {
			return nil, err
		}
		s.upstream = opt.Upstream
	}
	var pgate *registrygate.Gate
	switch {
	case c.Policy != "" && len(c.Gate.Repos) > 0:
		return nil, errors.New("use either a policy (--policy) or the built-in severity gate (--gate-repos), not both")
	case c.Policy != "":
		if pgate, err = newPolicyGate(c, s.lc, cachedir.DBPath(stateDir), o.Logger); err != nil {
			return nil, err
		}
		opt.Gate = pgate
	case len(c.Gate.Repos) > 0:
		opt.Gate = &registry.SeverityGate{Repos: c.Gate.Repos, MaxSeverity: c.Gate.MaxSeverity, AllowUnscanned: c.Gate.AllowUnscanned}
	}

	var sigs *registrygate.SignatureChecker
	if pgate != nil || len(c.TrustedKeys) > 0 {
		keys, err := verify.LoadKeys(c.TrustedKeys...)
		if err != nil {
			return nil, fmt.Errorf("--trusted-key: %w", err)
		}
		for i := range keys {
			keys[i].Name = filepath.Base(keys[i].Name) // as policy keys are shown
		}
		sigs = &registrygate.SignatureChecker{Gate: pgate, Keys: keys, Cache: verify.NewCache(0)}
		opt.Signatures = sigs
	}

	if s.reg, err = registry.New(opt); err != nil {
		return nil, err
	}
	if pgate != nil {
		// In-process reads of signatures and attestations: past the pull gate
		// (the image being decided) and past authentication (no credentials).
		pgate.SetHandler(s.reg.InternalHandler())
	}
	if sigs != nil {
		sigs.SetHandler(s.reg.InternalHandler())
	}
	return s, nil
}

// parseDurations checks the configuration's durations: scan.dbCheck (default
// 1m), gc.interval and gc.grace.
func (s *Server) parseDurations() error {
	c := &s.cfg
	s.dbCheck = time.Minute
	if c.Scan.DBCheck != "" {
		d, err := time.ParseDuration(c.Scan.DBCheck)
		if err != nil || d <= 0 {
			return fmt.Errorf("scan.dbCheck %q: want a positive duration", c.Scan.DBCheck)
		}
		s.dbCheck = d
	}
	if c.GC.Interval != "" {
		d, err := time.ParseDuration(c.GC.Interval)
		if err != nil || d <= 0 {
			return fmt.Errorf("gc interval %q: want a positive duration", c.GC.Interval)
		}
		s.gcEvery = d
		if c.GC.Grace != "" {
			if s.gcGrace, err = time.ParseDuration(c.GC.Grace); err != nil || s.gcGrace <= 0 {
				return fmt.Errorf("gc grace %q: want a positive duration", c.GC.Grace)
			}
		}
	}
	return nil
}

func newAuth(c *Config, log *slog.Logger) (*auth.Auth, error) {
	hp, err := auth.LoadHtpasswd(c.Auth.Htpasswd)
	if err != nil {
		return nil, err
	}
	acfg := auth.Config{Htpasswd: hp, Token: c.Auth.Token, AnonymousPull: c.Auth.AnonymousPull, Rules: c.Auth.Access, Logger: log}
	if c.Auth.TokenTTL != "" {
		if acfg.TokenTTL, err = time.ParseDuration(c.Auth.TokenTTL); err != nil {
			return nil, fmt.Errorf("auth.tokenTTL: %w", err)
		}
	}
	if c.Auth.TokenKeyFile != "" {
		if acfg.Key, err = os.ReadFile(c.Auth.TokenKeyFile); err != nil {
			return nil, fmt.Errorf("auth.tokenKeyFile: %w", err)
		}
	}
	return auth.New(acfg)
}

// Registry is the registry the server routes to.
func (s *Server) Registry() *registry.Registry { return s.reg }

// Close releases the registry (its scan workers and metadata database) and
// the layer cache.
func (s *Server) Close() error {
	var err error
	if s.reg != nil {
		err = s.reg.Close()
	}
	if s.lc != nil {
		err = errors.Join(err, s.lc.Close())
	}
	return err
}

// Serve listens on Config.Addr (and Config.MetricsAddr), runs the background
// loops and serves until ctx ends; then it shuts the listeners down, giving
// requests in flight 10 s.
func (s *Server) Serve(ctx context.Context) error {
	c, stderr := &s.cfg, s.opts.Stderr
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the loops below when serving fails

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.Addr, err)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.opts.Logger.Handler(), slog.LevelWarn),
	}
	listeners := []httpserve.Listener{{Server: srv, Listener: ln, CertFile: c.TLS.Cert, KeyFile: c.TLS.Key}}
	scheme := "http"
	if c.TLS.Cert != "" {
		scheme = "https"
	}
	authMsg := "no authentication (loopback only)"
	if s.au != nil {
		authMsg = "basic authentication"
		if c.Auth.Token {
			authMsg = "token authentication (/token)"
		}
	}
	fmt.Fprintf(stderr, "warden serve: listening on %s://%s, storage %s, %s\n", scheme, ln.Addr(), s.storeDesc, authMsg)
	if s.upstream != nil {
		fmt.Fprintf(stderr, "warden serve: gateway for %s\n", s.upstream)
	}
	if c.MetricsAddr != "" {
		mln, err := net.Listen("tcp", c.MetricsAddr)
		if err != nil {
			ln.Close()
			return fmt.Errorf("--metrics-addr: listening on %s: %w", c.MetricsAddr, err)
		}
		mmux := http.NewServeMux()
		mmux.Handle("/metrics", s.reg.MetricsHandler())
		msrv := &http.Server{Handler: mmux, ReadHeaderTimeout: 30 * time.Second}
		listeners = append(listeners, httpserve.Listener{Server: msrv, Listener: mln})
		fmt.Fprintf(stderr, "warden serve: metrics on http://%s/metrics\n", mln.Addr())
	}

	if s.au != nil {
		// Users added or removed take effect without a restart: on change, and on SIGHUP.
		go s.au.WatchHtpasswd(ctx, c.Auth.Htpasswd, 2*time.Second)
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP) // before serving: a SIGHUP from then on reloads
		go reloadOnSIGHUP(ctx, hup, s.au, c.Auth.Htpasswd, stderr)
	}
	if s.dbPath != "" {
		go watchDB(ctx, s.reg, s.dbPath, s.dbCheck, s.opts.Logger)
	}
	if s.gcEvery > 0 {
		go onlineGC(ctx, s.reg, s.gcEvery, s.gcGrace, s.opts.Logger)
	}

	if err := httpserve.Run(ctx, 10*time.Second, listeners...); err != nil {
		return err
	}
	fmt.Fprintln(stderr, "warden serve: stopped")
	return nil
}

// Handler routes the registry port: the registry API, the token endpoint,
// the JSON API, the UI, and /metrics unless Config.MetricsAddr serves it
// elsewhere. On the registry port /metrics needs the same login as the API
// when authentication is on.
func (s *Server) Handler() http.Handler {
	reg := s.reg
	mux := http.NewServeMux()
	mux.Handle("/v2/", reg)
	mux.Handle("/v2", reg)
	if s.au != nil {
		mux.Handle("/token", s.au.TokenHandler())
	}
	mux.Handle("/api/v1/", reg.APIHandler())
	if s.cfg.MetricsAddr == "" {
		mh := reg.MetricsHandler()
		mux.Handle("/metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if reg.Authorize(w, r, "") {
				mh.ServeHTTP(w, r)
			}
		}))
	}
	mux.Handle("/ui/", ui.Handler(reg, "/ui/"))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusFound) })
	return mux
}

// isLoopback reports whether a listen host is a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newPolicyGate loads the policy (an unusable policy stops the server: it
// would otherwise have to deny everything) and builds pkg/policy's registry
// gate, with signatures and attestations checked through the registry itself.
func newPolicyGate(c *Config, lc *layercache.Cache, dbPath string, log *slog.Logger) (*registrygate.Gate, error) {
	p, err := policy.Load(c.Policy)
	if err != nil {
		return nil, fmt.Errorf("--policy: %w", err)
	}
	host := c.Host
	if host == "" {
		host = c.Addr
	}
	var gate *registrygate.Gate
	tr := roundTripperFunc(func(req *http.Request) (*http.Response, error) { return gate.Transport().RoundTrip(req) })
	v := &facts.Verifier{RemoteOptions: []remote.Option{remote.WithTransport(tr)}, Logger: log}
	opt := registrygate.Options{Policy: p, Host: host, Signatures: v, Attestations: v, Logger: log, LayerCache: lc,
		DBBuilt: func() time.Time {
			db, err := vulndb.Open(dbPath)
			if err != nil {
				return time.Time{} // no database: as old as can be, so a max_db_age rule denies
			}
			defer db.Close()
			return db.Built()
		}}
	gate = registrygate.New(opt)
	return gate, nil
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
