package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/pkg/ignore"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/outfile"
	"github.com/wardensec/warden/pkg/report"
	"github.com/wardensec/warden/pkg/sbom"
	"github.com/wardensec/warden/pkg/source"
	"github.com/wardensec/warden/pkg/vulndb"
)

// defaultDBMaxAge is how old the database may be before scan warns.
const defaultDBMaxAge = 7 * 24 * time.Hour

type scanFlags struct {
	inv           invFlags
	dbRepo        dbRepoFlags
	format        string
	template      string
	output        string
	failOn        string
	ignoreUnfixed bool
	ignoreFile    string
	vex           []string
	dbMaxAge      time.Duration
	requireFresh  bool
	showUnlinked  bool
	wide          bool
	osOnly        bool
	attest        bool
	key           string
}

// scanNow is the clock of scan (ignore-rule expiry, database age); tests pin it.
var scanNow = time.Now

func newScanCmd(g *globals) *cobra.Command {
	f := &scanFlags{}
	cmd := &cobra.Command{
		Use:   "scan IMAGE",
		Short: "Scan an image for known vulnerabilities",
		Long: `Scan an image's OS and language packages against the local vulnerability database
(see 'warden db import' / 'warden db update') and report the findings, most severe first.

IMAGE is docker-archive:PATH, oci-layout:DIR[:TAG], oci-archive:PATH, registry:REF,
docker:REF, dir:PATH or a bare reference (Docker Engine if it has it, else the registry).

Findings can be suppressed by an ignore file (.wardenignore in the working directory, or
--ignore-file: YAML rules with id, optional package, reason and expiry date) and by OpenVEX
documents (--vex: not_affected statements). Suppressed findings are listed with the reason.

Exit status (docs/exit-codes.md): 0 no finding at or above --fail-on (or no --fail-on),
3 a finding at or above --fail-on remains after the filters, 1 an error (bad input,
no database, a stale database with --require-fresh-db).`,
		Example: `  warden scan oci-layout:testdata/images/alpine-3.19.4
  warden scan registry:localhost:5000/app:1.0 --fail-on HIGH --ignore-unfixed
  warden scan docker-archive:app.tar --format sarif --output warden.sarif
  warden scan alpine:3.19 --wide                # a bare reference: the Docker Engine, else the registry; URL column
  warden scan oci-layout:app --ignore-file .wardenignore --vex app.vex.json --fail-on CRITICAL`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			defer softMemoryLimit()()
			return runScan(cmd, g, f, args[0])
		},
	}
	f.inv.add(cmd)
	fl := cmd.Flags()
	fl.StringVarP(&f.format, "format", "f", report.FormatTable, "output format: "+strings.Join(report.Formats, ", "))
	fl.StringVar(&f.template, "template", "", "Go template file for --format template (data: the JSON report, docs/report-json.md)")
	fl.StringVarP(&f.output, "output", "o", "", "write the report to FILE instead of standard output")
	fl.StringVar(&f.failOn, "fail-on", "", "exit with status 3 when a finding of this severity or higher remains: CRITICAL, HIGH, MEDIUM, LOW, NEGLIGIBLE, UNKNOWN")
	fl.BoolVar(&f.ignoreUnfixed, "ignore-unfixed", false, "leave out findings that have no fixed version")
	fl.StringVar(&f.ignoreFile, "ignore-file", "", "ignore rules (YAML; default "+ignore.DefaultFile+" in the working directory when present)")
	fl.StringArrayVar(&f.vex, "vex", nil, "OpenVEX document whose not_affected statements suppress findings (repeatable)")
	fl.DurationVar(&f.dbMaxAge, "db-max-age", defaultDBMaxAge, "warn when the vulnerability database is older than this")
	f.dbRepo.add(cmd, &f.dbMaxAge)
	fl.BoolVar(&f.requireFresh, "require-fresh-db", false, "fail (exit 1) instead of warning when the database is older than --db-max-age")
	fl.BoolVar(&f.showUnlinked, "show-unlinked", false, "table: also list Go findings whose vulnerable code is not linked into the binary")
	fl.BoolVar(&f.wide, "wide", false, "table: add a URL column with each finding's advisory page (NVD, GHSA, osv.dev, the distribution's tracker)")
	fl.BoolVar(&f.osOnly, "os-only", false, "scan OS packages only")
	fl.BoolVar(&f.attest, "attest", false, "sign and attach the scan report (cosign vuln predicate) and the SBOM (CycloneDX) to the scanned registry image, by digest; needs --key")
	fl.StringVar(&f.key, "key", "", "private key for --attest (password from WARDEN_PASSWORD / COSIGN_PASSWORD or a prompt)")
	return cmd
}

