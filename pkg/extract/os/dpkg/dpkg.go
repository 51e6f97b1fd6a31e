// Package dpkg extracts the installed packages of Debian-family images from
// dpkg's database: var/lib/dpkg/status, distroless var/lib/dpkg/status.d/*,
// and the owned-file lists var/lib/dpkg/info/<package>[:<arch>].list.
//
// The status file is a series of paragraphs of "Field: value" lines (deb822,
// continuation lines start with a space or tab). Only packages whose Status
// says they are installed count; .deb files lying in /var/cache/apt/archives are
// never read.
package dpkg

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/os/distro"
	"github.com/wardensec/warden/pkg/inventory"
)

// Paths of dpkg's database.
const (
	StatusPath    = "var/lib/dpkg/status"
	StatusDPrefix = "var/lib/dpkg/status.d/"
	InfoPrefix    = "var/lib/dpkg/info/"
)

const (
	maxLine = 1 << 20
	// metaList marks the pseudo-packages that carry a .list file's content
	// until Merge joins them onto the package they belong to.
	metaList = "dpkg.list"
)

// Extractor reads dpkg's database.
type Extractor struct{}

// New returns the dpkg extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "os/dpkg" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 2 } // 2: owned files sorted

// Required implements extract.Extractor.
func (*Extractor) Required(path string, mode fs.FileMode, _ int64) bool {
	if !mode.IsRegular() {
		return false
	}
	if path == StatusPath {
		return true
	}
	if rest, ok := strings.CutPrefix(path, StatusDPrefix); ok {
		// distroless: one file per package, plus <pkg>.md5sums beside them.
		return rest != "" && !strings.Contains(rest, "/") && !strings.HasSuffix(rest, ".md5sums")
	}
	if rest, ok := strings.CutPrefix(path, InfoPrefix); ok {
		return strings.HasSuffix(rest, ".list") && !strings.Contains(rest, "/") && len(rest) > len(".list")
	}
	return false
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	warn := in.Warn
	if warn == nil {
		warn = func(string) {}
	}
	if rest, ok := strings.CutPrefix(in.Path, InfoPrefix); ok {
		p, err := parseList(strings.TrimSuffix(rest, ".list"), in.Reader)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", in.Path, err)
		}
		p.Locations = []string{"/" + in.Path}
		return []inventory.Package{p}, nil
	}
	pkgs, err := Parse(in.Reader, strings.HasPrefix(in.Path, StatusDPrefix), warn)
	for i := range pkgs {
		pkgs[i].Locations = []string{"/" + in.Path}
	}
	if err != nil {
		return pkgs, fmt.Errorf("reading %s: %w", in.Path, err)
	}
	return pkgs, ctx.Err()
}

// Merge implements extract.Merger: it joins the owned files of each
// info/*.list onto its installed package and drops the lists of packages
// that are not installed.
func (*Extractor) Merge(pkgs []inventory.Package) []inventory.Package {
	type key struct{ name, arch string }
	lists := map[key]*inventory.Package{}
	out := make([]inventory.Package, 0, len(pkgs))
	for i := range pkgs {
		if pkgs[i].Meta[metaList] != "" {
			lists[key{pkgs[i].Name, pkgs[i].Arch}] = &pkgs[i]
			continue
		}
		out = append(out, pkgs[i])
	}
	for i := range out {
		p := &out[i]
		l := lists[key{p.Name, p.Arch}]
		if l == nil {
			l = lists[key{p.Name, ""}]
		}
		if l == nil {
			continue
		}
		p.Files = l.Files
		p.Locations = append(p.Locations[:len(p.Locations):len(p.Locations)], l.Locations...)
	}
	return out
}

// parseList reads one info/<name>[:<arch>].list: one absolute path a line.
// The paths are substrings of one string (one allocation per list, not per
// file: a Debian image owns some 100,000 files).
func parseList(base string, r io.Reader) (inventory.Package, error) {
	name, arch, _ := strings.Cut(base, ":")
	p := inventory.Package{Name: name, Arch: arch, Ecosystem: inventory.Dpkg, Meta: map[string]string{metaList: "true"}}
	b, err := io.ReadAll(r)
	if err != nil {
		return p, err
	}
	all := string(b)
	p.Files = make([]string, 0, strings.Count(all, "\n")+1)
	for line := range strings.Lines(all) {
		l := strings.TrimSpace(line)
		if l == "" || l == "/." || l[0] != '/' {
			continue
		}
		p.Files = append(p.Files, l)
	}
	// Sorted once here (the result is cached per layer), not on every SBOM.
	slices.Sort(p.Files)
	return p, nil
}

