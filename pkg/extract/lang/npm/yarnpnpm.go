package npm

import (
	"bufio"
	"bytes"
	"fmt"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/lang/internal/langutil"
	"github.com/wardensec/warden/pkg/inventory"
)

// parseYarnLock reads yarn.lock: the v1 format (its own syntax, "# yarn
// lockfile v1") or Berry's (YAML with a __metadata entry).
func parseYarnLock(in *extract.Input, b []byte) ([]inventory.Package, error) {
	if bytes.Contains(b[:min(len(b), 4096)], []byte("__metadata:")) {
		return parseYarnBerry(in, b)
	}
	var pkgs []inventory.Package
	seen := map[string]bool{}
	var names []string // the package names of the current entry
	flush := func(version string) {
		for _, n := range names {
			if k := n + "@" + version; !seen[k] {
				seen[k] = true
				pkgs = append(pkgs, newPkg(in, n, version, nil, false))
			}
		}
		names = nil
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		l := sc.Text()
		if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		if !strings.HasPrefix(l, " ") {
			if !strings.HasSuffix(l, ":") {
				return nil, fmt.Errorf("%s:%d: not a yarn.lock entry header: %q", langutil.Location(in.Path), line, trunc(l))
			}
			names = nil
			uniq := map[string]bool{}
			for _, spec := range strings.Split(strings.TrimSuffix(l, ":"), ",") {
				spec = strings.Trim(strings.TrimSpace(spec), `"`)
				if n := specName(spec); n != "" && !uniq[n] {
					uniq[n] = true
					names = append(names, n)
				}
			}
			continue
		}
		t := strings.TrimSpace(l)
		if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "   ") && strings.HasPrefix(t, "version ") {
			v := strings.Trim(strings.TrimSpace(strings.TrimPrefix(t, "version ")), `"`)
			if len(names) > 0 && v != "" {
				flush(v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", langutil.Location(in.Path), err)
	}
	return pkgs, nil
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// specName is the package name of a dependency specifier ("lodash@^4.17.15",
// "@babel/core@7.0.0", "lodash@npm:^4", "alias@npm:real@1").
func specName(spec string) string {
	at := strings.IndexByte(spec[min(1, len(spec)):], '@')
	if at < 0 {
		return ""
	}
	name := spec[:at+1]
	rest := spec[at+2:]
	if strings.HasPrefix(rest, "npm:") {
		// An alias: the installed package is the one after npm:.
		if real := strings.TrimPrefix(rest, "npm:"); strings.Contains(real[min(1, len(real)):], "@") {
			return specName(real)
		}
	}
	return name
}

func parseYarnBerry(in *extract.Input, b []byte) ([]inventory.Package, error) {
	var doc map[string]struct {
		Version    string `yaml:"version"`
		Resolution string `yaml:"resolution"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a valid yarn.lock (Berry, YAML): %w", langutil.Location(in.Path), err)
	}
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pkgs []inventory.Package
	for _, k := range keys {
		if k == "__metadata" {
			continue
		}
		e := doc[k]
		// resolution: "lodash@npm:4.17.21", "app@workspace:.", "x@patch:x@npm%3A1.0.0#..."
		res := e.Resolution
		at := strings.IndexByte(res[min(1, len(res)):], '@')
		if at < 0 || e.Version == "" {
			continue
		}
		name, proto := res[:at+1], res[at+2:]
		if !strings.HasPrefix(proto, "npm:") && !strings.HasPrefix(proto, "patch:") {
			continue // workspace:, link:, portal:, file:, git: are not registry packages
		}
		pkgs = append(pkgs, newPkg(in, name, e.Version, nil, false))
	}
	return pkgs, nil
}

// parsePnpmLock reads pnpm-lock.yaml: the "packages" keys are "/name/1.0.0"
// (lockfile v5), "/name@1.0.0(peer@2)" (v6) or "name@1.0.0" (v9).
func parsePnpmLock(in *extract.Input, b []byte) ([]inventory.Package, error) {
	var doc struct {
		LockfileVersion any `yaml:"lockfileVersion"`
		Packages        map[string]struct {
			Name    string `yaml:"name"`
			Version string `yaml:"version"`
			Dev     bool   `yaml:"dev"`
		} `yaml:"packages"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a valid pnpm-lock.yaml: %w", langutil.Location(in.Path), err)
	}
	if doc.LockfileVersion == nil {
		return nil, fmt.Errorf("%s: no lockfileVersion: not a pnpm lockfile", langutil.Location(in.Path))
	}
	keys := make([]string, 0, len(doc.Packages))
	for k := range doc.Packages {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pkgs []inventory.Package
	seen := map[string]bool{}
	for _, k := range keys {
		e := doc.Packages[k]
		name, version := pnpmKey(k)
		if e.Name != "" && e.Version != "" {
			name, version = e.Name, e.Version
		}
		if name == "" || version == "" || seen[name+"@"+version] {
			continue
		}
		seen[name+"@"+version] = true
		pkgs = append(pkgs, newPkg(in, name, version, nil, e.Dev))
	}
	return pkgs, nil
}

func pnpmKey(k string) (name, version string) {
	k = strings.TrimPrefix(k, "/")
	if i := strings.IndexByte(k, '('); i >= 0 {
		k = k[:i] // peer dependency suffix (v6+)
	}
	if strings.Contains(k, ":") {
		return "", "" // tarball URLs, file:, link:
	}
	if at := strings.LastIndexByte(k, '@'); at > 0 && validName(k[:at]) {
		return k[:at], k[at+1:]
	}
	// v5: "name/1.0.0" or "@scope/name/1.0.0_peer@2.0.0"
	parts := strings.Split(k, "/")
	if strings.HasPrefix(k, "@") && len(parts) >= 3 {
		name, version = parts[0]+"/"+parts[1], parts[2]
	} else if !strings.HasPrefix(k, "@") && len(parts) >= 2 {
		name, version = parts[0], parts[1]
	} else {
		return "", ""
	}
	if j := strings.IndexByte(version, '_'); j >= 0 {
		version = version[:j]
	}
	return name, version
}

// validName: "name" or "@scope/name", nothing else.
func validName(n string) bool {
	if strings.HasPrefix(n, "@") {
		return strings.Count(n, "/") == 1 && !strings.HasSuffix(n, "/")
	}
	return n != "" && !strings.Contains(n, "/") && !strings.Contains(n, "@")
}