func runScan(cmd *cobra.Command, g *globals, f *scanFlags, ref string) error {
	ctx := cmd.Context()
	stderr := cmd.ErrOrStderr()
	now := scanNow().UTC()
	started := time.Now()
	if f.attest != (f.key != "") {
		return errors.New("--attest and --key go together: --attest --key FILE signs and attaches the results")
	}

	// Check every flag and input file before the (slow) image walk.
	known := false
	for _, x := range report.Formats {
		known = known || x == f.format
	}
	if !known {
		return fmt.Errorf("--format %q: want one of %s", f.format, strings.Join(report.Formats, ", "))
	}
	var tmpl string
	switch {
	case f.format == report.FormatTemplate && f.template == "":
		return errors.New("--format template needs --template FILE")
	case f.format != report.FormatTemplate && f.template != "":
		return errors.New("--template is only used with --format template")
	case f.template != "":
		b, err := os.ReadFile(f.template)
		if err != nil {
			return fmt.Errorf("reading --template: %w", err)
		}
		if _, err := report.ParseTemplate(f.template, string(b)); err != nil {
			return err
		}
		tmpl = string(b)
	}
	failRank := -1
	if f.failOn != "" {
		failRank = report.SeverityRank(strings.ToUpper(f.failOn))
		if failRank >= len(vulndb.Severities) {
			return fmt.Errorf("--fail-on %q: want one of %s", f.failOn, strings.Join(vulndb.Severities, ", "))
		}
	}
	var rules *ignore.File
	switch {
	case f.ignoreFile != "":
		r, err := ignore.Load(f.ignoreFile)
		if err != nil {
			return err
		}
		rules = r
	default:
		if _, err := os.Stat(ignore.DefaultFile); err == nil {
			r, err := ignore.Load(ignore.DefaultFile)
			if err != nil {
				return err
			}
			rules = r
		}
	}
	var vexDocs []*ignore.VEX
	for _, p := range f.vex {
		v, err := ignore.LoadVEX(p)
		if err != nil {
			return err
		}
		vexDocs = append(vexDocs, v)
	}

	// The database: pulled first when a repository is set and it is due;
	// missing is an error that says how to get one; stale warns or fails.
	if err := f.dbRepo.ensure(cmd, g); err != nil {
		return err
	}
	path, err := g.dbPath()
	if err != nil {
		return err
	}
	db, err := vulndb.Open(path)
	if err != nil {
		if errors.Is(err, vulndb.ErrNoDB) {
			return fmt.Errorf("no vulnerability database at %s: run `warden db update` (online) or `warden db import DIR|ZIP|FILE` (offline) first", path)
		}
		return err
	}
	defer db.Close()
	var warnings []string
	if built := db.Built(); f.dbMaxAge > 0 && (built.IsZero() || now.Sub(built) > f.dbMaxAge) {
		age := "of unknown age"
		if !built.IsZero() {
			age = fmt.Sprintf("%s old (built %s)", roundAge(now.Sub(built)), built.UTC().Format(time.RFC3339))
		}
		msg := fmt.Sprintf("the vulnerability database is %s, older than --db-max-age %s: run `warden db update` or `warden db import`", age, f.dbMaxAge)
		if f.requireFresh {
			return fmt.Errorf("%s (failing because of --require-fresh-db)", msg)
		}
		fmt.Fprintln(stderr, "warning:", msg)
		warnings = append(warnings, msg)
	}

	img, err := invOpen(ctx, g, ref, &f.inv)
	if err != nil {
		return err
	}
	defer img.Close()
	showDigests := f.attest || f.format == report.FormatCycloneDX || f.format == report.FormatTemplate
	f.inv.digests = showDigests
	// No report lists the packages' files (CycloneDX is written without);
	// the SBOM of --attest does.
	f.inv.ownerFilesOnly = !f.attest
	// Of the Go binaries' symbols, a warm walk keeps those the advisories name (no report or SBOM lists them).
	env := &match.Env{}
	f.inv.keepSymbols = env.KeepSymbols(ctx, db)
	inv, err := invInventory(ctx, g, img, &f.inv)
	if err != nil {
		return err
	}
	// The image's digests, for the reports that show them (CycloneDX, and
	// templates, which may) and for --attest: after the walk, which learns a
	// docker-archive's layer digests as it reads them with a cache. The
	// table, JSON and SARIF reports do not show them, and for a docker-archive
	// read without a cache they would cost a hash of every compressed layer.
	meta := sbom.Image{Name: img.Name}
	if showDigests {
		if meta, err = sbom.ImageFrom(img.Name, img.Image); err != nil {
			return err
		}
	}
	meta.RepoTags = img.RepoTags
	findings, err := match.Match(ctx, db, inv, match.Options{OSOnly: f.osOnly, Logger: g.logger, Env: env})
	if err != nil {
		return fmt.Errorf("scanning %s: %w", img.Name, err)
	}
	// Say which packages the database could not judge (a release or ecosystem never imported).
	if nss, err := db.Namespaces(); err == nil {
		have := map[string]bool{}
		for _, ns := range nss {
			have[ns] = true
		}
		for _, w := range match.Uncovered(inv, func(ns string) bool { return have[ns] }, f.osOnly) {
			fmt.Fprintln(stderr, "warning:", w)
			warnings = append(warnings, w)
		}
		// A gate fails closed: an image whose OS release the database does not cover cannot pass it.
		if ns := match.Namespace(inv.Distro); failRank >= 0 && ns != "" && !have[ns] && hasOSPackages(inv) {
			return fmt.Errorf("--fail-on: the database has no data for %s, so %s cannot be judged: import that release's feed (warden db import / warden db update)", ns, img.Name)
		}
	}
	if f.ignoreUnfixed {
		kept := findings[:0]
		for _, x := range findings {
			if x.FixedVersion != "" {
				kept = append(kept, x)
			}
		}
		findings = kept
	}
	var expired []report.ExpiredRule
	if rules != nil {
		for _, r := range rules.Apply(findings, now) {
			expired = append(expired, report.ExpiredRule{ID: r.ID, Package: r.Package, Reason: r.Reason,
				Expires: r.Expires.Format("2006-01-02"), Source: fmt.Sprintf("%s:%d", rules.Path, r.Line)})
			fmt.Fprintf(stderr, "warning: ignore rule for %s (%s:%d) expired on %s and no longer applies\n", r.ID, rules.Path, r.Line, r.Expires.Format("2006-01-02"))
		}
	}
	ignore.ApplyVEX(findings, img.Name, vexDocs...)
	if f.osOnly {
		pk := inv.Packages[:0]
		for _, p := range inv.Packages {
			if match.IsOS(p.Ecosystem) {
				pk = append(pk, p)
			}
		}
		inv.Packages = pk
	}

	in := &report.Input{
		Artifact: img.Name, Image: meta, Inventory: inv, Findings: findings, ExpiredRules: expired,
		DBBuilt: db.Built(), Warnings: warnings, Time: now, ToolVersion: wardenVersion(),
	}
	opt := report.Options{Format: f.format, Template: tmpl, ShowUnlinked: f.showUnlinked, Wide: f.wide}
	var out io.Writer = cmd.OutOrStdout()
	if f.output != "" {
		if err := outfile.Write(f.output, 0o644, func(w io.Writer) error { return report.Write(w, in, opt) }); err != nil {
			return err
		}
	} else {
		if o, ok := out.(*os.File); ok && report.IsTerminal(o) {
			opt.Hyperlinks = true
		}
		if err := report.Write(out, in, opt); err != nil {
			return err
		}
	}

	if f.attest {
		if err := attestScan(cmd, g, f.key, img, in, started); err != nil {
			return err
		}
	}

	if failRank >= 0 {
		n := 0
		for _, x := range findings {
			if x.Suppressed != nil || (x.Linked != nil && !*x.Linked) {
				continue
			}
			sev := vulndb.NormalizeSeverity(x.Advisory.Severity)
			if sev == "" {
				sev = "UNKNOWN"
			}
			if report.SeverityRank(sev) <= failRank {
				n++
			}
		}
		if n > 0 {
			return withCode(exitFail, fmt.Errorf("%d %s at or above %s in %s (--fail-on)", n, plural(n, "finding", "findings"), strings.ToUpper(f.failOn), img.Name))
		}
	}
	return nil
}

