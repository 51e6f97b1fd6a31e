// Package vulndb is Warden's embedded vulnerability database: advisories from
// the upstream feeds (pkg/feeds) stored per namespace and package, queried by the matchers.
package vulndb

import (
	"context"
	"time"
)

// Namespaces. OS data is keyed "<distro-id>:<release>", with the release as
// the matchers derive it from the image's os-release:
//
//	alpine:3.19   (Alpine secdb v3.19; alpine 3.19.4 -> 3.19; edge -> alpine:edge)
//	wolfi:rolling, chainguard:rolling
//	debian:12     (tracker "bookworm" -> 12)
//	ubuntu:24.04
//	rocky:9, almalinux:9, rhel:9, ...
//
// Language data is keyed by the OSV ecosystem name: Go, npm, PyPI, Maven,
// crates.io, RubyGems, Packagist, NuGet. Package names are normalised per
// ecosystem by NormalizeName.

// Status of an advisory for a package in a namespace.
const (
	StatusFixed       = "fixed"        // fixed in FixedVersion (and affected below it)
	StatusUnfixed     = "unfixed"      // affected, no fix released yet
	StatusWontFix     = "wont-fix"     // affected, the distro will not fix it
	StatusNotAffected = "not-affected" // the distro says this package is not affected
	StatusEndOfLife   = "end-of-life"  // the release/package is out of security support

	// StatusLimitedSupport marks a package whose security support the distro
	// limits (Debian's security-support-limited): informational, not a vulnerability.
	StatusLimitedSupport = "limited-support"
)

// Severities, highest first.
var Severities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN"}

// Range is one affected range in the OSV sense: affected from Introduced
// (inclusive, "" or "0" = from the start) up to Fixed (exclusive) or
// LastAffected (inclusive); both empty = no upper bound.
type Range struct {
	Type         string `json:"type"` // "ECOSYSTEM" (the namespace's own scheme) or "SEMVER"
	Introduced   string `json:"introduced,omitempty"`
	Fixed        string `json:"fixed,omitempty"`
	LastAffected string `json:"last_affected,omitempty"`
}

// GoImport is the Go vulndb's ecosystem_specific.imports entry: the package,
// its vulnerable symbols, and the platforms it is limited to (empty = all).
type GoImport struct {
	Path    string   `json:"path"`
	GOOS    []string `json:"goos,omitempty"`
	GOARCH  []string `json:"goarch,omitempty"`
	Symbols []string `json:"symbols,omitempty"`
}

// Advisory is one vulnerability as it affects one package in one namespace.
type Advisory struct {
	ID        string   `json:"id"` // CVE-2024-9143, GHSA-..., GO-2022-0956, PYSEC-..., ALSA-...
	Aliases   []string `json:"aliases,omitempty"`
	Namespace string   `json:"namespace"`
	Package   string   `json:"package"` // normalised name (Alpine origin, Debian source, module path, ...)

	Status       string   `json:"status"`
	Ranges       []Range  `json:"ranges,omitempty"`
	Versions     []string `json:"versions,omitempty"` // explicitly affected versions (OSV "versions")
	FixedVersion string   `json:"fixed_version,omitempty"`

	Severity       string   `json:"severity"`        // CRITICAL..UNKNOWN after precedence
	SeveritySource string   `json:"severity_source"` // which source gave Severity: "alpine-secdb", "debian-tracker", "nvd", "ghsa", ...
	CVSS           []CVSS   `json:"cvss,omitempty"`
	Title          string   `json:"title,omitempty"`
	Description    string   `json:"description,omitempty"`
	URLs           []string `json:"urls,omitempty"`

	Published time.Time `json:"published,omitempty"`
	Modified  time.Time `json:"modified,omitempty"`
	FixedAt   time.Time `json:"fixed_at,omitempty"` // when the fix was published, when known (policy grace periods)

	Source  string     `json:"source"`            // the feed: "osv-go", "alpine-secdb", "debian-tracker", "ubuntu-oval", ...
	Imports []GoImport `json:"imports,omitempty"` // Go only

	// Module is the RHEL-family module stream ("nodejs:18") this row applies
	// to: only packages built for that stream (the rpm's modularitylabel
	// "nodejs:18:<version>:<context>") are judged by it. "" is a row for the
	// non-modular package, which a feed that knows modules (Module or CPEs set
	// somewhere in its rows) keeps apart from modular builds.
	Module string `json:"module,omitempty"`
	// CPEs are the Red Hat product streams the row applies to
	// ("cpe:/a:redhat:enterprise_linux:9::appstream",
	// "cpe:/a:redhat:rhel_eus:9.2::appstream"); empty = every product of the
	// namespace. The matcher picks the rows of the repositories the image's
	// packages came from (its content sets), else the main stream's.
	CPEs []string `json:"cpes,omitempty"`
}

// CVSS is one score.
type CVSS struct {
	Source  string  `json:"source"`  // "nvd", "ghsa", ...
	Version string  `json:"version"` // "3.1", "2.0", "4.0"
	Vector  string  `json:"vector"`
	Score   float64 `json:"score"`
}

// Reader is what the matchers need from the database.
type Reader interface {
	// Lookup returns the advisories for a package in a namespace (name as
	// normalised by NormalizeName), with severity already resolved by the
	// documented precedence (distro, then NVD, then the advisory's own).
	Lookup(ctx context.Context, namespace, pkg string) ([]Advisory, error)
	// Built is when the data was last imported (for staleness checks).
	Built() time.Time
}

// RowReader is a Reader that can leave the advisories' bodies for later. A
// scan looks up hundreds of advisories (stdlib alone has hundreds) and keeps
// the few its versions match; decoding each body (aliases, scores, texts,
// compressed) and resolving its severity was a sixth of a warm scan.
// A wrapper that changes what Lookup returns must not pass these methods on
// (embed Reader, not *DB): pkg/match uses them instead of Lookup. pkg/match
// also calls a RowReader from several goroutines at once: it must be safe for
// concurrent use, as *DB is.
type RowReader interface {
	Reader
	// LookupRows is Lookup without the bodies (Aliases, CVSS, Title,
	// Description, URLs, Published, Modified) and without severity resolved.
	LookupRows(ctx context.Context, namespace, pkg string) ([]Advisory, error)
	// Complete fills in what LookupRows left out, in place, for advisories
	// LookupRows returned: then each is what Lookup returns.
	Complete(ctx context.Context, advs []*Advisory) error
}
