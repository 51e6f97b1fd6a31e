package dpkg

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/inventory"
)

var update = flag.Bool("update", false, "rewrite golden files")

type summary struct {
	Name, Version, Source, SourceVersion, Arch, PURL string
	Files                                            int
	Locations                                        []string
}

func golden(t *testing.T, name string, got any) {
	t.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), string(b)+"\n"); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", p, diff)
	}
}

// extractAll runs the extractor on every file of a tar.gz it asks for, then Merge.
func extractAll(t *testing.T, tgz string) ([]inventory.Package, []string) {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	e := New()
	tr := tar.NewReader(zr)
	var pkgs []inventory.Package
	var warns []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := strings.TrimPrefix(h.Name, "./")
		if !e.Required(p, h.FileInfo().Mode(), h.Size) {
			continue
		}
		got, err := e.Extract(context.Background(), &extract.Input{Path: p, Reader: tr, Warn: func(m string) { warns = append(warns, p+": "+m) }})
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		pkgs = append(pkgs, got...)
	}
	return e.Merge(pkgs), warns
}

func TestBookworm(t *testing.T) {
	pkgs, warns := extractAll(t, filepath.Join(testutil.Corpus(t), "images", "debian-bookworm-minbase-pkgdb.tar.gz"))
	if len(warns) > 0 {
		t.Errorf("warnings on a clean DB: %v", warns)
	}
	if len(pkgs) != 122 {
		t.Fatalf("got %d packages, want 122", len(pkgs))
	}
	by := map[string]inventory.Package{}
	for _, p := range pkgs {
		by[p.Name] = p
	}
	for _, c := range []struct{ name, version, src, srcVer string }{
		{"libssl3", "3.0.20-1~deb12u2", "openssl", ""},
		{"bash", "5.2.15-2+b13", "", "5.2.15-2"},
		{"python3-urllib3", "1.26.12-1+deb12u4", "python-urllib3", ""},
	} {
		p, ok := by[c.name]
		if !ok {
			t.Errorf("%s missing", c.name)
			continue
		}
		if p.Version != c.version || p.SourceName != c.src || p.SourceVersion != c.srcVer {
			t.Errorf("%s: got %q source %q %q, want %q source %q %q", c.name, p.Version, p.SourceName, p.SourceVersion, c.version, c.src, c.srcVer)
		}
	}
	if l := by["libssl3"]; len(l.Files) == 0 || l.Arch != "amd64" || len(l.Locations) != 2 || l.Locations[1] != "/var/lib/dpkg/info/libssl3:amd64.list" {
		t.Errorf("libssl3 files not joined from its :amd64.list: arch %q locations %v files %d", l.Arch, l.Locations, len(l.Files))
	}
	sortPackages(pkgs)
	out := make([]summary, len(pkgs))
	for i, p := range pkgs {
		out[i] = summary{p.Name, p.Version, p.SourceName, p.SourceVersion, p.Arch, p.PURL, len(p.Files), p.Locations}
	}
	golden(t, "bookworm.golden.json", out)
}

func TestRequired(t *testing.T) {
	e := New()
	for p, want := range map[string]bool{
		"var/lib/dpkg/status":                      true,
		"var/lib/dpkg/status-old":                  false,
		"var/lib/dpkg/status.d/base-files":         true,
		"var/lib/dpkg/status.d/base-files.md5sums": false,
		"var/lib/dpkg/info/bash.list":              true,
		"var/lib/dpkg/info/libssl3:amd64.list":     true,
		"var/lib/dpkg/info/bash.md5sums":           false,
		"var/lib/dpkg/info/.list":                  false,
		"var/cache/apt/archives/bash_5.2.deb":      false,
		"usr/var/lib/dpkg/status":                  false,
	} {
		if got := e.Required(p, 0o644, 100); got != want {
			t.Errorf("Required(%q) = %v", p, got)
		}
	}
	if e.Required("var/lib/dpkg/status", os.ModeSymlink|0o777, 0) {
		t.Error("a symlink is not read")
	}
}