func hasOSPackages(inv *inventory.Inventory) bool {
	for i := range inv.Packages {
		if match.IsOS(inv.Packages[i].Ecosystem) {
			return true
		}
	}
	return false
}

func roundAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	}
	return d.Round(time.Minute).String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// attestScan signs and attaches the SBOM and the JSON report to the registry
// image that was scanned, addressed by the digest that was read.
func attestScan(cmd *cobra.Command, g *globals, key string, img *source.Image, in *report.Input, started time.Time) error {
	if img.Kind != source.KindRegistry || img.Ref == nil {
		return fmt.Errorf("--attest: %s is a %s image; attestations are stored in a registry (scan registry:REF)", img.Name, img.Kind)
	}
	d, err := img.Digest()
	if err != nil {
		return fmt.Errorf("--attest: digest of %s: %w", img.Name, err)
	}
	var bom, rep bytes.Buffer
	if err := sbom.Write(&bom, sbom.FormatCycloneDX, in.Inventory, in.Image, sbom.Options{Time: in.Time, ToolVersion: in.ToolVersion}); err != nil {
		return fmt.Errorf("--attest: SBOM: %w", err)
	}
	if err := report.Write(&rep, in, report.Options{Format: report.FormatJSON}); err != nil {
		return fmt.Errorf("--attest: report: %w", err)
	}
	return sigAttestScan(cmd, g, key, img.Ref.Context().Digest(d.String()).String(), bom.Bytes(), json.RawMessage(rep.Bytes()),
		started, time.Now(), in.ToolVersion, in.DBBuilt.UTC().Format(time.RFC3339))
}
