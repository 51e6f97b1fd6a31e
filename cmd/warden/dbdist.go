package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/dbdist"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
)

// Environment for pulling the database on demand (Trivy's --db-repository is the convention).
const (
	dbRepositoryEnv = "WARDEN_DB_REPOSITORY"
	dbKeyEnv        = "WARDEN_DB_KEY"
	// autoPullMaxAge: with a repository set, an older database is pulled again.
	autoPullMaxAge = 24 * time.Hour
)

func newDBPushCmd(g *globals) *cobra.Command {
	var keyPath, format string
	var reg sigRegistryFlags
	cmd := &cobra.Command{
		Use:     "push REGISTRY/REPO:TAG --key KEY",
		Example: `  WARDEN_PASSWORD=… warden db push registry.example.com/security/warden-db:1 --key db.key`,
		Short:   "Publish the database as a signed OCI artifact (zstd-compressed; `warden db pull` fetches it)",
		Long: `Publishes the current vulnerability database to a registry: the database file,
zstd-compressed, as the one layer (` + dbdist.LayerMediaType + `) of an OCI artifact
(` + dbdist.ArtifactType + `), annotated with its build time and each feed's newest
record, then signs the manifest digest with KEY as 'warden sign' signs an image
(the password comes from $WARDEN_PASSWORD). Any OCI registry holds it, 'warden serve' too.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if keyPath == "" {
				return errors.New("db push: --key is required (the database is always signed)")
			}
			f, err := sign.ParseFormat(format)
			if err != nil {
				return fmt.Errorf("db push: %w", err)
			}
			ref, err := reg.parse(args[0])
			if err != nil {
				return fmt.Errorf("db push: %w", err)
			}
			key, err := sigLoadPrivateKey(cmd, keyPath)
			if err != nil {
				return fmt.Errorf("db push: %w", err)
			}
			path, err := g.dbPath()
			if err != nil {
				return err
			}
			start := time.Now()
			res, err := dbdist.Push(cmd.Context(), path, ref, dbdist.PushOptions{Options: dbdist.Options{Logger: g.logger}, Key: key, Format: f})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Pushed %s\n", res.Digest)
			fmt.Fprintf(out, "  database built %s, %s (%s compressed, %.1f%%)\n", fmtTime(res.Built), byteSize(res.FileSize), byteSize(res.Size), 100*float64(res.Size)/float64(res.FileSize))
			if res.Signature.SigTag != (name.Tag{}) {
				fmt.Fprintf(out, "  signature: %s\n", res.Signature.SigTag)
			}
			if res.Signature.Referrer.DigestStr() != "" {
				fmt.Fprintf(out, "  bundle: %s\n", res.Signature.Referrer)
			}
			fmt.Fprintf(out, "pushed in %s\n", time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVar(&keyPath, "key", "", "private key file to sign with")
	cmd.Flags().StringVar(&format, "format", "both", "where to store the signature: legacy, bundle or both")
	reg.add(cmd)
	return cmd
}

func newDBPullCmd(g *globals) *cobra.Command {
	var keys []string
	var skipVerify bool
	var reg sigRegistryFlags
	cmd := &cobra.Command{
		Use: "pull REGISTRY/REPO:TAG --key KEY.pub",
		Example: `  warden db pull registry.example.com/security/warden-db:1 --key db.pub
  warden db pull 127.0.0.1:5000/warden-db:1 --key db.pub --cache-dir /var/cache/warden`,
		Short: "Fetch a database published by `warden db push`, verify its signature and install it",
		Long: `Fetches the database artifact, verifies the signature of its manifest with
the public key(s) and the digest of every byte, and replaces the local database
in one atomic step. A download that is cut off is resumed by the next pull when
the registry answers Range requests. The old database stays on any failure.
When the local database is already the one the tag names, a pull costs one
manifest HEAD.

Exit status: 0 installed or unchanged; 10 the database is not signed;
11 no signature verifies with the key(s); 1 any other error.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(keys) == 0 && !skipVerify {
				return errors.New("db pull: --key is required (or --insecure-skip-signature to check digests only)")
			}
			ref, err := reg.parse(args[0])
			if err != nil {
				return fmt.Errorf("db pull: %w", err)
			}
			vkeys, err := verify.LoadKeys(keys...)
			if err != nil {
				return fmt.Errorf("db pull: %w", err)
			}
			path, err := g.dbPath()
			if err != nil {
				return err
			}
			start := time.Now()
			res, err := dbdist.Pull(cmd.Context(), path, ref, dbdist.PullOptions{Options: dbdist.Options{Logger: g.logger}, Keys: vkeys, SkipVerify: skipVerify})
			if err != nil {
				return pullExit(err)
			}
			printPull(cmd.OutOrStdout(), res, path, time.Since(start))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&keys, "key", nil, "public key that must have signed the database (repeatable: any one)")
	cmd.Flags().BoolVar(&skipVerify, "insecure-skip-signature", false, "do not check the signature (digests are still checked)")
	reg.add(cmd)
	return cmd
}