// Parse reads a dpkg status file (or one distroless status.d file). Only
// installed packages are returned. In status.d files a paragraph without a
// Status field counts as installed (distroless writes none). A paragraph
// without Package or Version is reported through warn and skipped.
func Parse(r io.Reader, statusD bool, warn func(string)) ([]inventory.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var (
		pkgs   []inventory.Package
		fields = map[string]string{}
		last   string
		lineNo int
		start  int
	)
	flush := func() {
		if len(fields) == 0 {
			return
		}
		if p, ok := paragraph(fields, statusD, start, warn); ok {
			pkgs = append(pkgs, p)
		}
		clear(fields)
		last = ""
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			flush()
			continue
		}
		if len(fields) == 0 && last == "" {
			start = lineNo
		}
		if line[0] == ' ' || line[0] == '\t' {
			if last == "" {
				warn(fmt.Sprintf("line %d: continuation line outside a field: %q", lineNo, clip(line)))
				continue
			}
			// Only short fields matter to us; skip long descriptions.
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			warn(fmt.Sprintf("line %d: not a \"Field: value\" line: %q", lineNo, clip(line)))
			last = ""
			continue
		}
		last = k
		switch k {
		case "Package", "Status", "Version", "Source", "Architecture", "Maintainer":
			fields[k] = strings.TrimSpace(v)
		default:
			fields[k] = ""
		}
	}
	if err := sc.Err(); err != nil {
		return pkgs, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	flush()
	return pkgs, nil
}

func paragraph(f map[string]string, statusD bool, start int, warn func(string)) (inventory.Package, bool) {
	name, version := f["Package"], f["Version"]
	if name == "" {
		warn(fmt.Sprintf("paragraph at line %d has no Package field; skipped", start))
		return inventory.Package{}, false
	}
	if version == "" {
		warn(fmt.Sprintf("paragraph at line %d (package %q) has no Version field; skipped", start, name))
		return inventory.Package{}, false
	}
	status, has := f["Status"]
	if has || !statusD {
		if !installed(status) {
			if !has {
				warn(fmt.Sprintf("paragraph at line %d (package %q) has no Status field; not counted as installed", start, name))
			}
			return inventory.Package{}, false
		}
	}
	p := inventory.Package{
		Name:      name,
		Version:   version,
		Ecosystem: inventory.Dpkg,
		Arch:      f["Architecture"],
	}
	if src := f["Source"]; src != "" {
		sn, sv, ok := strings.Cut(src, " ")
		p.SourceName = sn
		if ok {
			sv = strings.TrimSpace(sv)
			if strings.HasPrefix(sv, "(") && strings.HasSuffix(sv, ")") {
				p.SourceVersion = strings.TrimSpace(sv[1 : len(sv)-1])
			} else {
				warn(fmt.Sprintf("paragraph at line %d (package %q): Source field %q is not \"name (version)\"; version ignored", start, name, src))
			}
		}
		if p.SourceName == p.Name {
			p.SourceName = ""
		}
		if p.SourceVersion == p.Version {
			p.SourceVersion = ""
		}
	}
	if m := f["Maintainer"]; m != "" {
		p.Meta = map[string]string{"maintainer": m}
	}
	p.PURL = distro.PURL(&p, nil)
	return p, true
}

// installed reads a Status field "<want> <flag> <state>": the package is
// installed when its state is "installed" and it is not marked for removal.
func installed(status string) bool {
	w := strings.Fields(status)
	if len(w) != 3 {
		return false
	}
	return (w[0] == "install" || w[0] == "hold") && w[1] == "ok" && w[2] == "installed"
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// sortPackages orders packages by name then arch (for stable output in tests).
func sortPackages(p []inventory.Package) {
	sort.Slice(p, func(i, j int) bool {
		if p[i].Name != p[j].Name {
			return p[i].Name < p[j].Name
		}
		return p[i].Arch < p[j].Arch
	})
}
