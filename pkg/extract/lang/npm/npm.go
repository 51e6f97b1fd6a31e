// Package npm reads Node.js packages: package-lock.json / npm-shrinkwrap.json
// (lockfileVersion 1, 2 and 3), yarn.lock (v1 and Berry), pnpm-lock.yaml, and
// the package.json of each package installed under node_modules.
//
// Double counting: a lockfile and the node_modules tree beside it describe the
// same packages. Merge keeps the installed copy (its package.json is what is
// on disk) and drops a lockfile entry with the same name and version in the
// same project directory, adding the lockfile to the installed package's
// locations; lockfile entries that are not installed stay.
package npm

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/lang/internal/langutil"
	"github.com/wardensec/warden/pkg/inventory"
)

// MaxSize bounds the files read.
const MaxSize = 64 << 20

// Extractor is the npm extractor.
type Extractor struct{}

// New returns the extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "lang/npm" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor.
func (*Extractor) Required(path string, mode fs.FileMode, size int64) bool {
	if !mode.IsRegular() || size > MaxSize {
		return false
	}
	base := langutil.Base(path)
	switch base {
	case "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml":
		// Lockfiles shipped inside installed packages are not what was installed.
		return !strings.Contains("/"+path, "/node_modules/")
	case "package.json":
		return installedManifest(path)
	}
	return false
}

// installedManifest reports whether path is node_modules/<name>/package.json
// or node_modules/@scope/<name>/package.json.
func installedManifest(path string) bool {
	parts := strings.Split(path, "/")
	n := len(parts)
	if n >= 3 && parts[n-3] == "node_modules" && !strings.HasPrefix(parts[n-2], "@") && !strings.HasPrefix(parts[n-2], ".") {
		return true
	}
	return n >= 4 && parts[n-4] == "node_modules" && strings.HasPrefix(parts[n-3], "@")
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	b, err := langutil.ReadAll(in, MaxSize)
	if err != nil {
		return nil, err
	}
	switch langutil.Base(in.Path) {
	case "package-lock.json", "npm-shrinkwrap.json":
		return parsePackageLock(in, b)
	case "yarn.lock":
		return parseYarnLock(in, b)
	case "pnpm-lock.yaml":
		return parsePnpmLock(in, b)
	case "package.json":
		return parseManifest(in, b)
	}
	return nil, nil
}

// PURL returns the package URL of an npm package ("@scope/name" -> namespace "@scope").
func PURL(name, version string) string {
	ns, n := "", name
	if strings.HasPrefix(name, "@") {
		if i := strings.IndexByte(name, '/'); i > 0 {
			ns, n = name[:i], name[i+1:]
		}
	}
	return langutil.PURL(packageurl.TypeNPM, ns, n, version, nil)
}

func newPkg(in *extract.Input, name, version string, licenses []string, dev bool) inventory.Package {
	p := langutil.Package(in, inventory.Npm, name, version, PURL(name, version))
	p.Licenses = licenses
	if dev {
		p.Meta = map[string]string{"dev": "true"}
	}
	return p
}

// license reads package.json's "license" (a string or the old {"type": ...})
// and "licenses" ([{"type": ...}]).
func license(lic json.RawMessage, lics json.RawMessage) []string {
	var out []string
	var s string
	if json.Unmarshal(lic, &s) == nil && s != "" {
		out = append(out, s)
	} else {
		var o struct{ Type string }
		if json.Unmarshal(lic, &o) == nil && o.Type != "" {
			out = append(out, o.Type)
		}
	}
	var list []struct{ Type string }
	if json.Unmarshal(lics, &list) == nil {
		for _, l := range list {
			if l.Type != "" {
				out = append(out, l.Type)
			}
		}
	}
	return out
}