// pullExit maps a pull error to the exit status verify uses.
func pullExit(err error) error {
	switch {
	case errors.Is(err, verify.ErrUnsigned):
		return withCode(exitUnsigned, err)
	case errors.Is(err, verify.ErrNotVerified):
		return withCode(exitBadSignature, err)
	}
	return err
}

func printPull(w io.Writer, res *dbdist.PullResult, path string, took time.Duration) {
	if res.Unchanged {
		fmt.Fprintf(w, "Unchanged %s (built %s), checked in %s\n", res.Digest, fmtTime(res.Built), took.Round(time.Millisecond))
		return
	}
	fmt.Fprintf(w, "Pulled %s (built %s) to %s\n", res.Digest, fmtTime(res.Built), path)
	for _, s := range res.Signers {
		fmt.Fprintf(w, "  signed by %s (%s)\n", s.Key, s.Format)
	}
	resumed := ""
	if res.Resumed > 0 {
		resumed = fmt.Sprintf(", %s resumed", byteSize(res.Resumed))
	}
	fmt.Fprintf(w, "  %s downloaded%s, in %s\n", byteSize(res.Downloaded), resumed, took.Round(time.Millisecond))
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// dbRepoFlags are the flags of the commands that pull the database on their
// own (scan, check, serve) when a repository is configured.
type dbRepoFlags struct {
	repository string
	keys       []string
	maxAge     *time.Duration // the command's --db-max-age
}

func (f *dbRepoFlags) add(cmd *cobra.Command, maxAge *time.Duration) {
	fl := cmd.Flags()
	fl.StringVar(&f.repository, "db-repository", "", "pull the signed database from this REGISTRY/REPO:TAG when the local one is missing or older than --db-max-age (default $"+dbRepositoryEnv+")")
	fl.StringArrayVar(&f.keys, "db-key", nil, "public key the pulled database must be signed with (default $"+dbKeyEnv+")")
	if maxAge == nil {
		maxAge = new(time.Duration)
		fl.DurationVar(maxAge, "db-max-age", autoPullMaxAge, "with --db-repository: pull again when the database is older than this")
	}
	f.maxAge = maxAge
}

// ensure pulls the database when a repository is configured and the local
// one is due. A failed pull with a local database only warns.
func (f *dbRepoFlags) ensure(cmd *cobra.Command, g *globals) error {
	repo := f.repository
	if repo == "" {
		repo = os.Getenv(dbRepositoryEnv)
	}
	if repo == "" {
		return nil
	}
	maxAge := autoPullMaxAge // scan's --db-max-age defaults to its warning age: only a value given counts
	if fl := cmd.Flags().Lookup("db-max-age"); fl != nil && fl.Changed && *f.maxAge > 0 {
		maxAge = *f.maxAge
	}
	path, err := g.dbPath()
	if err != nil {
		return err
	}
	if !dbdist.Due(path, maxAge, time.Now()) {
		return nil
	}
	return autoPull(cmd.Context(), cmd.ErrOrStderr(), g, path, repo, f.keyPaths())
}

func (f *dbRepoFlags) keyPaths() []string {
	if len(f.keys) > 0 {
		return f.keys
	}
	if k := os.Getenv(dbKeyEnv); k != "" {
		return []string{k}
	}
	return nil
}

func autoPull(ctx context.Context, stderr io.Writer, g *globals, path, repo string, keyPaths []string) error {
	_, statErr := os.Stat(path)
	have := statErr == nil
	err := func() error {
		if len(keyPaths) == 0 {
			return fmt.Errorf("no key to verify it with: set --db-key or $%s", dbKeyEnv)
		}
		ref, err := name.ParseReference(repo)
		if err != nil {
			return fmt.Errorf("parsing %q: %w", repo, err)
		}
		keys, err := verify.LoadKeys(keyPaths...)
		if err != nil {
			return err
		}
		start := time.Now()
		res, err := dbdist.Pull(ctx, path, ref, dbdist.PullOptions{Options: dbdist.Options{Logger: g.logger}, Keys: keys})
		if err != nil {
			return err
		}
		if !res.Unchanged {
			fmt.Fprintf(stderr, "pulled the vulnerability database %s (built %s) in %s\n", res.Digest, fmtTime(res.Built), time.Since(start).Round(time.Millisecond))
		}
		return nil
	}()
	if err == nil {
		return nil
	}
	if have {
		fmt.Fprintf(stderr, "warning: pulling the vulnerability database from %s failed; using the local one: %v\n", repo, err)
		return nil
	}
	return pullExit(fmt.Errorf("pulling the vulnerability database from %s: %w", repo, err))
}

// keepFresh re-runs ensure every hour (or --db-max-age, if shorter) until the command's context ends.
func (f *dbRepoFlags) keepFresh(cmd *cobra.Command, g *globals) {
	if f.repository == "" && os.Getenv(dbRepositoryEnv) == "" {
		return
	}
	every := time.Hour
	if *f.maxAge > 0 && *f.maxAge < every {
		every = *f.maxAge
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-cmd.Context().Done():
			return
		case <-t.C:
			if err := f.ensure(cmd, g); err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", err)
			}
		}
	}
}
