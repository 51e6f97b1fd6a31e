package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/registry/gc"
	"github.com/wardensec/warden/pkg/serve"
)

func newServeCmd(g *globals) *cobra.Command {
	var (
		configFile string
		flagCfg    serve.Config
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
			c, err := serve.LoadConfig(configFile)
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
			return serve.Run(cmd.Context(), c, serve.Options{CacheDir: g.cacheDir, Logger: g.logger, Stderr: cmd.ErrOrStderr(), ToolVersion: wardenVersion()})
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
			r, err := serve.DefaultRoot(g.cacheDir, root)
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