func parseManifest(in *extract.Input, b []byte) ([]inventory.Package, error) {
	var m struct {
		Name     string          `json:"name"`
		Version  string          `json:"version"`
		License  json.RawMessage `json:"license"`
		Licenses json.RawMessage `json:"licenses"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a valid package.json: %w", langutil.Location(in.Path), err)
	}
	if m.Name == "" || m.Version == "" {
		return nil, nil // not a published package (workspace stub, partial install)
	}
	return []inventory.Package{newPkg(in, m.Name, m.Version, license(m.License, m.Licenses), false)}, nil
}

type lockDep struct {
	Version      string              `json:"version"`
	Dev          bool                `json:"dev"`
	Bundled      bool                `json:"bundled"`
	Dependencies map[string]*lockDep `json:"dependencies"`
}

func parsePackageLock(in *extract.Input, b []byte) ([]inventory.Package, error) {
	var lock struct {
		LockfileVersion int `json:"lockfileVersion"`
		Packages        map[string]struct {
			Name    string          `json:"name"`
			Version string          `json:"version"`
			Dev     bool            `json:"dev"`
			Link    bool            `json:"link"`
			License json.RawMessage `json:"license"`
		} `json:"packages"`
		Dependencies map[string]*lockDep `json:"dependencies"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("%s: not a valid npm lockfile: %w", langutil.Location(in.Path), err)
	}
	var pkgs []inventory.Package
	if len(lock.Packages) > 0 {
		// v2/v3: keys are install paths ("node_modules/a/node_modules/b").
		keys := make([]string, 0, len(lock.Packages))
		for k := range lock.Packages {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := lock.Packages[k]
			i := strings.LastIndex(k, "node_modules/")
			if i < 0 || p.Link || p.Version == "" {
				continue // the root project, a workspace folder, or a link to one
			}
			name := k[i+len("node_modules/"):]
			if p.Name != "" {
				name = p.Name // an alias ("npm:real@1") records the real name
			}
			pkgs = append(pkgs, newPkg(in, name, p.Version, license(p.License, nil), p.Dev))
		}
		return pkgs, nil
	}
	// v1: a nested "dependencies" tree.
	var walk func(deps map[string]*lockDep, depth int)
	walk = func(deps map[string]*lockDep, depth int) {
		if depth > 64 {
			langutil.Warn(in, "dependency tree deeper than 64 levels: truncated")
			return
		}
		names := make([]string, 0, len(deps))
		for n := range deps {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			d := deps[n]
			if d == nil {
				continue
			}
			v := d.Version
			if strings.HasPrefix(v, "npm:") { // alias: "npm:real-name@1.2.3"
				spec := strings.TrimPrefix(v, "npm:")
				if at := strings.LastIndex(spec, "@"); at > 0 {
					n, v = spec[:at], spec[at+1:]
				}
			}
			if v != "" && !strings.Contains(v, ":") && !strings.Contains(v, "/") {
				pkgs = append(pkgs, newPkg(in, n, v, nil, d.Dev))
			}
			walk(d.Dependencies, depth+1)
		}
	}
	walk(lock.Dependencies, 0)
	return pkgs, nil
}

// projectDir is the directory a package belongs to: for an installed
// package.json, the directory holding the outermost node_modules; for a
// lockfile, its directory.
func projectDir(loc string) string {
	if i := strings.Index(loc, "/node_modules/"); i >= 0 {
		return loc[:i]
	}
	if i := strings.LastIndexByte(loc, '/'); i >= 0 {
		return loc[:i]
	}
	return ""
}

// Merge implements extract.Merger (see the package comment for the rule).
func (*Extractor) Merge(pkgs []inventory.Package) []inventory.Package {
	installed := map[string]int{}
	for i, p := range pkgs {
		if len(p.Locations) > 0 && strings.HasSuffix(p.Locations[0], "/package.json") {
			installed[projectDir(p.Locations[0])+"|"+p.Name+"|"+p.Version] = i
		}
	}
	if len(installed) == 0 {
		return pkgs
	}
	out := make([]inventory.Package, 0, len(pkgs))
	extra := map[int][]string{}
	for _, p := range pkgs {
		if len(p.Locations) > 0 && !strings.HasSuffix(p.Locations[0], "/package.json") {
			if j, ok := installed[projectDir(p.Locations[0])+"|"+p.Name+"|"+p.Version]; ok {
				if !contains(extra[j], p.Locations[0]) {
					extra[j] = append(extra[j], p.Locations[0])
				}
				continue
			}
		}
		out = append(out, p)
	}
	for i := range out {
		if len(out[i].Locations) == 0 {
			continue
		}
		if j, ok := installed[projectDir(out[i].Locations[0])+"|"+out[i].Name+"|"+out[i].Version]; ok && strings.HasSuffix(out[i].Locations[0], "/package.json") {
			out[i].Locations = append(append([]string(nil), out[i].Locations...), extra[j]...)
			delete(extra, j) // one installed copy carries it
		}
	}
	return out
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}
