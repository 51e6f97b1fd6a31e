// Package composer reads PHP packages installed by Composer:
// vendor/composer/installed.json (Composer 1: a JSON array; Composer 2:
// {"packages": [...]}) and composer.lock ("packages" and "packages-dev").
package composer

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/lang/internal/langutil"
	"github.com/wardensec/warden/pkg/inventory"
)

// MaxSize bounds the files read.
const MaxSize = 32 << 20

// Extractor is the Composer extractor.
type Extractor struct{}

// New returns the extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "lang/composer" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor.
func (*Extractor) Required(path string, mode fs.FileMode, size int64) bool {
	if !mode.IsRegular() || size > MaxSize {
		return false
	}
	if strings.HasSuffix("/"+path, "/vendor/composer/installed.json") {
		return true
	}
	return langutil.Base(path) == "composer.lock" && !strings.Contains("/"+path, "/vendor/")
}

// PURL returns pkg:composer/<vendor>/<name>@<version>.
func PURL(name, version string) string {
	ns, n, _ := strings.Cut(name, "/")
	if n == "" {
		ns, n = "", name
	}
	return langutil.PURL(packageurl.TypeComposer, ns, n, version, nil)
}

type pkg struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	License json.RawMessage `json:"license"`
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	b, err := langutil.ReadAll(in, MaxSize)
	if err != nil {
		return nil, err
	}
	loc := langutil.Location(in.Path)
	var list []pkg
	dev := map[string]bool{}
	trimmed := strings.TrimSpace(string(b[:min(len(b), 64)]))
	if strings.HasPrefix(trimmed, "[") { // Composer 1 installed.json
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("%s: not a valid installed.json: %w", loc, err)
		}
	} else {
		var doc struct {
			Packages        []pkg    `json:"packages"`
			PackagesDev     []pkg    `json:"packages-dev"`
			DevPackageNames []string `json:"dev-package-names"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			return nil, fmt.Errorf("%s: not valid Composer JSON: %w", loc, err)
		}
		list = doc.Packages
		for _, p := range doc.PackagesDev {
			dev[p.Name] = true
			list = append(list, p)
		}
		for _, n := range doc.DevPackageNames {
			dev[n] = true
		}
	}
	var out []inventory.Package
	for _, p := range list {
		if p.Name == "" || p.Version == "" {
			continue
		}
		// Tags are often "v1.2.3"; advisories use "1.2.3".
		v := p.Version
		if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && v[1] >= '0' && v[1] <= '9' {
			v = v[1:]
		}
		ip := langutil.Package(in, inventory.Composer, p.Name, v, PURL(p.Name, v))
		var lic []string
		if json.Unmarshal(p.License, &lic) != nil {
			var s string
			if json.Unmarshal(p.License, &s) == nil && s != "" {
				lic = []string{s}
			}
		}
		ip.Licenses = lic
		if dev[p.Name] {
			ip.Meta = map[string]string{"dev": "true"}
		}
		out = append(out, ip)
	}
	return out, nil
}
