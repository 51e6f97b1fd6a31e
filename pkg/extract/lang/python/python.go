// Package python reads installed Python distributions: *.dist-info/METADATA
// (wheels, pip), *.egg-info/PKG-INFO and the single-file *.egg-info form
// (setuptools, distro packages). The headers are the core metadata format
// (RFC 822 style, https://packaging.python.org/specifications/core-metadata/).
package python

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

// MaxSize bounds the metadata files read (the long description makes some large).
const MaxSize = 16 << 20

// Extractor is the Python extractor.
type Extractor struct{}

// New returns the extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "lang/python" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor.
func (*Extractor) Required(path string, mode fs.FileMode, size int64) bool {
	if !mode.IsRegular() || size > MaxSize {
		return false
	}
	return strings.HasSuffix(path, ".dist-info/METADATA") ||
		strings.HasSuffix(path, ".egg-info/PKG-INFO") ||
		strings.HasSuffix(path, ".egg/EGG-INFO/PKG-INFO") ||
		strings.HasSuffix(path, ".egg-info") // the single-file form
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	b, err := langutil.ReadAll(in, MaxSize)
	if err != nil {
		return nil, err
	}
	h, err := parseHeaders(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", langutil.Location(in.Path), err)
	}
	name, version := h.get("Name"), h.get("Version")
	if name == "" || version == "" {
		return nil, fmt.Errorf("%s: core metadata without Name and Version", langutil.Location(in.Path))
	}
	p := langutil.Package(in, inventory.PyPI, name, version, PURL(name, version))
	p.Licenses = licenses(h)
	return []inventory.Package{p}, nil
}

var nameRuns = regexp.MustCompile(`[-_.]+`)

// NormalizeName is PEP 503's normalised project name.
func NormalizeName(name string) string {
	return strings.ToLower(nameRuns.ReplaceAllString(name, "-"))
}

// PURL returns pkg:pypi/<normalised name>@version.
func PURL(name, version string) string {
	return langutil.PURL(packageurl.TypePyPi, "", NormalizeName(name), version, nil)
}

type headers map[string][]string

func (h headers) get(k string) string {
	if v := h[strings.ToLower(k)]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// parseHeaders reads the header block (up to the first blank line; the
// description body follows it). Continuation lines start with white space.
func parseHeaders(b []byte) (headers, error) {
	h := headers{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var last string
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimRight(sc.Text(), "\r")
		if l == "" {
			break
		}
		if l[0] == ' ' || l[0] == '\t' {
			if last != "" {
				vs := h[last]
				vs[len(vs)-1] += "\n" + strings.TrimSpace(l)
			}
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("line %d: not a metadata header: %q", line, trunc(l))
		}
		last = strings.ToLower(strings.TrimSpace(k))
		h[last] = append(h[last], strings.TrimSpace(v))
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(h) == 0 {
		return nil, fmt.Errorf("no metadata headers")
	}
	return h, nil
}

func trunc(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// licenses: License-Expression (metadata 2.4), else a short License field,
// else the "License ::" classifiers' last part.
func licenses(h headers) []string {
	if e := h.get("License-Expression"); e != "" {
		return []string{e}
	}
	if l := h.get("License"); l != "" && l != "UNKNOWN" && !strings.Contains(l, "\n") && len(l) <= 80 {
		return []string{l}
	}
	var out []string
	for _, c := range h["classifier"] {
		if strings.HasPrefix(c, "License ::") {
			parts := strings.Split(c, "::")
			out = append(out, strings.TrimSpace(parts[len(parts)-1]))
		}
	}
	return out
}
