// Package lint checks an image against best practices — the image items of
// the CIS Docker Benchmark (section 4) and a few more: the user it runs as,
// secrets in its environment, history and files (a secret that a later layer
// deleted still counts: it is in the earlier layer's blob), setuid/setgid
// files, package-manager caches, remote ADD and curl|sh in its history, a
// missing HEALTHCHECK, the `latest` tag, its size and package count.
//
// Config checks read the image config; file checks stream every layer once,
// never unpacking anything to disk, reading only small regular files and only
// their first bytes.
package lint

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Severities, highest first.
const (
	Critical = "CRITICAL"
	High     = "HIGH"
	Medium   = "MEDIUM"
	Low      = "LOW"
	Info     = "INFO"
)

// Severities lists the severities, highest first.
var Severities = []string{Critical, High, Medium, Low, Info}

// SeverityRank orders severities: CRITICAL is 5, INFO 1, anything else 0.
func SeverityRank(s string) int {
	for i, v := range Severities {
		if strings.EqualFold(v, s) {
			return len(Severities) - i
		}
	}
	return 0
}

// Rule describes one check.
type Rule struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Severity string `json:"severity"`
	Why      string `json:"why"`
	Fix      string `json:"fix"`
	CIS      string `json:"cis,omitempty"` // CIS Docker Benchmark recommendation
}

// Rule ids.
const (
	RootUser       = "WL001"
	SecretEnv      = "WL002"
	SecretHistory  = "WL003"
	SecretFile     = "WL004"
	SetuidFile     = "WL005"
	PackageCache   = "WL006"
	RemoteAdd      = "WL007"
	PipeToShell    = "WL008"
	NoHealthcheck  = "WL009"
	LatestTag      = "WL010"
	ImageTooLarge  = "WL011"
	TooManyPackage = "WL012"
)

// Rules is the catalogue, in id order.
var Rules = []Rule{
	{RootUser, "runs as root", High,
		"the image has no USER (or USER root/0): a process that escapes the container starts with root's privileges",
		"create an unprivileged user and add `USER <name>` (or a numeric uid) at the end of the Dockerfile", "4.1"},
	{SecretEnv, "secret in an environment variable", Critical,
		"ENV values are stored in the image config in clear text: anyone who can pull the image can read them",
		"pass the secret at run time (orchestrator secrets, a mounted file) and rotate the leaked one", "4.10"},
	{SecretHistory, "secret in the build history", Critical,
		"build arguments and RUN lines are recorded in the image history, readable by anyone who can pull the image",
		"use BuildKit secret mounts (`RUN --mount=type=secret`) instead of ARG/ENV, and rotate the leaked secret", "4.10"},
	{SecretFile, "secret in a file", Critical,
		"a private key or access token is stored in a layer; deleting it in a later layer does not remove it from the earlier layer's blob",
		"never COPY secrets into the build context; use secret mounts or multi-stage builds, and rotate the leaked secret", "4.10"},
	{SetuidFile, "setuid/setgid file", Medium,
		"setuid and setgid binaries let an unprivileged process gain another user's (often root's) privileges",
		"remove the bit where it is not needed: `RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} +`", "4.8"},
	{PackageCache, "package manager cache left in the image", Low,
		"downloaded packages and index files make the image larger and add nothing at run time",
		"clean in the same RUN that installs (`apt-get clean && rm -rf /var/lib/apt/lists/*`, `apk add --no-cache`, `pip install --no-cache-dir`)", "4.3"},
	{RemoteAdd, "ADD of a remote URL", Medium,
		"ADD fetches the URL at build time without checking its content; the build is neither reproducible nor verified",
		"download with a checksum check in a RUN step (or `ADD --checksum=sha256:…`), or COPY a vendored file", "4.9"},
	{PipeToShell, "download piped into a shell", Medium,
		"`curl … | sh` runs whatever the server returns at build time, unverified",
		"download to a file, verify its checksum or signature, then run it", ""},
	{NoHealthcheck, "no HEALTHCHECK", Low,
		"without a HEALTHCHECK the engine cannot tell a hung container from a healthy one",
		"add a `HEALTHCHECK CMD …` that probes the service", "4.6"},
	{LatestTag, "`latest` or no tag", Low,
		"`latest` moves: the same reference names different images over time, so what was scanned is not what runs",
		"tag with a version or pin by digest (`name@sha256:…`)", ""},
	{ImageTooLarge, "image larger than the limit", Low,
		"every extra megabyte is more software to patch and more attack surface (\"keep it simple: minimal systems\")",
		"use a smaller base (distroless, alpine, scratch) and multi-stage builds", ""},
	{TooManyPackage, "more packages than the limit", Low,
		"every installed package is code that can be vulnerable; minimal images have fewer",
		"install only what the application needs (`--no-install-recommends`), use a minimal base", "4.3"},
}

