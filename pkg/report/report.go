// Package report writes scan results: a table for people (ordered by
// severity, each ID a link, then counts and what a rebuild would fix), and
// JSON (the stable schema of docs/report-json.md), SARIF 2.1.0, CycloneDX 1.6
// with vulnerabilities, and Go templates over the JSON model for machines.
package report

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/sbom"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Formats.
const (
	FormatTable     = "table"
	FormatJSON      = "json"
	FormatSARIF     = "sarif"
	FormatCycloneDX = "cyclonedx"
	FormatTemplate  = "template"
)

// Formats lists the output formats.
var Formats = []string{FormatTable, FormatJSON, FormatSARIF, FormatCycloneDX, FormatTemplate}

// SchemaVersion names the JSON schema (docs/report-json.md); it changes only
// when a field is removed or changes meaning.
const SchemaVersion = "warden.scan/v1"

// ExpiredRule is an ignore rule that no longer applies.
type ExpiredRule struct {
	ID      string `json:"id"`
	Package string `json:"package,omitempty"`
	Reason  string `json:"reason"`
	Expires string `json:"expires"` // YYYY-MM-DD
	Source  string `json:"source"`  // file:line
}

// Input is everything a report shows.
type Input struct {
	Artifact     string // what the user scanned
	Image        sbom.Image
	Inventory    *inventory.Inventory
	Findings     []match.Finding // after --ignore-unfixed; suppressed ones carry Suppressed
	ExpiredRules []ExpiredRule
	DBBuilt      time.Time
	Warnings     []string  // non-fatal problems (inventory warnings, a stale database)
	Time         time.Time // report time (CycloneDX/SARIF); zero = now
	ToolVersion  string
}

// Options choose the output.
type Options struct {
	Format       string
	Template     string // template text for FormatTemplate
	ShowUnlinked bool   // table: list Go findings whose vulnerable code is not linked
	Hyperlinks   bool   // table: advisory IDs as OSC 8 terminal hyperlinks
	Wide         bool   // table: a URL column with each finding's advisory page
}

// Write renders the report.
func Write(w io.Writer, in *Input, opt Options) error {
	doc := Build(in)
	switch opt.Format {
	case FormatTable, "":
		return writeTable(w, doc, opt)
	case FormatJSON:
		return writeJSON(w, doc)
	case FormatSARIF:
		return writeSARIF(w, doc, in)
	case FormatCycloneDX:
		return writeCycloneDX(w, doc, in)
	case FormatTemplate:
		return writeTemplate(w, doc, opt.Template)
	}
	return fmt.Errorf("unknown report format %q (known: %s)", opt.Format, strings.Join(Formats, ", "))
}