func TestStatusRules(t *testing.T) {
	status := `Package: installed
Status: install ok installed
Architecture: amd64
Source: src (1.0-1)
Version: 1.0-1+b1
Description: x
 long
 .
 description

Package: removed
Status: deinstall ok config-files
Version: 2.0

Package: held
Status: hold ok installed
Version: 3.0

Package: half
Status: install ok half-configured
Version: 4.0

Package: nostatus
Version: 5.0

Version: 6.0
Status: install ok installed

Package: noversion
Status: install ok installed

Bad line without colon
Package: after-bad
Status: install ok installed
Version: 7.0
Source: weird (unclosed
`
	var warns []string
	pkgs, err := Parse(strings.NewReader(status), false, func(m string) { warns = append(warns, m) })
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range pkgs {
		names = append(names, p.Name+"@"+p.Version+"/"+p.SourceName+"@"+p.SourceVersion)
	}
	want := []string{"installed@1.0-1+b1/src@1.0-1", "held@3.0/@", "after-bad@7.0/weird@"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, frag := range []string{`"nostatus") has no Status`, "has no Package field", `"noversion") has no Version`, `not a "Field: value" line`, `"weird (unclosed"`} {
		found := false
		for _, w := range warns {
			found = found || strings.Contains(w, frag)
		}
		if !found {
			t.Errorf("no warning containing %q in %q", frag, warns)
		}
	}

	// distroless status.d entries carry no Status field: they count.
	pkgs, err = Parse(strings.NewReader("Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n"), true, func(m string) { t.Error(m) })
	if err != nil || len(pkgs) != 1 {
		t.Fatalf("status.d: %v %v", pkgs, err)
	}
	if pkgs[0].PURL != "pkg:deb/debian/base-files@12.4+deb12u5?arch=amd64" {
		t.Errorf("purl %q", pkgs[0].PURL)
	}
}

func TestMergeDropsListsOfMissingPackages(t *testing.T) {
	e := New()
	list, err := os.ReadFile("testdata/libssl3_amd64.list") // info/libssl3:amd64.list
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.Extract(context.Background(), &extract.Input{Path: InfoPrefix + "libssl3:amd64.list", Reader: bytes.NewReader(list)})
	if err != nil {
		t.Fatal(err)
	}
	orphan, _ := e.Extract(context.Background(), &extract.Input{Path: InfoPrefix + "gone.list", Reader: strings.NewReader("/usr/bin/gone\n")})
	st, _ := e.Extract(context.Background(), &extract.Input{Path: StatusPath, Reader: strings.NewReader("Package: libssl3\nStatus: install ok installed\nVersion: 3\nArchitecture: amd64\n")})
	got := e.Merge(append(append(l, orphan...), st...))
	if len(got) != 1 || got[0].Name != "libssl3" || len(got[0].Files) == 0 || !strings.HasPrefix(got[0].Files[len(got[0].Files)-1], "/usr/") {
		t.Fatalf("merge: %+v", got)
	}
	// Without a status, lists alone are nothing.
	if got := e.Merge(append(l, orphan...)); len(got) != 0 {
		t.Fatalf("lists without status gave %d packages", len(got))
	}
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/status-head"); err == nil {
		f.Add(b, false)
	}
	f.Add([]byte("Package: a\nVersion: 1\n"), true)
	f.Add([]byte(" cont\nPackage:\nSource: (x)\nStatus: a b c\n\n\n"), false)
	f.Fuzz(func(t *testing.T, b []byte, statusD bool) {
		pkgs, _ := Parse(bytes.NewReader(b), statusD, func(string) {})
		for _, p := range pkgs {
			if p.Name == "" || p.Version == "" {
				t.Fatalf("package without name or version: %+v", p)
			}
		}
	})
}