// RuleByID returns the catalogue entry for id.
func RuleByID(id string) (Rule, bool) {
	for _, r := range Rules {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// Finding is one problem found in an image.
type Finding struct {
	ID       string `json:"id"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
	Why      string `json:"why"`
	Fix      string `json:"fix"`
	// Detail says exactly what was found (never the secret itself).
	Detail string `json:"detail"`
	// Path is the file in the image, when the finding is about a file.
	Path string `json:"path,omitempty"`
	// Layer is the diff ID of the layer holding the file; LayerIndex its 0-based index.
	Layer      string `json:"layer,omitempty"`
	LayerIndex *int   `json:"layer_index,omitempty"`
	// RemovedInLayer is set when a later layer deleted or replaced the file:
	// it is gone from the final filesystem but still in the earlier layer's blob.
	RemovedInLayer *int `json:"removed_in_layer,omitempty"`
}

// NewFinding fills a finding from the catalogue.
func NewFinding(id, detail string) Finding {
	r, _ := RuleByID(id)
	return Finding{ID: r.ID, Severity: r.Severity, Title: r.Title, Why: r.Why, Fix: r.Fix, Detail: detail}
}

// Options control the checks.
type Options struct {
	// Reference is the image reference as the user typed it (for the tag check);
	// Tags are further tags the source knows (docker save's RepoTags).
	Reference string
	Tags      []string
	// MaxSizeMB and MaxPackages are the limits of WL011 and WL012; 0 disables the check.
	MaxSizeMB   int64
	MaxPackages int
	// Packages is the number of installed packages (from the inventory); -1 when unknown.
	Packages int
	// NoFiles skips the layer pass (config and history checks only).
	NoFiles bool
	// MaxFileBytes caps how much of each file is read for secrets (default 64 KiB);
	// files larger than MaxFileSize (default 1 MiB) are not read at all.
	MaxFileBytes int64
	MaxFileSize  int64
	// MaxLayerBytes bounds the uncompressed size of one layer (default 16 GiB):
	// a decompression bomb stops the pass with an error instead of running forever.
	MaxLayerBytes int64
	Logger        *slog.Logger
}

// Report is the result of Lint.
type Report struct {
	Findings []Finding `json:"findings"`
	// SizeBytes is the sum of the layers' uncompressed sizes (0 with NoFiles);
	// CompressedBytes the sum of the layer blobs' sizes.
	SizeBytes       int64 `json:"size_bytes"`
	CompressedBytes int64 `json:"compressed_bytes"`
	Layers          int   `json:"layers"`
	Packages        int   `json:"packages"`
}

// Max returns the highest severity among the findings ("" when none).
func (r *Report) Max() string {
	best := ""
	for _, f := range r.Findings {
		if SeverityRank(f.Severity) > SeverityRank(best) {
			best = f.Severity
		}
	}
	return best
}

// AtLeast returns the findings of severity sev or higher.
func (r *Report) AtLeast(sev string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if SeverityRank(f.Severity) >= SeverityRank(sev) {
			out = append(out, f)
		}
	}
	return out
}

// Lint runs every check on img.
func Lint(ctx context.Context, img v1.Image, opt Options) (*Report, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image %q: reading config: %w", opt.Reference, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image %q: listing layers: %w", opt.Reference, err)
	}
	rep := &Report{Layers: len(layers), Packages: opt.Packages}
	for i, l := range layers {
		sz, err := l.Size()
		if err != nil {
			return nil, fmt.Errorf("image %q: layer %d: size: %w", opt.Reference, i, err)
		}
		rep.CompressedBytes += sz
	}
	rep.Findings = append(rep.Findings, ConfigFindings(cf, opt)...)
	if !opt.NoFiles {
		ff, size, err := FileFindings(ctx, layers, opt)
		if err != nil {
			return nil, fmt.Errorf("image %q: %w", opt.Reference, err)
		}
		rep.SizeBytes = size
		rep.Findings = append(rep.Findings, ff...)
	}
	size := rep.SizeBytes
	if size == 0 {
		size = rep.CompressedBytes
	}
	if opt.MaxSizeMB > 0 && size > opt.MaxSizeMB<<20 {
		rep.Findings = append(rep.Findings, NewFinding(ImageTooLarge,
			fmt.Sprintf("%.1f MB, limit %d MB", float64(size)/(1<<20), opt.MaxSizeMB)))
	}
	if opt.MaxPackages > 0 && opt.Packages > opt.MaxPackages {
		rep.Findings = append(rep.Findings, NewFinding(TooManyPackage,
			fmt.Sprintf("%d packages, limit %d", opt.Packages, opt.MaxPackages)))
	}
	Sort(rep.Findings)
	return rep, nil
}

// Sort orders findings by severity (highest first), id, path, layer.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if ra, rb := SeverityRank(a.Severity), SeverityRank(b.Severity); ra != rb {
			return ra > rb
		}
		if a.ID != b.ID {
			return a.ID < b.ID
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		ai, bi := -1, -1
		if a.LayerIndex != nil {
			ai = *a.LayerIndex
		}
		if b.LayerIndex != nil {
			bi = *b.LayerIndex
		}
		if ai != bi {
			return ai < bi
		}
		return a.Detail < b.Detail
	})
}

func intp(i int) *int { return &i }
