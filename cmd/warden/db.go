package main

import (
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/cachedir"
	"github.com/wardensec/warden/pkg/dbdist"
	"github.com/wardensec/warden/pkg/feeds"
	"github.com/wardensec/warden/pkg/outfile"
	"github.com/wardensec/warden/pkg/vulndb"
)

// staleAfter is when `db status` warns that the data is old.
const staleAfter = 7 * 24 * time.Hour

func newDBCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the vulnerability database (import, update, status, export, push, pull)",
	}
	cmd.AddCommand(newDBImportCmd(g), newDBUpdateCmd(g), newDBStatusCmd(g), newDBExportCmd(g), newDBPushCmd(g), newDBPullCmd(g))
	return cmd
}

func (g *globals) dbPath() (string, error) {
	dir, err := g.stateDir()
	if err != nil {
		return "", err
	}
	return cachedir.DBPath(dir), nil
}

func newDBImportCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "import SOURCE...",
		Short: "Import feeds from directories, zips, files or URLs (KIND:PATH names the kind)",
		Long: `Import vulnerability feeds into the database. Each SOURCE is a directory, a zip,
a file or an http(s) URL; the kind of each file is detected from its content,
or named as KIND:PATH with KIND one of osv, alpine, debian-json, debian-dsa,
debian-support, ubuntu-oval, rhel-oval, nvd, amazon (updateinfo.xml),
redhat-csaf (Red Hat CSAF VEX files and repository-to-cpe.json), bundle. A bundle written by
'warden db export' is imported the same way. Each source replaces what the
same source held before; other sources are kept. The update is atomic.`,
		Example: `  warden db import osv-go.zip alpine-secdb/ debian-json:tracker.json
  warden db import https://mirror.example.com/osv/PyPI/all.zip
  warden db import warden-db.bundle   # written by warden db export`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := g.dbPath()
			if err != nil {
				return err
			}
			start := time.Now()
			res, err := feeds.Import(cmd.Context(), path, args, feeds.Options{Logger: g.logger})
			if err != nil {
				return fmt.Errorf("importing into %s (the previous database is unchanged): %w", path, err)
			}
			printImport(cmd.OutOrStdout(), cmd.ErrOrStderr(), res, time.Since(start))
			return nil
		},
	}
}

func printImport(out, errw io.Writer, res *feeds.Result, took time.Duration) {
	for _, w := range res.Warnings {
		fmt.Fprintln(errw, "warning:", w)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tRECORDS\tWITHDRAWN\tSKIPPED\tADVISORIES")
	for _, s := range res.Summaries {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", s.Source, s.Records, s.Withdrawn, s.Skipped, s.Advisories)
	}
	for _, p := range res.Bundles {
		fmt.Fprintf(tw, "bundle %s\t-\t-\t-\tmerged\n", filepath.Base(p))
	}
	tw.Flush()
	if len(res.Warnings) > 0 {
		fmt.Fprintf(errw, "%d malformed records skipped\n", len(res.Warnings))
	}
	fmt.Fprintf(out, "imported in %s\n", took.Round(time.Millisecond))
}

func newDBStatusCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "status",
		Short:   "Show each source: record count, newest record, when it was imported",
		Example: "  warden db status\n  warden db status --json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := g.dbPath()
			if err != nil {
				return err
			}
			db, err := vulndb.Open(path)
			if err != nil {
				return err
			}
			defer db.Close()
			st, err := db.Status()
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), st)
			}
			if ps, ok := dbdist.ReadState(path); ok {
				fmt.Fprintf(cmd.OutOrStdout(), "pulled: %s@%s at %s, last checked %s\n", ps.Repository, ps.Digest, fmtTime(ps.Pulled), fmtTime(ps.Checked))
			}
			return printStatus(cmd.OutOrStdout(), cmd.ErrOrStderr(), st, time.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON (every source and namespace)")
	return cmd
}

