package npm

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/inventory"
)

func extractBytes(t testing.TB, path string, data []byte) ([]inventory.Package, []string, error) {
	var warns []string
	in := &extract.Input{Path: path, Mode: 0o644, Size: int64(len(data)), Reader: bytes.NewReader(data),
		At: bytes.NewReader(data), Warn: func(m string) { warns = append(warns, m) }}
	pkgs, err := New().Extract(context.Background(), in)
	return pkgs, warns, err
}

func extractFile(t *testing.T, file, path string) []inventory.Package {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	if !New().Required(path, 0o644, int64(len(b))) {
		t.Fatalf("Required(%q) = false", path)
	}
	pkgs, warns, err := extractBytes(t, path, b)
	if err != nil || len(warns) > 0 {
		t.Fatalf("%s: err %v, warnings %v", file, err, warns)
	}
	return pkgs
}

// summary is name@version[ dev] per package, sorted.
func summary(pkgs []inventory.Package) []string {
	var out []string
	for _, p := range pkgs {
		s := p.Name + "@" + p.Version
		if p.Meta["dev"] == "true" {
			s += " dev"
		}
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

func TestLockfiles(t *testing.T) {
	for _, tc := range []struct {
		file, path string
		want       []string
	}{
		{"corpus/package-lock.json", "app/package-lock.json", []string{"lodash@4.17.15", "minimist@1.2.0"}},
		{"lock-v1/package-lock.json", "app/package-lock.json", []string{"lodash@4.17.15", "minimist@0.0.8 dev", "minimist@1.2.0", "mkdirp@0.5.1 dev"}},
		{"yarn-v1/yarn.lock", "srv/yarn.lock", []string{"@babel/code-frame@7.12.13", "cookies@0.7.3", "core-util-is@1.0.2", "debug@3.1.0", "depd@1.1.2",
			"eventemitter3@3.1.0", "follow-redirects@1.6.1", "http-proxy@1.17.0", "is-class-hotfix@0.0.6", "is-type-of@1.2.1", "isstream@0.1.2",
			"keygrip@1.0.3", "ms@2.0.0", "requires-port@1.0.0"}},
		{"yarn-berry/yarn.lock", "srv/yarn.lock", []string{"@babel/code-frame@7.24.7", "lodash@4.17.21"}},
		{"pnpm-v6/pnpm-lock.yaml", "w/pnpm-lock.yaml", []string{"@alloc/quick-lru@5.2.0", "@babel/runtime@7.22.5", "@eslint-community/eslint-utils@4.4.0", "@types/node@20.3.1", "acorn@8.9.0 dev"}},
		{"pnpm-v9/pnpm-lock.yaml", "w/pnpm-lock.yaml", []string{"@babel/runtime@7.22.5", "left-pad@1.3.0", "regenerator-runtime@0.13.11"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			pkgs := extractFile(t, tc.file, tc.path)
			if d := cmp.Diff(tc.want, summary(pkgs)); d != "" {
				t.Errorf("packages (-want +got):\n%s", d)
			}
			for _, p := range pkgs {
				if p.Ecosystem != inventory.Npm || len(p.Locations) != 1 || p.Locations[0] != "/"+tc.path || !strings.HasPrefix(p.PURL, "pkg:npm/") {
					t.Errorf("%s: ecosystem %q locations %v purl %q", p.Name, p.Ecosystem, p.Locations, p.PURL)
				}
			}
		})
	}
}

func TestPURL(t *testing.T) {
	if got := PURL("@babel/code-frame", "7.12.13"); got != "pkg:npm/%40babel/code-frame@7.12.13" {
		t.Errorf("scoped purl %q", got)
	}
	if got := PURL("lodash", "4.17.15"); got != "pkg:npm/lodash@4.17.15" {
		t.Errorf("purl %q", got)
	}
}

func TestRequired(t *testing.T) {
	for path, want := range map[string]bool{
		"app/package-lock.json":                          true,
		"app/npm-shrinkwrap.json":                        true,
		"app/yarn.lock":                                  true,
		"app/pnpm-lock.yaml":                             true,
		"app/node_modules/lodash/package.json":           true,
		"app/node_modules/@babel/core/package.json":      true,
		"app/node_modules/a/node_modules/b/package.json": true,
		"usr/lib/node_modules/npm/package.json":          true,
		"app/package.json":                               false, // the project itself
		"app/node_modules/lodash/fp/package.json":        false, // a file inside a package
		"app/node_modules/.package-lock.json":            false, // npm's hidden lockfile
		"app/node_modules/lodash/package-lock.json":      false,
		"app/node_modules/@babel/package.json":           false,
	} {
		if got := New().Required(path, 0o644, 100); got != want {
			t.Errorf("Required(%q) = %v, want %v", path, got, want)
		}
	}
}

// TestInstalledAndLockfile: the corpus tree (lockfile v3 + node_modules)
// gives each package once, from node_modules, with the lockfile as a second location.
func TestInstalledAndLockfile(t *testing.T) {
	var all []inventory.Package
	all = append(all, extractFile(t, "corpus/package-lock.json", "app/package-lock.json")...)
	all = append(all, extractFile(t, "corpus/node_modules/lodash/package.json", "app/node_modules/lodash/package.json")...)
	all = append(all, extractFile(t, "corpus/node_modules/minimist/package.json", "app/node_modules/minimist/package.json")...)
	// A lockfile entry with no installed copy stays.
	all = append(all, inventory.Package{Name: "left-pad", Version: "1.3.0", Ecosystem: inventory.Npm, Locations: []string{"/app/package-lock.json"}})
	got := New().Merge(all)
	if d := cmp.Diff([]string{"left-pad@1.3.0", "lodash@4.17.15", "minimist@1.2.0"}, summary(got)); d != "" {
		t.Fatalf("merged (-want +got):\n%s", d)
	}
	for _, p := range got {
		if p.Name == "lodash" {
			want := []string{"/app/node_modules/lodash/package.json", "/app/package-lock.json"}
			if d := cmp.Diff(want, p.Locations); d != "" {
				t.Errorf("lodash locations (-want +got):\n%s", d)
			}
			if d := cmp.Diff([]string{"MIT"}, p.Licenses); d != "" {
				t.Errorf("lodash licenses: %s", d)
			}
		}
	}
}

func TestBadInput(t *testing.T) {
	for path, data := range map[string]string{
		"app/package-lock.json":           "{\"lockfileVersion\": 3, \"packages\": {",
		"app/pnpm-lock.yaml":              "lockfileVersion: '9.0'\npackages:\n  - [unclosed",
		"app/yarn.lock":                   "# yarn lockfile v1\n\nlodash@^4 version 4\n",
		"app/node_modules/x/package.json": "not json",
		"app/yarn-berry/yarn.lock":        "__metadata:\n  version: 8\n\"a@npm:1\": [",
	} {
		_, _, err := extractBytes(t, path, []byte(data))
		if err == nil || !strings.Contains(err.Error(), "/"+path) {
			t.Errorf("%s: error %v, want one naming the file", path, err)
		}
	}
}

func fuzzSeeds(f *testing.F, files ...string) {
	for _, file := range files {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzPackageLock(f *testing.F) {
	fuzzSeeds(f, "corpus/package-lock.json", "lock-v1/package-lock.json")
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = extractBytes(t, "a/package-lock.json", b) })
}

func FuzzYarnLock(f *testing.F) {
	fuzzSeeds(f, "yarn-v1/yarn.lock", "yarn-berry/yarn.lock")
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = extractBytes(t, "a/yarn.lock", b) })
}

func FuzzPnpmLock(f *testing.F) {
	fuzzSeeds(f, "pnpm-v6/pnpm-lock.yaml", "pnpm-v9/pnpm-lock.yaml")
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = extractBytes(t, "a/pnpm-lock.yaml", b) })
}

func FuzzPackageJSON(f *testing.F) {
	fuzzSeeds(f, "corpus/node_modules/lodash/package.json", "corpus/node_modules/minimist/package.json")
	f.Fuzz(func(t *testing.T, b []byte) { _, _, _ = extractBytes(t, "a/node_modules/x/package.json", b) })
}
