package main

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
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/wardensec/warden/pkg/cachedir"
	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/layercache"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/policy/facts"
	"github.com/wardensec/warden/pkg/policy/registrygate"
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/registry/auth"
	"github.com/wardensec/warden/pkg/registry/gc"
	"github.com/wardensec/warden/pkg/registry/meta"
	"github.com/wardensec/warden/pkg/registry/storage"
	"github.com/wardensec/warden/pkg/registry/ui"
	"github.com/wardensec/warden/pkg/report"
	"github.com/wardensec/warden/pkg/sbom"
	"github.com/wardensec/warden/pkg/source"
	"github.com/wardensec/warden/pkg/verify"
	"github.com/wardensec/warden/pkg/vulndb"
	"github.com/wardensec/warden/pkg/walk"
)

// serveConfig is the --config file (YAML); flags override it.
type serveConfig struct {
	Addr string `yaml:"addr"`
	Root string `yaml:"root"`
	// Storage is where blobs live: a directory (default Root) or
	// s3://BUCKET/PREFIX?endpoint=URL&region=R (credentials from AWS_* variables).
	Storage string `yaml:"storage"`
	// StorageRedirect answers blob GETs with a presigned URL of the object store.
	StorageRedirect bool `yaml:"storageRedirect"`
	// Meta is the metadata database: SQLite in Root (default) or postgres://... ,
	// which several replicas share.
	Meta string `yaml:"meta"`
	// MetricsAddr serves /metrics on its own listener (no authentication)
	// instead of on the registry port (where it needs the same login as the API).
	MetricsAddr string `yaml:"metricsAddr"`
	// GC runs online garbage collection every Interval (one replica per
	// interval), keeping blobs younger than Grace (default 1h).
	GC struct {
		Interval string `yaml:"interval"`
		Grace    string `yaml:"grace"`
	} `yaml:"gc"`
	// Upstream turns on gateway mode (pull-through cache with the same scanning and policy).
	Upstream string `yaml:"upstream"`
	TLS      struct {
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"tls"`
	Auth struct {
		Htpasswd      string      `yaml:"htpasswd"`
		Token         bool        `yaml:"token"`
		TokenKeyFile  string      `yaml:"tokenKeyFile"`
		TokenTTL      string      `yaml:"tokenTTL"`
		AnonymousPull bool        `yaml:"anonymousPull"`
		Access        []auth.Rule `yaml:"access"`
	} `yaml:"auth"`
	Scan struct {
		Disabled bool `yaml:"disabled"`
		Workers  int  `yaml:"workers"`
		// Webhook receives new findings when a database update re-matches stored images.
		Webhook string `yaml:"webhook"`
		// DBCheck is how often the database is checked for updates (default 1m).
		DBCheck string `yaml:"dbCheck"`
	} `yaml:"scan"`
	// Policy is a policy file (docs/policy.md) enforced on pull: the same
	// policy.Evaluate as `warden check`.
	Policy string `yaml:"policy"`
	// TrustedKeys are public key files (PEM) the UI and API verify signatures
	// against in every repository, besides the covering policy rule's keys.
	TrustedKeys []string `yaml:"trustedKeys"`
	// Host is the registry's name as clients write it; policy patterns see
	// Host/repository (default: the listen address).
	Host string `yaml:"host"`
	// Gate is a simpler built-in gate (severity only), for use without a policy.
	Gate struct {
		Repos          []string `yaml:"repos"`
		MaxSeverity    string   `yaml:"maxSeverity"`
		AllowUnscanned bool     `yaml:"allowUnscanned"`
	} `yaml:"gate"`
}

func loadServeConfig(file string) (*serveConfig, error) {
	c := &serveConfig{}
	if file == "" {
		return c, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--config: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("--config %s: %w", file, err)
	}
	return c, nil
}

func newServeCmd(g *globals) *cobra.Command {
	var (
		configFile string
		flagCfg    serveConfig
		tokenTTL   time.Duration
		noScan     bool
		dbRepo     dbRepoFlags
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run an OCI registry that scans on push and enforces policy on pull",
		Long: `Run an OCI Distribution v1.1 registry (pull, push, chunked and monolithic uploads,
cross-repository mounts, tag listing, deletes, the referrers API) on content-addressed
storage under --root, with metadata in an embedded SQLite database; or, for several
replicas behind a load balancer, on S3 (--storage s3://...) with PostgreSQL (--meta postgres://...).

Every pushed image is queued for a vulnerability scan (the queue survives restarts);
results are at /api/v1/ and in the web UI at /ui/. For repositories the gate covers, a
pull (GET or HEAD, by tag or digest) of an image that fails is answered 403 DENIED with
the reasons; signatures, attestations and referrers stay readable.

Without authentication the server listens on loopback addresses only. Authentication:
htpasswd (bcrypt) basic auth, or Docker's token flow (--token, tokens at /token); the
htpasswd file is reloaded when it changes and on SIGHUP. See docs/registry.md.`,
		Example: `  warden serve --root /var/lib/warden
  warden serve --addr 0.0.0.0:5000 --root /srv/reg --htpasswd users.htpasswd --token --tls-cert c.pem --tls-key k.pem
  warden serve --config serve.yaml
  warden serve gc --root /var/lib/warden`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadServeConfig(configFile)
			if err != nil {
				return err
			}
			fl := cmd.Flags()
			override := func(name string, dst *string, v string) {
				if fl.Changed(name) || *dst == "" {
					*dst = v
				}
			}
			override("addr", &c.Addr, flagCfg.Addr)
			override("root", &c.Root, flagCfg.Root)
			override("storage", &c.Storage, flagCfg.Storage)
			override("meta", &c.Meta, flagCfg.Meta)
			override("metrics-addr", &c.MetricsAddr, flagCfg.MetricsAddr)
			override("gc-interval", &c.GC.Interval, flagCfg.GC.Interval)
			override("gc-grace", &c.GC.Grace, flagCfg.GC.Grace)
			if fl.Changed("storage-redirect") {
				c.StorageRedirect = flagCfg.StorageRedirect
			}
			override("tls-cert", &c.TLS.Cert, flagCfg.TLS.Cert)
			override("tls-key", &c.TLS.Key, flagCfg.TLS.Key)
			override("htpasswd", &c.Auth.Htpasswd, flagCfg.Auth.Htpasswd)
			if fl.Changed("token") {
				c.Auth.Token = flagCfg.Auth.Token
			}
			if fl.Changed("anonymous-pull") {
				c.Auth.AnonymousPull = flagCfg.Auth.AnonymousPull
			}
			if fl.Changed("token-ttl") {
				c.Auth.TokenTTL = tokenTTL.String()
			}
			if fl.Changed("scan-workers") || c.Scan.Workers == 0 {
				c.Scan.Workers = flagCfg.Scan.Workers
			}
			override("webhook", &c.Scan.Webhook, flagCfg.Scan.Webhook)
			if noScan {
				c.Scan.Disabled = true
			}
			if fl.Changed("gate-repos") {
				c.Gate.Repos = flagCfg.Gate.Repos
			}
			override("gate-max-severity", &c.Gate.MaxSeverity, flagCfg.Gate.MaxSeverity)
			override("policy", &c.Policy, flagCfg.Policy)
			override("upstream", &c.Upstream, flagCfg.Upstream)
			override("host", &c.Host, flagCfg.Host)
			if fl.Changed("trusted-key") {
				c.TrustedKeys = flagCfg.TrustedKeys
			}
			// The database from a repository: now (a failure only warns: the
			// registry works without one), then whenever it is due.
			if err := dbRepo.ensure(cmd, g); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", err)
			}
			go dbRepo.keepFresh(cmd, g)
			return runServe(cmd.Context(), g, c, cmd.ErrOrStderr())
		},
	}
	dbRepo.add(cmd, nil)
	fl := cmd.Flags()
	fl.StringVar(&configFile, "config", "", "YAML configuration file (docs/registry.md); flags override it")
	fl.StringVar(&flagCfg.Addr, "addr", "127.0.0.1:5000", "listen address HOST:PORT (non-loopback only with authentication)")
	fl.StringVar(&flagCfg.Root, "root", "", "storage directory (default <state dir>/registry)")
	fl.StringVar(&flagCfg.Storage, "storage", "", "blob storage: a directory (default --root) or s3://BUCKET/PREFIX?endpoint=URL&region=R, credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
	fl.BoolVar(&flagCfg.StorageRedirect, "storage-redirect", false, "serve blob downloads by redirect to a presigned URL of the object store (S3 only)")
	fl.StringVar(&flagCfg.GC.Interval, "gc-interval", "", "run online garbage collection this often (e.g. 6h; one replica per interval); off by default")
	fl.StringVar(&flagCfg.GC.Grace, "gc-grace", "", "online GC keeps blobs stored or linked less than this long ago (default 1h)")
	fl.StringVar(&flagCfg.MetricsAddr, "metrics-addr", "", "serve /metrics on this HOST:PORT only (no authentication there); otherwise /metrics on the registry port needs a login when authentication is on")
	fl.StringVar(&flagCfg.Meta, "meta", "", "metadata database: SQLite under --root (default) or postgres://USER@HOST:PORT/DB?sslmode=..., shared by several replicas")
	fl.StringVar(&flagCfg.TLS.Cert, "tls-cert", "", "TLS certificate file (PEM)")
	fl.StringVar(&flagCfg.TLS.Key, "tls-key", "", "TLS private key file (PEM)")
	fl.StringVar(&flagCfg.Auth.Htpasswd, "htpasswd", "", "htpasswd file with bcrypt entries (htpasswd -B); turns authentication on")
	fl.BoolVar(&flagCfg.Auth.Token, "token", false, "use Docker's token flow (bearer tokens from /token) instead of basic auth")
	fl.DurationVar(&tokenTTL, "token-ttl", 15*time.Minute, "lifetime of issued tokens")
	fl.BoolVar(&flagCfg.Auth.AnonymousPull, "anonymous-pull", false, "with authentication on, still let anyone pull")
	fl.IntVar(&flagCfg.Scan.Workers, "scan-workers", 1, "background scan workers")
	fl.BoolVar(&noScan, "no-scan", false, "do not scan pushed images")
	fl.StringVar(&flagCfg.Scan.Webhook, "webhook", "", "URL that receives (JSON POST) the new findings per image when a database update re-matches stored images")
	fl.StringVar(&flagCfg.Upstream, "upstream", "", "gateway mode: fetch what is missing from this registry (http(s)://HOST[:PORT]); credentials from the Docker config")
	fl.StringVar(&flagCfg.Policy, "policy", "", "policy file enforced on pull (docs/policy.md): DENIED with the policy's reasons")
	fl.StringArrayVar(&flagCfg.TrustedKeys, "trusted-key", nil, "public key file (PEM) whose signatures the UI and API show as verified, in every repository (repeatable; the covering policy rule's keys are trusted too)")
	fl.StringVar(&flagCfg.Host, "host", "", "registry name as clients write it, for policy patterns (default: the --addr value)")
	fl.StringSliceVar(&flagCfg.Gate.Repos, "gate-repos", nil, `repositories the pull gate covers (patterns: "prod/*", "team/**", "**")`)
	fl.StringVar(&flagCfg.Gate.MaxSeverity, "gate-max-severity", "", "deny pulls of covered images with findings above this severity (e.g. MEDIUM)")
	cmd.AddCommand(newServeGCCmd(g))
	return cmd
}

// isLoopback reports whether a listen host is a loopback address.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func defaultRoot(g *globals, root string) (string, error) {
	if root != "" {
		return root, nil
	}
	dir, err := g.stateDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "registry"), nil
}

func runServe(ctx context.Context, g *globals, c *serveConfig, stderr io.Writer) error {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", c.Addr, err)
	}
	root, err := defaultRoot(g, c.Root)
	if err != nil {
		return err
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return errors.New("TLS needs both --tls-cert and --tls-key")
	}
	opt := registry.Options{Root: root, Logger: g.logger, ScanWorkers: c.Scan.Workers, Redirect: c.StorageRedirect}
	storeDesc := root
	if c.Storage != "" {
		if opt.Store, err = storage.OpenURL(ctx, c.Storage, root); err != nil {
			return fmt.Errorf("--storage: %w", err)
		}
		storeDesc = opt.Store.Describe()
	}
	if c.Meta != "" {
		if opt.Meta, err = meta.OpenURL(ctx, c.Meta, filepath.Join(root, "meta.db")); err != nil {
			return fmt.Errorf("--meta: %w", err)
		}
		storeDesc += ", metadata " + opt.Meta.Describe()
	}

	var au *auth.Auth
	if c.Auth.Htpasswd != "" {
		hp, err := auth.LoadHtpasswd(c.Auth.Htpasswd)
		if err != nil {
			return err
		}
		acfg := auth.Config{Htpasswd: hp, Token: c.Auth.Token, AnonymousPull: c.Auth.AnonymousPull, Rules: c.Auth.Access, Logger: g.logger}
		if c.Auth.TokenTTL != "" {
			if acfg.TokenTTL, err = time.ParseDuration(c.Auth.TokenTTL); err != nil {
				return fmt.Errorf("auth.tokenTTL: %w", err)
			}
		}
		if c.Auth.TokenKeyFile != "" {
			if acfg.Key, err = os.ReadFile(c.Auth.TokenKeyFile); err != nil {
				return fmt.Errorf("auth.tokenKeyFile: %w", err)
			}
		}
		if au, err = auth.New(acfg); err != nil {
			return err
		}
		opt.Auth = au
		// Users added or removed take effect without a restart: on change, and on SIGHUP.
		go au.WatchHtpasswd(ctx, c.Auth.Htpasswd, 2*time.Second)
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP) // before serving: a SIGHUP from then on reloads
		go reloadOnSIGHUP(ctx, hup, au, c.Auth.Htpasswd, stderr)
	} else if !isLoopback(host) {
		return fmt.Errorf("refusing to listen on %q without authentication: configure --htpasswd, or listen on 127.0.0.1", c.Addr)
	}

	var stateDir string
	var lc *layercache.Cache
	if !c.Scan.Disabled || c.Policy != "" {
		if stateDir, err = g.stateDir(); err != nil {
			return err
		}
		if lc, err = layercache.Open(cachedir.LayerCachePath(stateDir)); err != nil {
			return fmt.Errorf("opening the layer cache: %w", err)
		}
		defer lc.Close()
	}
	if !c.Scan.Disabled {
		ls := &libScanner{dbPath: cachedir.DBPath(stateDir), cache: lc, log: g.logger}
		opt.Scanner, opt.SBOM = ls, ls
		opt.Webhook = c.Scan.Webhook
		if _, err := os.Stat(cachedir.DBPath(stateDir)); err != nil {
			fmt.Fprintf(stderr, "warden serve: warning: no vulnerability database at %s yet: scans will fail until `warden db update`\n", cachedir.DBPath(stateDir))
		}
	}
	if c.Upstream != "" {
		if opt.Upstream, err = registry.NewUpstream(c.Upstream, remote.WithAuthFromKeychain(source.DockerConfigKeychain(""))); err != nil {
			return err
		}
	}
	var pgate *registrygate.Gate
	switch {
	case c.Policy != "" && len(c.Gate.Repos) > 0:
		return errors.New("use either a policy (--policy) or the built-in severity gate (--gate-repos), not both")
	case c.Policy != "":
		if pgate, err = newPolicyGate(g, c, lc, stateDir); err != nil {
			return err
		}
		opt.Gate = pgate
	case len(c.Gate.Repos) > 0:
		opt.Gate = &registry.SeverityGate{Repos: c.Gate.Repos, MaxSeverity: c.Gate.MaxSeverity, AllowUnscanned: c.Gate.AllowUnscanned}
	}

	var sigs *registrygate.SignatureChecker
	if pgate != nil || len(c.TrustedKeys) > 0 {
		keys, err := verify.LoadKeys(c.TrustedKeys...)
		if err != nil {
			return fmt.Errorf("--trusted-key: %w", err)
		}
		for i := range keys {
			keys[i].Name = filepath.Base(keys[i].Name) // as policy keys are shown
		}
		sigs = &registrygate.SignatureChecker{Gate: pgate, Keys: keys, Cache: verify.NewCache(0)}
		opt.Signatures = sigs
	}

	reg, err := registry.New(opt)
	if err != nil {
		if opt.Meta != nil {
			opt.Meta.Close()
		}
		return err
	}
	defer reg.Close()
	if pgate != nil {
		// In-process reads of signatures and attestations: past the pull gate
		// (the image being decided) and past authentication (no credentials).
		pgate.SetHandler(reg.InternalHandler())
	}
	if sigs != nil {
		sigs.SetHandler(reg.InternalHandler())
	}
	if !c.Scan.Disabled {
		every := time.Minute
		if c.Scan.DBCheck != "" {
			if every, err = time.ParseDuration(c.Scan.DBCheck); err != nil || every <= 0 {
				return fmt.Errorf("scan.dbCheck %q: want a positive duration", c.Scan.DBCheck)
			}
		}
		go watchDB(ctx, reg, cachedir.DBPath(stateDir), every, g.logger)
	}

	if c.GC.Interval != "" {
		every, err := time.ParseDuration(c.GC.Interval)
		if err != nil || every <= 0 {
			return fmt.Errorf("gc interval %q: want a positive duration", c.GC.Interval)
		}
		var grace time.Duration
		if c.GC.Grace != "" {
			if grace, err = time.ParseDuration(c.GC.Grace); err != nil || grace <= 0 {
				return fmt.Errorf("gc grace %q: want a positive duration", c.GC.Grace)
			}
		}
		go onlineGC(ctx, reg, every, grace, g.logger)
	}

	srv := &http.Server{
		Addr:              c.Addr,
		Handler:           serveMux(reg, au, c.MetricsAddr == ""),
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(g.logger.Handler(), slog.LevelWarn),
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", c.Addr, err)
	}
	scheme := "http"
	if c.TLS.Cert != "" {
		scheme = "https"
	}
	authMsg := "no authentication (loopback only)"
	if au != nil {
		authMsg = "basic authentication"
		if c.Auth.Token {
			authMsg = "token authentication (/token)"
		}
	}
	fmt.Fprintf(stderr, "warden serve: listening on %s://%s, storage %s, %s\n", scheme, ln.Addr(), storeDesc, authMsg)
	if opt.Upstream != nil {
		fmt.Fprintf(stderr, "warden serve: gateway for %s\n", opt.Upstream)
	}

	errc := make(chan error, 2)
	if c.MetricsAddr != "" {
		mln, err := net.Listen("tcp", c.MetricsAddr)
		if err != nil {
			return fmt.Errorf("--metrics-addr: listening on %s: %w", c.MetricsAddr, err)
		}
		mmux := http.NewServeMux()
		mmux.Handle("/metrics", reg.MetricsHandler())
		msrv := &http.Server{Handler: mmux, ReadHeaderTimeout: 30 * time.Second}
		defer msrv.Close()
		fmt.Fprintf(stderr, "warden serve: metrics on http://%s/metrics\n", mln.Addr())
		go func() { errc <- msrv.Serve(mln) }()
	}
	go func() {
		if c.TLS.Cert != "" {
			errc <- srv.ServeTLS(ln, c.TLS.Cert, c.TLS.Key)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	fmt.Fprintln(stderr, "warden serve: stopped")
	return nil
}

// reloadOnSIGHUP reloads the htpasswd file on each signal on hup until ctx
// ends; a file that does not load keeps the users loaded before.
func reloadOnSIGHUP(ctx context.Context, hup chan os.Signal, au *auth.Auth, file string, stderr io.Writer) {
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := au.ReloadHtpasswd(file); err != nil {
				fmt.Fprintf(stderr, "warden serve: SIGHUP: %v\n", err)
			} else {
				fmt.Fprintf(stderr, "warden serve: SIGHUP: reloaded %s\n", file)
			}
		}
	}
}

// newPolicyGate loads the policy (an unusable policy stops the server: it
// would otherwise have to deny everything) and builds pkg/policy's registry
// gate, with signatures and attestations checked through the registry itself.
func newPolicyGate(g *globals, c *serveConfig, lc *layercache.Cache, stateDir string) (*registrygate.Gate, error) {
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
	v := &facts.Verifier{RemoteOptions: []remote.Option{remote.WithTransport(tr)}, Logger: g.logger}
	dbPath := cachedir.DBPath(stateDir)
	opt := registrygate.Options{Policy: p, Host: host, Signatures: v, Attestations: v, Logger: g.logger, LayerCache: lc,
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

// watchDB re-queues every scanned image when the vulnerability database
// changes (`warden db update`): the workers re-match them from the layer cache.
func watchDB(ctx context.Context, reg *registry.Registry, dbPath string, every time.Duration, log *slog.Logger) {
	built := func() time.Time {
		db, err := vulndb.Open(dbPath)
		if err != nil {
			return time.Time{}
		}
		defer db.Close()
		return db.Built()
	}
	last := built()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b := built()
		if b.IsZero() || b.Equal(last) {
			continue
		}
		last = b
		// Once across the replicas sharing the metadata database.
		n, err := reg.RescanOnce(ctx, b.UTC().Format(time.RFC3339Nano))
		log.Info("warden serve: vulnerability database changed, rescanning", "built", b, "images", n, "err", err)
	}
}

// onlineGC runs gc.Online every interval, on one replica only per interval.
func onlineGC(ctx context.Context, reg *registry.Registry, every, grace time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		key := fmt.Sprintf("gc:%d", time.Now().Truncate(every).Unix())
		if first, err := reg.Meta().Once(ctx, key); err != nil || !first {
			continue
		}
		st, err := gc.Online(ctx, reg.Store(), reg.Meta(), gc.OnlineOptions{Grace: grace, Logger: log})
		log.Info("warden serve: online garbage collection", "deleted", st.Deleted, "bytes", st.DeletedBytes, "kept", st.Kept, "err", err)
	}
}

// serveMux routes the registry API, the token endpoint, the JSON API, the UI and metrics.
// With metrics false, /metrics is served elsewhere (--metrics-addr); on the
// registry port it needs the same login as the API when authentication is on.
func serveMux(reg *registry.Registry, au *auth.Auth, metrics bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v2/", reg)
	mux.Handle("/v2", reg)
	if au != nil {
		mux.Handle("/token", au.TokenHandler())
	}
	mux.Handle("/api/v1/", reg.APIHandler())
	if metrics {
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

// libScanner is the registry's Scanner: pkg/walk builds the inventory from the
// image's local layers (cached by layer digest), pkg/match matches it against
// the vulnerability database, opened per scan so `warden db update` can swap it.
type libScanner struct {
	dbPath string
	cache  *layercache.Cache
	log    *slog.Logger
}

func (s *libScanner) Scan(ctx context.Context, repo string, digest v1.Hash, img v1.Image) (*registry.ScanResult, error) {
	db, err := vulndb.Open(s.dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	inv, err := walk.Inventory(ctx, img, walk.Options{Extractors: all.Extractors(), Cache: s.cache, Logger: s.log, ImageName: repo + "@" + digest.String()})
	if err != nil {
		return nil, err
	}
	fs, err := match.Match(ctx, db, inv, match.Options{Logger: s.log})
	if err != nil {
		return nil, err
	}
	res := &registry.ScanResult{Scanner: "warden", ScannedAt: time.Now().UTC(), Packages: len(inv.Packages), Findings: []registry.Finding{}}
	if inv.Distro != nil {
		res.Distro = strings.TrimSpace(inv.Distro.ID + " " + inv.Distro.VersionID)
	}
	for _, f := range fs {
		if f.Suppressed != nil {
			continue
		}
		sev := vulndb.NormalizeSeverity(f.Advisory.Severity)
		if sev == "" {
			sev = "UNKNOWN" // as the scan report says (Alpine's secdb gives none)
		}
		rf := registry.Finding{
			ID: f.Advisory.ID, Aliases: f.Advisory.Aliases, Package: f.Package.Name, Version: f.Package.Version,
			FixedVersion: f.FixedVersion, Ecosystem: f.Package.Ecosystem, Severity: sev, Title: report.Title(&f.Advisory),
			URL: report.AdvisoryURL(&f.Advisory), // the advisory's own page: NVD, GHSA, osv.dev, the distro's tracker
		}
		for _, c := range f.Advisory.CVSS {
			if c.Score > rf.CVSS {
				rf.CVSS = c.Score
			}
		}
		res.Findings = append(res.Findings, rf)
	}
	registry.SortFindings(res.Findings)
	return res, nil
}

// WriteSBOM implements registry.SBOMWriter: the image's inventory (layer
// cache) written by pkg/sbom.
func (s *libScanner) WriteSBOM(ctx context.Context, w io.Writer, format, repo string, digest v1.Hash, img v1.Image) error {
	inv, err := walk.Inventory(ctx, img, walk.Options{Extractors: all.Extractors(), Cache: s.cache, Logger: s.log, ImageName: repo + "@" + digest.String()})
	if err != nil {
		return err
	}
	meta, err := sbom.ImageFrom(repo+"@"+digest.String(), img)
	if err != nil {
		return err
	}
	return sbom.Write(w, format, inv, meta, sbom.Options{ToolVersion: wardenVersion()})
}

func newServeGCCmd(g *globals) *cobra.Command {
	var root string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "gc",
		Short: "Delete blobs no manifest references (run while the registry is stopped)",
		Long: `Offline garbage collection: deletes every stored blob that no manifest in any
repository references (config, layers, index children) and that is not itself a manifest,
and removes upload sessions older than a day. Stop 'warden serve' first.`,
		Example: `  warden serve gc --root /var/lib/warden --dry-run
  warden serve gc --root /var/lib/warden`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := defaultRoot(g, root)
			if err != nil {
				return err
			}
			st, err := gc.Run(cmd.Context(), r, gc.Options{DryRun: dryRun, Logger: g.logger})
			if err != nil {
				return err
			}
			verb := "deleted"
			if dryRun {
				verb = "would delete"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "gc: %d blobs kept, %s %d blobs (%d bytes), %d stale uploads\n", st.Kept, verb, st.Deleted, st.DeletedBytes, st.Uploads)
			return nil
		},
	}
	cmd.Flags().StringVar(&root, "root", "", "storage directory (default <state dir>/registry)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "only report what would be deleted")
	return cmd
}