// printJSON writes v as indented JSON (the --json output of status commands).
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStatus(out, errw io.Writer, st *vulndb.Status, now time.Time) error {
	fmt.Fprintf(out, "database: %s (schema %d, built %s)\n", st.Path, st.Schema, fmtTime(st.Built))
	imports := append([]vulndb.ImportStatus(nil), st.Imports...)
	sort.Slice(imports, func(i, j int) bool { return imports[i].Source < imports[j].Source })
	nsBy := map[string][]string{}
	for _, ns := range st.Namespaces {
		nsBy[ns.Source] = append(nsBy[ns.Source], ns.Namespace)
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tRECORDS\tADVISORIES\tNEWEST RECORD\tIMPORTED\tAGE\tNAMESPACES")
	var stale []string
	for _, is := range imports {
		nss := nsBy[is.Source]
		sort.Strings(nss)
		nsText := strings.Join(nss, " ")
		if len(nss) > 6 {
			nsText = fmt.Sprintf("%s ... (%d)", strings.Join(nss[:6], " "), len(nss))
		}
		age := "-"
		if !is.ImportedAt.IsZero() {
			age = roundAge(max(now.Sub(is.ImportedAt), 0))
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t%s\n", is.Source, is.Records-is.Withdrawn-is.Skipped, is.Advisories, fmtTime(is.Newest), fmtTime(is.ImportedAt), age, nsText)
		if now.Sub(is.ImportedAt) > staleAfter {
			stale = append(stale, fmt.Sprintf("%s (imported %s)", is.Source, is.ImportedAt.Format("2006-01-02")))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(imports) == 0 {
		fmt.Fprintln(errw, "warning: the database is empty; run `warden db update` or `warden db import`")
	}
	if len(stale) > 0 {
		fmt.Fprintf(errw, "warning: data older than %d days: %s; run `warden db update`\n", int(staleAfter.Hours()/24), strings.Join(stale, ", "))
	}
	return nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04")
}

func newDBExportCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "export FILE",
		Short: "Write the whole database as one portable bundle (load it with `warden db import FILE`)",
		Example: `  warden db export warden-db.bundle                 # on a connected machine, after warden db update
  warden db import warden-db.bundle                 # on the air-gapped one`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := g.dbPath()
			if err != nil {
				return err
			}
			db, err := vulndb.Open(path)
			if err != nil {
				return err
			}
			defer db.Close()
			return exportBundle(db, args[0])
		},
	}
}

// exportBundle writes a gzip-compressed snapshot of the database (atomically
// when file is a regular file; see pkg/outfile).
func exportBundle(db *vulndb.DB, file string) error {
	return outfile.Write(file, 0o644, func(w io.Writer) error {
		zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		if _, err := db.Export(zw); err != nil {
			return err
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("exporting to %s: %w", file, err)
		}
		return nil
	})
}

// mirrorEnv configures `db update`'s mirror when --mirror is not given.
const mirrorEnv = "WARDEN_DB_MIRROR"

func newDBUpdateCmd(g *globals) *cobra.Command {
	var (
		mirror string
		only   []string
		nvd    bool
	)
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Fetch the upstream feeds (or a mirror) and update the database",
		Long: `Fetch the vulnerability feeds from their upstream URLs (osv.dev per-ecosystem
zips, Alpine/Wolfi/Chainguard secdb, the Debian security tracker, Ubuntu,
Rocky, SUSE and Oracle OVAL, Red Hat's CSAF VEX archive, Amazon Linux 2 and
2023 updateinfo) or from a mirror (--mirror BASE or $WARDEN_DB_MIRROR, holding
each feed at the path listed in docs/vulndb.md) and update the database in
one atomic step. Requests are conditional (ETag / Last-Modified remembered in
the database). A feed that fails is reported and the others still update.
When no feed can be fetched (offline), it says so once, with the first cause and the
ways to update without network access.`,
		Example: `  warden db update
  warden db update --feed alpine-v3.19 --feed osv-go
  warden db update --mirror https://mirror.example.com/warden-feeds
  WARDEN_DB_MIRROR=http://10.0.0.5:8080 warden db update --nvd`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := g.dbPath()
			if err != nil {
				return err
			}
			if mirror == "" {
				mirror = os.Getenv(mirrorEnv)
			}
			feedList := feeds.DefaultFeeds()
			if nvd {
				feedList = append(feedList, feeds.NVDFeed)
			}
			if len(only) > 0 {
				all := append(feeds.DefaultFeeds(), feeds.NVDFeed)
				feedList = nil
				for _, name := range only {
					found := false
					for _, f := range all {
						if f.Name == name {
							feedList, found = append(feedList, f), true
						}
					}
					if !found {
						var names []string
						for _, f := range all {
							names = append(names, f.Name)
						}
						return fmt.Errorf("unknown feed %q (feeds: %s)", name, strings.Join(names, ", "))
					}
				}
			}
			opt := feeds.UpdateOptions{Options: feeds.Options{Logger: g.logger}, Mirror: mirror, Feeds: feedList}
			if isTerminal(cmd.ErrOrStderr()) {
				opt.Progress = cmd.ErrOrStderr()
			}
			start := time.Now()
			results, err := feeds.Update(cmd.Context(), path, opt)
			if err != nil && allFailed(results) {
				// Offline, most likely: one summary with the first cause and
				// what to do instead, not one error line per feed.
				return updateFailed(path, results)
			}
			failed := printUpdate(cmd.OutOrStdout(), cmd.ErrOrStderr(), results)
			if err != nil {
				return fmt.Errorf("updating %s (the previous database is unchanged): %w", path, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "updated in %s\n", time.Since(start).Round(time.Millisecond))
			if failed > 0 {
				return fmt.Errorf("%d of %d feeds failed; the others were updated", failed, len(results))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&mirror, "mirror", "", "base URL of a mirror of the feeds (default $"+mirrorEnv+" or the upstream URLs)")
	cmd.Flags().StringSliceVar(&only, "feed", nil, "update only these feeds (repeatable; see docs/vulndb.md)")
	cmd.Flags().BoolVar(&nvd, "nvd", false, "also fetch NVD CVSS scores from the NVD API (slow without NVD_API_KEY)")
	return cmd
}

func allFailed(results []feeds.FeedResult) bool {
	for _, r := range results {
		if r.Err == nil {
			return false
		}
	}
	return len(results) > 0
}

// updateFailed is the error of an update where no feed could be fetched: the
// first cause (a *url.Error's URL once, not twice), and the alternatives
// (db import, a mirror, db pull).
func updateFailed(path string, results []feeds.FeedResult) error {
	first := results[0]
	cause := first.Err.Error()
	if ue := (*url.Error)(nil); errors.As(first.Err, &ue) {
		cause = fmt.Sprintf("%s: %v", ue.URL, ue.Err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "no feed could be updated (%d of %d failed; the database %s is unchanged); the first, %s: %s\n", len(results), len(results), path, first.Feed, cause)
	b.WriteString("Without network access to the feeds:\n")
	b.WriteString("  warden db import SOURCE...       import feed files, zips or a bundle written by 'warden db export' on a connected machine\n")
	b.WriteString("  warden db update --mirror URL    fetch from a mirror of the feeds (or set $" + mirrorEnv + "; docs/vulndb.md lists the paths)\n")
	b.WriteString("  warden db pull REF --key KEY     fetch a signed database published with 'warden db push' (from a registry you can reach)")
	return errors.New(b.String())
}

func printUpdate(out, errw io.Writer, results []feeds.FeedResult) (failed int) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FEED\tRESULT\tRECORDS\tADVISORIES")
	for _, r := range results {
		switch {
		case r.Err != nil:
			failed++
			fmt.Fprintf(tw, "%s\tFAILED\t-\t-\n", r.Feed)
		case r.NotModified:
			fmt.Fprintf(tw, "%s\tnot modified\t-\t-\n", r.Feed)
		default:
			recs, advs := 0, 0
			for _, b := range r.Batches {
				recs += b.Records
				advs += len(b.Advisories) + len(b.Scores)
			}
			fmt.Fprintf(tw, "%s\tupdated\t%d\t%d\n", r.Feed, recs, advs)
		}
	}
	tw.Flush()
	for _, r := range results {
		for _, w := range r.Warnings {
			fmt.Fprintln(errw, "warning:", w)
		}
		if r.Err != nil {
			fmt.Fprintln(errw, "error:", r.Err)
		}
	}
	return failed
}

// isTerminal reports whether w is a character device (progress goes only there).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
