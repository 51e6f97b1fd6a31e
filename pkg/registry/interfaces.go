package registry

import (
	"context"
	"io"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Scanner scans one pushed image. The registry calls it from background
// workers with an image read straight from its own storage (layers are local
// files, so nothing is downloaded). The lead wires pkg/walk + pkg/match here.
type Scanner interface {
	Scan(ctx context.Context, repo string, digest v1.Hash, img v1.Image) (*ScanResult, error)
}

// ScannerFunc adapts a function to Scanner.
type ScannerFunc func(ctx context.Context, repo string, digest v1.Hash, img v1.Image) (*ScanResult, error)

// Scan calls f.
func (f ScannerFunc) Scan(ctx context.Context, repo string, digest v1.Hash, img v1.Image) (*ScanResult, error) {
	return f(ctx, repo, digest, img)
}

// ScanResult is what the registry stores (as JSON) for a scanned manifest.
type ScanResult struct {
	Scanner   string    `json:"scanner,omitempty"` // name and version of what scanned it
	ScannedAt time.Time `json:"scannedAt"`
	Distro    string    `json:"distro,omitempty"` // e.g. "alpine 3.19.4"
	Packages  int       `json:"packages"`
	Findings  []Finding `json:"findings"`
}

// Finding is one vulnerability in one package.
type Finding struct {
	ID           string   `json:"id"` // CVE-2024-9143, GHSA-..., GO-...
	Aliases      []string `json:"aliases,omitempty"`
	Package      string   `json:"package"`
	Version      string   `json:"version"`
	FixedVersion string   `json:"fixedVersion,omitempty"`
	Ecosystem    string   `json:"ecosystem,omitempty"`
	Severity     string   `json:"severity"` // CRITICAL, HIGH, MEDIUM, LOW, NEGLIGIBLE, UNKNOWN
	CVSS         float64  `json:"cvss,omitempty"`
	Title        string   `json:"title,omitempty"`
	URL          string   `json:"url,omitempty"`
}

// SeverityRank orders severities, most severe first (unknown words last).
func SeverityRank(s string) int {
	switch strings.ToUpper(s) {
	case "CRITICAL":
		return 0
	case "HIGH":
		return 1
	case "MEDIUM", "MODERATE":
		return 2
	case "LOW":
		return 3
	case "NEGLIGIBLE":
		return 4
	}
	return 5
}

// SortFindings orders findings by severity, then CVSS, then ID and package.
func SortFindings(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if ra, rb := SeverityRank(a.Severity), SeverityRank(b.Severity); ra != rb {
			return ra < rb
		}
		if a.CVSS != b.CVSS {
			return a.CVSS > b.CVSS
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		return a.Package < b.Package
	})
}

// Counts returns the number of findings per severity.
func (r *ScanResult) Counts() map[string]int {
	m := map[string]int{}
	for _, f := range r.Findings {
		m[strings.ToUpper(f.Severity)]++
	}
	return m
}

// Subject is what the gate decides on: a manifest someone asked to pull.
type Subject struct {
	Repo      string          // repository name, e.g. "library/alpine"
	Reference string          // what the client asked for: a tag or a digest
	Digest    v1.Hash         // the manifest's digest
	MediaType types.MediaType // the manifest's media type
	Image     v1.Image        // set when the manifest is an image
	Index     v1.ImageIndex   // set when the manifest is an index / manifest list
	ScanState string          // "", "queued", "running", "done", "failed"
	Scan      *ScanResult     // nil until scanned
}

// Decision is a gate's answer.
type Decision struct {
	Allow   bool
	Reasons []string // shown to the client in the DENIED error message
}

// Gate decides whether a manifest may be pulled. It is asked for every GET and
// HEAD of an image or index manifest (by tag or by digest) in any repository;
// it answers Allow for repositories its policy does not cover. An error denies
// (fail closed). The lead wires pkg/policy (+ pkg/verify) here.
type Gate interface {
	Decide(ctx context.Context, s Subject) (Decision, error)
}

// GateFunc adapts a function to Gate.
type GateFunc func(ctx context.Context, s Subject) (Decision, error)

// Decide calls f.
func (f GateFunc) Decide(ctx context.Context, s Subject) (Decision, error) { return f(ctx, s) }

// SBOMWriter writes an image's SBOM in a format ("cyclonedx-json", "spdx-json", "json").
// The lead's wiring uses pkg/walk (layer cache) + pkg/sbom; the UI links to it.
type SBOMWriter interface {
	WriteSBOM(ctx context.Context, w io.Writer, format, repo string, digest v1.Hash, img v1.Image) error
}

// SignatureChecker verifies an image's signatures for the UI and the JSON API
// ("signatures and who signed"). pkg/policy/registrygate implements it with
// pkg/verify against the trusted keys the server knows.
type SignatureChecker interface {
	CheckSignatures(ctx context.Context, repo string, digest v1.Hash) (*SignatureReport, error)
}

// Signature statuses of a SignatureReport.
const (
	SigVerified  = "verified"   // at least one signature by a trusted key
	SigInvalid   = "invalid"    // signatures exist, none valid for the trusted keys
	SigUnsigned  = "not signed" // no signature of any kind
	SigNoKeys    = "no trusted keys"
	SigCheckFail = "error" // the check itself failed (Error says why)
)

// SignatureReport is the verified state of an image's signatures.
type SignatureReport struct {
	Status   string             `json:"status"`   // one of the Sig* constants
	SignedBy []string           `json:"signedBy"` // distinct names of the keys with a valid signature
	Signers  []SignatureSigner  `json:"signers"`  // every valid signature
	Invalid  []InvalidSignature `json:"invalid"`
	Keys     []string           `json:"trustedKeys"` // the keys checked against
	Cached   bool               `json:"cached,omitempty"`
	Error    string             `json:"error,omitempty"`
}

// SignatureSigner is one valid signature: the trusted key that made it.
type SignatureSigner struct {
	Key      string `json:"key"`    // key name (file)
	KeyID    string `json:"keyId"`  // sign.KeyID
	Format   string `json:"format"` // legacy (.sig tag), bundle (Sigstore referrer) or notation (Notary Project referrer)
	Location string `json:"location"`
	Subject  string `json:"subject,omitempty"` // keyless: the certificate SAN; notation: the signing certificate's subject
	Issuer   string `json:"issuer,omitempty"`  // keyless: the OIDC issuer; notation: the certificate's issuer
}

// InvalidSignature is a signature that does not count, and why.
type InvalidSignature struct {
	Format   string `json:"format"`
	Location string `json:"location"`
	Reason   string `json:"reason"`
}