// IsTerminal reports whether f is a terminal (for the default format and hyperlinks).
func IsTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Document is the JSON model (docs/report-json.md).
type Document struct {
	SchemaVersion   string          `json:"schema_version"`
	Artifact        string          `json:"artifact"`
	OS              *OS             `json:"os"`
	DB              *DBInfo         `json:"db,omitempty"`
	Packages        []Package       `json:"packages"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
	Suppressed      []Vulnerability `json:"suppressed"`
	ExpiredIgnores  []ExpiredRule   `json:"expired_ignores"`
	Summary         Summary         `json:"summary"`
	Warnings        []string        `json:"warnings"`
}

// OS is the image's distribution.
type OS struct {
	Family  string `json:"family"`
	Version string `json:"version"`
	Name    string `json:"name,omitempty"`
}

// DBInfo describes the database used.
type DBInfo struct {
	Built string `json:"built"` // RFC 3339
}

// Package is one installed package.
type Package struct {
	Name          string   `json:"name"`
	Version       string   `json:"version"`
	Ecosystem     string   `json:"ecosystem"`
	PURL          string   `json:"purl"`
	SourceName    string   `json:"source_name,omitempty"`
	SourceVersion string   `json:"source_version,omitempty"`
	Locations     []string `json:"locations"`
	Layer         string   `json:"layer,omitempty"`
	OwnedBy       string   `json:"owned_by,omitempty"`
}

// PackageRef is the package a vulnerability is on.
type PackageRef struct {
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Ecosystem string   `json:"ecosystem"`
	PURL      string   `json:"purl"`
	Locations []string `json:"locations,omitempty"`
}

// Vulnerability is one finding.
type Vulnerability struct {
	ID             string             `json:"id"`
	Aliases        []string           `json:"aliases"`
	Package        PackageRef         `json:"package"`
	FixedVersion   string             `json:"fixed_version"`
	Status         string             `json:"status"`
	Severity       string             `json:"severity"`
	SeveritySource string             `json:"severity_source"`
	CVSS           []vulndb.CVSS      `json:"cvss,omitempty"`
	Title          string             `json:"title"`
	Description    string             `json:"description,omitempty"`
	URL            string             `json:"url"`
	URLs           []string           `json:"urls"`
	Namespace      string             `json:"namespace"`
	DataSource     string             `json:"data_source"`
	Linked         *bool              `json:"linked,omitempty"`
	Suppression    *match.Suppression `json:"suppression,omitempty"`
}

// Summary counts the (unsuppressed) vulnerabilities.
type Summary struct {
	Total      int            `json:"total"`
	BySeverity map[string]int `json:"by_severity"`
	// Fixable: findings with a fixed version (a rebuild with current packages fixes them).
	Fixable int `json:"fixable"`
	// Unlinked: Go findings whose vulnerable symbols are not linked into the binary.
	Unlinked   int `json:"unlinked"`
	Suppressed int `json:"suppressed"`
	// DistroOwned: language packages judged by the distro's data, not upstream advisories.
	DistroOwned []string `json:"distro_owned"`
}

// Build turns the input into the JSON model, sorted: severity (CRITICAL
// first), then id, then package.
func Build(in *Input) *Document {
	doc := &Document{
		SchemaVersion:   SchemaVersion,
		Artifact:        in.Artifact,
		Packages:        []Package{},
		Vulnerabilities: []Vulnerability{},
		Suppressed:      []Vulnerability{},
		ExpiredIgnores:  append([]ExpiredRule{}, in.ExpiredRules...),
		Warnings:        []string{},
		Summary:         Summary{BySeverity: map[string]int{}, DistroOwned: []string{}},
	}
	if !in.DBBuilt.IsZero() {
		doc.DB = &DBInfo{Built: in.DBBuilt.UTC().Format(time.RFC3339)}
	}
	for _, s := range vulndb.Severities {
		doc.Summary.BySeverity[s] = 0
	}
	if inv := in.Inventory; inv != nil {
		if d := inv.Distro; d != nil && d.ID != "" {
			doc.OS = &OS{Family: d.ID, Version: d.VersionID, Name: d.PrettyName}
		}
		for _, p := range inv.Packages {
			doc.Packages = append(doc.Packages, Package{
				Name: p.Name, Version: p.Version, Ecosystem: p.Ecosystem, PURL: p.PURL,
				SourceName: p.SourceName, SourceVersion: p.SourceVersion,
				Locations: nonNil(p.Locations), Layer: p.Layer, OwnedBy: p.OwnedBy,
			})
			if p.OwnedBy != "" && !match.IsOS(p.Ecosystem) {
				doc.Summary.DistroOwned = append(doc.Summary.DistroOwned, fmt.Sprintf("%s %s (%s, owned by %s)", p.Name, p.Version, p.Ecosystem, p.OwnedBy))
			}
		}
		doc.Warnings = append(doc.Warnings, inv.Warnings...)
	}
	doc.Warnings = append(doc.Warnings, in.Warnings...)
	sort.SliceStable(doc.Packages, func(i, j int) bool {
		a, b := doc.Packages[i], doc.Packages[j]
		if a.Ecosystem != b.Ecosystem {
			return a.Ecosystem < b.Ecosystem
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return strings.Join(a.Locations, ",") < strings.Join(b.Locations, ",")
	})
	sort.Strings(doc.Summary.DistroOwned)

	for _, f := range in.Findings {
		v := vulnFrom(&f)
		if f.Suppressed != nil {
			doc.Suppressed = append(doc.Suppressed, v)
			doc.Summary.Suppressed++
			continue
		}
		doc.Vulnerabilities = append(doc.Vulnerabilities, v)
		if v.Linked != nil && !*v.Linked {
			doc.Summary.Unlinked++
			continue
		}
		doc.Summary.Total++
		doc.Summary.BySeverity[v.Severity]++
		if v.FixedVersion != "" {
			doc.Summary.Fixable++
		}
	}
	sortVulns(doc.Vulnerabilities)
	sortVulns(doc.Suppressed)
	return doc
}

func vulnFrom(f *match.Finding) Vulnerability {
	a := &f.Advisory
	sev := vulndb.NormalizeSeverity(a.Severity)
	if sev == "" {
		sev = "UNKNOWN"
	}
	return Vulnerability{
		ID:      a.ID,
		Aliases: nonNil(a.Aliases),
		Package: PackageRef{
			Name: f.Package.Name, Version: f.Package.Version, Ecosystem: f.Package.Ecosystem,
			PURL: f.Package.PURL, Locations: f.Package.Locations,
		},
		FixedVersion:   f.FixedVersion,
		Status:         f.Status,
		Severity:       sev,
		SeveritySource: a.SeveritySource,
		CVSS:           a.CVSS,
		Title:          Title(a),
		Description:    a.Description,
		URL:            AdvisoryURL(a),
		URLs:           uniq(a.URLs),
		Namespace:      a.Namespace,
		DataSource:     a.Source,
		Linked:         f.Linked,
		Suppression:    f.Suppressed,
	}
}

// Title is an advisory's title, else the first line of its description.
func Title(a *vulndb.Advisory) string {
	t := strings.TrimSpace(a.Title)
	if t == "" {
		t = strings.TrimSpace(a.Description)
		if i := strings.IndexAny(t, "\n"); i >= 0 {
			t = t[:i]
		}
	}
	return t
}

// SeverityRank orders severities: CRITICAL is 0, UNKNOWN and anything else last.
func SeverityRank(s string) int {
	for i, x := range vulndb.Severities {
		if strings.EqualFold(x, s) {
			return i
		}
	}
	return len(vulndb.Severities)
}

func sortVulns(vs []Vulnerability) {
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := &vs[i], &vs[j]
		if ra, rb := SeverityRank(a.Severity), SeverityRank(b.Severity); ra != rb {
			return ra < rb
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Package.Name != b.Package.Name {
			return a.Package.Name < b.Package.Name
		}
		if a.Package.Version != b.Package.Version {
			return a.Package.Version < b.Package.Version
		}
		return strings.Join(a.Package.Locations, ",") < strings.Join(b.Package.Locations, ",")
	})
}

// AdvisoryURL is the page that explains an advisory: the distribution's
// tracker for a CVE a distribution judged, NVD for other CVEs, GitHub's page
// for a GHSA, osv.dev for GO-, PYSEC-, RUSTSEC- and AlmaLinux ids, the
// vendor's errata page for USN/RHSA/RLSA; else its first reference.
func AdvisoryURL(a *vulndb.Advisory) string {
	id := a.ID
	switch {
	case strings.HasPrefix(id, "CVE-"):
		switch {
		case strings.HasPrefix(a.Namespace, "debian:"):
			return "https://security-tracker.debian.org/tracker/" + id
		case strings.HasPrefix(a.Namespace, "ubuntu:"):
			return "https://ubuntu.com/security/" + id
		case strings.HasPrefix(a.Namespace, "alpine:"):
			return "https://security.alpinelinux.org/vuln/" + id
		}
		return "https://nvd.nist.gov/vuln/detail/" + id
	case strings.HasPrefix(id, "GHSA-"):
		return "https://github.com/advisories/" + id
	case strings.HasPrefix(id, "GO-"),
		strings.HasPrefix(id, "PYSEC-"), strings.HasPrefix(id, "RUSTSEC-"), strings.HasPrefix(id, "ALSA-"), strings.HasPrefix(id, "ALBA-"), strings.HasPrefix(id, "ALEA-"):
		return "https://osv.dev/vulnerability/" + id
	case strings.HasPrefix(id, "USN-"):
		return "https://ubuntu.com/security/notices/" + id
	case strings.HasPrefix(id, "RHSA-"), strings.HasPrefix(id, "RHBA-"), strings.HasPrefix(id, "RHEA-"):
		return "https://access.redhat.com/errata/" + id
	case strings.HasPrefix(id, "RLSA-"):
		return "https://errata.rockylinux.org/" + id
	}
	if len(a.URLs) > 0 {
		return a.URLs[0]
	}
	return ""
}

// uniq drops repeated entries, keeping the first of each.
func uniq(s []string) []string {
	out := make([]string, 0, len(s))
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
