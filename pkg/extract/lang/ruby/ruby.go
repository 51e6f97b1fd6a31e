// Package ruby reads Ruby gems: the specifications/*.gemspec files that
// RubyGems writes for installed gems (a Ruby literal, read here with patterns,
// never evaluated) and Bundler's Gemfile.lock (GEM and GIT sections).
package ruby

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/lang/internal/langutil"
	"github.com/wardensec/warden/pkg/inventory"
)

// MaxSize bounds the files read.
const MaxSize = 8 << 20

// Extractor is the Ruby extractor.
type Extractor struct{}

// New returns the extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "lang/ruby" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor.
func (*Extractor) Required(path string, mode fs.FileMode, size int64) bool {
	if !mode.IsRegular() || size > MaxSize {
		return false
	}
	base := langutil.Base(path)
	if base == "Gemfile.lock" || base == "gems.locked" {
		return true
	}
	return strings.HasSuffix(base, ".gemspec") && strings.Contains("/"+path, "/specifications/")
}

// PURL returns pkg:gem/<name>@<version>.
func PURL(name, version string) string {
	return langutil.PURL(packageurl.TypeGem, "", name, version, nil)
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	b, err := langutil.ReadAll(in, MaxSize)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(in.Path, ".gemspec") {
		return parseGemspec(in, b)
	}
	return parseGemfileLock(in, b)
}

var (
	reName     = regexp.MustCompile(`(?m)^\s*s\.name\s*=\s*["']([^"']+)["']`)
	reVersion  = regexp.MustCompile(`(?m)^\s*s\.version\s*=\s*["']([^"']+)["']`)
	reLicenses = regexp.MustCompile(`(?m)^\s*s\.licenses?\s*=\s*\[?([^\n]*)`)
	reString   = regexp.MustCompile(`["']([^"']+)["']`)
	reStub     = regexp.MustCompile(`(?m)^# stub: (\S+) (\S+)`)
)

func parseGemspec(in *extract.Input, b []byte) ([]inventory.Package, error) {
	var name, version string
	if m := reName.FindSubmatch(b); m != nil {
		name = string(m[1])
	}
	if m := reVersion.FindSubmatch(b); m != nil {
		version = string(m[1])
	}
	if name == "" || version == "" {
		if m := reStub.FindSubmatch(b); m != nil {
			name, version = string(m[1]), string(m[2])
		}
	}
	if name == "" || version == "" {
		return nil, fmt.Errorf("%s: no s.name and s.version in the gem specification", langutil.Location(in.Path))
	}
	p := langutil.Package(in, inventory.RubyGems, name, version, PURL(name, version))
	if m := reLicenses.FindSubmatch(b); m != nil {
		for _, l := range reString.FindAllSubmatch(m[1], -1) {
			p.Licenses = append(p.Licenses, string(l[1]))
		}
	}
	return []inventory.Package{p}, nil
}

// parseGemfileLock reads the "specs:" of the GEM and GIT sections: four-space
// indented "name (version)" or "name (version-platform)" lines. PATH gems
// are the application's own.
func parseGemfileLock(in *extract.Input, b []byte) ([]inventory.Package, error) {
	var pkgs []inventory.Package
	seen := map[string]bool{}
	section := ""
	inSpecs := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	sections := 0
	for sc.Scan() {
		line++
		l := strings.TrimRight(sc.Text(), "\r")
		if l == "" {
			continue
		}
		if l[0] != ' ' {
			section, inSpecs = strings.TrimSpace(l), false
			sections++
			continue
		}
		if strings.TrimSpace(l) == "specs:" {
			inSpecs = true
			continue
		}
		if !inSpecs || (section != "GEM" && section != "GIT") {
			continue
		}
		if !strings.HasPrefix(l, "    ") || strings.HasPrefix(l, "     ") {
			continue // a dependency of the spec above (six spaces)
		}
		t := strings.TrimSpace(l)
		open := strings.IndexByte(t, '(')
		if open <= 0 || !strings.HasSuffix(t, ")") {
			return nil, fmt.Errorf("%s:%d: not a spec line: %q", langutil.Location(in.Path), line, t)
		}
		name := strings.TrimSpace(t[:open])
		version := t[open+1 : len(t)-1]
		platform := ""
		if i := strings.IndexByte(version, '-'); i > 0 {
			version, platform = version[:i], version[i+1:]
		}
		if seen[name+"@"+version] {
			continue
		}
		seen[name+"@"+version] = true
		p := langutil.Package(in, inventory.RubyGems, name, version, PURL(name, version))
		if section == "GIT" || platform != "" {
			p.Meta = map[string]string{}
			if section == "GIT" {
				p.Meta["source"] = "git"
			}
			if platform != "" {
				p.Meta["platform"] = platform
			}
		}
		pkgs = append(pkgs, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", langutil.Location(in.Path), err)
	}
	if sections == 0 {
		return nil, fmt.Errorf("%s: no sections: not a Gemfile.lock", langutil.Location(in.Path))
	}
	return pkgs, nil
}
