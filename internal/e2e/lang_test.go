// Package e2e holds end-to-end tests that run the real pipeline — image →
// walk (all extractors) → owned-file join → vulnerability database built from
// the corpus feeds → matchers — for the language ecosystems.
package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/feeds"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/vulndb"
	"github.com/wardensec/warden/pkg/walk"
)

// scan runs the pipeline on img against a database built from the feed specs.
func scan(t *testing.T, img v1.Image, specs ...string) (*inventory.Inventory, []match.Finding) {
	t.Helper()
	return scanDB(t, img, openDB(t, specs...))
}

// openDB builds a Warden database from feed specs ("osv:DIR").
func openDB(t *testing.T, specs ...string) *vulndb.DB {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "warden.db")
	if _, err := feeds.Import(context.Background(), dbPath, specs, feeds.Options{}); err != nil {
		t.Fatalf("importing %v: %v", specs, err)
	}
	db, err := vulndb.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func scanDB(t *testing.T, img v1.Image, db *vulndb.DB) (*inventory.Inventory, []match.Finding) {
	t.Helper()
	ctx := context.Background()
	inv, err := walk.Inventory(ctx, img, walk.Options{Extractors: all.Extractors()})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	inv.MarkOwned()
	fs, err := match.Match(ctx, db, inv, match.Options{})
	if err != nil {
		t.Fatalf("match: %v", err)
	}
	return inv, fs
}

var (
	vulnOnce sync.Once
	vulnBin  string
	vulnErr  error
)

// vulnApp builds ../shared/corpus/lang/go-vulnapp as the corpus says
// (CGO_ENABLED=0 go build -trimpath -ldflags=-buildid=), once per test binary.
func vulnApp(t *testing.T) string {
	t.Helper()
	src := filepath.Join(testutil.Corpus(t), "lang", "go-vulnapp")
	vulnOnce.Do(func() {
		dir, err := os.MkdirTemp("", "warden-e2e-vulnapp-")
		if err != nil {
			vulnErr = err
			return
		}
		for _, f := range []string{"go.mod", "go.sum", "main.go"} {
			b, err := os.ReadFile(filepath.Join(src, f))
			if err == nil {
				err = os.WriteFile(filepath.Join(dir, f), b, 0o644)
			}
			if err != nil {
				vulnErr = err
				return
			}
		}
		// vulnapp as the corpus says; vulnapp-stripped without symbol table and DWARF (-s -w).
		for out, ldflags := range map[string]string{"vulnapp": "-buildid=", "vulnapp-stripped": "-buildid= -s -w"} {
			cmd := exec.Command("go", "build", "-trimpath", "-ldflags="+ldflags, "-o", out, ".")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=mod")
			if b, err := cmd.CombinedOutput(); err != nil {
				vulnErr = &cmdError{string(b), err}
				return
			}
		}
		vulnBin = filepath.Join(dir, "vulnapp")
	})
	if vulnErr != nil {
		t.Fatalf("building go-vulnapp: %v", vulnErr)
	}
	return vulnBin
}

type cmdError struct {
	out string
	err error
}

func (e *cmdError) Error() string { return e.err.Error() + ": " + e.out }

func vulnAppImage(t *testing.T) v1.Image { return binImage(t, vulnApp(t)) }

func binImage(t *testing.T, bin string) v1.Image {
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return testimage.Image(t, testimage.DefaultConfig(),
		testimage.Layer(t, testimage.Dir("app"), testimage.File{Path: "app/vulnapp", Content: b, Mode: 0o755}))
}

func ids(fs []match.Finding, keep func(*match.Finding) bool) []string {
	seen := map[string]bool{}
	var out []string
	for i := range fs {
		if keep(&fs[i]) && !seen[fs[i].Advisory.ID] {
			seen[fs[i].Advisory.ID] = true
			out = append(out, fs[i].Advisory.ID)
		}
	}
	sort.Strings(out)
	return out
}

func goFindings(fs []match.Finding) []match.Finding {
	var out []match.Finding
	for _, f := range fs {
		if f.Package.Ecosystem == inventory.Go {
			out = append(out, f)
		}
	}
	return out
}

// TestGoVulnApp is the Go must-show: the module-level findings of the corpus
// ground truth (including the stdlib ones for the toolchain that built it),
// GO-2022-0288 not linked, the windows-only GO-2026-6604 absent.
func TestGoVulnApp(t *testing.T) {
	corpus := testutil.Corpus(t)
	inv, fs := scan(t, vulnAppImage(t), "osv:"+filepath.Join(corpus, "feeds", "go-vulndb-osv"))
	fs = goFindings(fs)
	for _, p := range inv.Packages {
		if p.Ecosystem == inventory.Go && p.Name == "stdlib" && p.Version != goStdlibVersion(t) {
			t.Errorf("stdlib version %q, want %q", p.Version, goStdlibVersion(t))
		}
	}

	var truth struct {
		GoVulnapp struct {
			Buildinfo struct {
				Go string `json:"go"`
			} `json:"buildinfo"`
			Must []struct {
				ID string `json:"id"`
			} `json:"must_module_level"`
			All []struct {
				ID string `json:"id"`
			} `json:"all_module_level_matches_including_stdlib_go1.26.8"`
		} `json:"go-vulnapp"`
	}
	b, err := os.ReadFile(filepath.Join(corpus, "expected", "findings.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &truth); err != nil {
		t.Fatal(err)
	}
	got := ids(fs, func(*match.Finding) bool { return true })
	have := map[string]bool{}
	for _, id := range got {
		have[id] = true
	}
	for _, m := range truth.GoVulnapp.Must {
		if !have[m.ID] {
			t.Errorf("missing module-level finding %s", m.ID)
		}
	}
	// The whole module-level set, when the toolchain is the one the ground truth was made with.
	if "go"+goStdlibVersion(t) == truth.GoVulnapp.Buildinfo.Go {
		var want []string
		seen := map[string]bool{}
		for _, a := range truth.GoVulnapp.All {
			if !seen[a.ID] { // a record affecting stdlib and toolchain is listed twice
				seen[a.ID] = true
				want = append(want, a.ID)
			}
		}
		sort.Strings(want)
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("module-level findings differ from the corpus ground truth (-want +got):\n%s", d)
		}
	}
	if have["GO-2026-6604"] {
		t.Error("GO-2026-6604 (windows-only) reported for a linux/amd64 binary")
	}
	var saw0288 bool
	for _, f := range fs {
		if f.Linked == nil {
			t.Errorf("%s on %s: linked unknown, but the binary has its symbol table", f.Advisory.ID, f.Package.Name)
			continue
		}
		if f.Advisory.ID == "GO-2022-0288" {
			saw0288 = true
			if *f.Linked {
				t.Error("GO-2022-0288 marked linked: golang.org/x/net/http2 is not in the binary")
			}
		}
	}
	if !saw0288 {
		t.Error("GO-2022-0288 not reported at module level")
	}
	for _, id := range []string{"GO-2020-0036", "GO-2021-0061", "GO-2022-0956", "GO-2021-0113", "GO-2021-0238", "GO-2024-3333"} {
		for _, f := range fs {
			if f.Advisory.ID == id && (f.Linked == nil || !*f.Linked) {
				t.Errorf("%s: a vulnerable symbol is called by main, want linked", id)
			}
		}
	}
}

func goStdlibVersion(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(strings.TrimSpace(string(out)), "go")
}

// govulncheckFinding is one "finding" message of govulncheck -json.
type govulncheckMessage struct {
	Finding *struct {
		OSV   string `json:"osv"`
		Trace []struct {
			Module   string `json:"module"`
			Package  string `json:"package"`
			Function string `json:"function"`
			Receiver string `json:"receiver"`
		} `json:"trace"`
	} `json:"finding"`
}

// TestGovulncheckSideBySide runs govulncheck v1.9.0 in binary mode on the same
// binary with the same data (the corpus OSV files indexed by the vulndb
// module's indexdb) and compares: every symbol-level govulncheck finding is
// linked in Warden, Warden's linked set equals govulncheck's symbol-level set,
// and both report the same module-level set.
func TestGovulncheckSideBySide(t *testing.T) {
	govulncheck := testutil.RequireTool(t, "govulncheck")
	indexdb := testutil.RequireTool(t, "indexdb")
	corpus := testutil.Corpus(t)
	osvDir := filepath.Join(corpus, "feeds", "go-vulndb-osv")
	dbDir := filepath.Join(t.TempDir(), "govulndb")
	if out, err := exec.Command(indexdb, "-vulns", osvDir, "-out", dbDir).CombinedOutput(); err != nil {
		t.Fatalf("indexdb: %v: %s", err, out)
	}
	bin := vulnApp(t)
	cmd := exec.Command(govulncheck, "-mode=binary", "-db", "file://"+dbDir, "-json", bin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("govulncheck: %v: %s", err, stderr.String())
	}
	gvSymbol, gvAll := map[string]bool{}, map[string]bool{}
	dec := json.NewDecoder(&stdout)
	for dec.More() {
		var m govulncheckMessage
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("govulncheck output: %v", err)
		}
		if m.Finding == nil || len(m.Finding.Trace) == 0 {
			continue
		}
		gvAll[m.Finding.OSV] = true
		if m.Finding.Trace[0].Function != "" {
			gvSymbol[m.Finding.OSV] = true
		}
	}
	if len(gvSymbol) == 0 {
		t.Fatal("govulncheck reported no symbol-level finding: the comparison would prove nothing")
	}

	_, fs := scan(t, vulnAppImage(t), "osv:"+osvDir)
	fs = goFindings(fs)
	linked := ids(fs, func(f *match.Finding) bool { return f.Linked != nil && *f.Linked })
	all := ids(fs, func(*match.Finding) bool { return true })
	if d := cmp.Diff(keys(gvSymbol), linked); d != "" {
		t.Errorf("Warden's linked set differs from govulncheck's symbol-level set (-govulncheck +warden):\n%s", d)
	}
	if d := cmp.Diff(keys(gvAll), all); d != "" {
		t.Errorf("module-level sets differ (-govulncheck +warden):\n%s", d)
	}
	t.Logf("govulncheck: %d findings, %d at symbol level; Warden: %d findings, %d linked", len(gvAll), len(gvSymbol), len(all), len(linked))

	// The stripped build (-s -w) keeps its pclntab: Warden finds go:func.*
	// through the runtime's moduledata and reads the same linked set
	// (govulncheck, needing the symbol table, reports it at module level only).
	_, sfs := scan(t, binImage(t, vulnApp(t)+"-stripped"), "osv:"+osvDir)
	sfs = goFindings(sfs)
	if d := cmp.Diff(linked, ids(sfs, func(f *match.Finding) bool { return f.Linked != nil && *f.Linked })); d != "" {
		t.Errorf("stripped binary: linked set differs from the unstripped one (-unstripped +stripped):\n%s", d)
	}
	if d := cmp.Diff(all, ids(sfs, func(*match.Finding) bool { return true })); d != "" {
		t.Errorf("stripped binary: module-level set differs (-unstripped +stripped):\n%s", d)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestNpmTree: the corpus npm tree (lockfile v3 + node_modules) against the
// GHSA records: exactly its three advisories, each package once.
func TestNpmTree(t *testing.T) {
	corpus := testutil.Corpus(t)
	img := testimage.Image(t, testimage.DefaultConfig(), testimage.LayerFromTarGz(t, filepath.Join(corpus, "lang", "npm-lodash-minimist.tar.gz")))
	inv, fs := scan(t, img, "osv:"+filepath.Join(corpus, "feeds", "ghsa-osv"))
	var pkgs []string
	for _, p := range inv.Packages {
		if p.Ecosystem == inventory.Npm {
			pkgs = append(pkgs, p.Name+"@"+p.Version)
		}
	}
	sort.Strings(pkgs)
	if d := cmp.Diff([]string{"lodash@4.17.15", "minimist@1.2.0"}, pkgs); d != "" {
		t.Errorf("npm packages (-want +got):\n%s", d)
	}
	got := ids(fs, func(f *match.Finding) bool { return f.Package.Ecosystem == inventory.Npm })
	if d := cmp.Diff([]string{"GHSA-p6mc-m468-83gw", "GHSA-vh95-rmgr-6w4m", "GHSA-xvch-5gv4-984h"}, got); d != "" {
		t.Errorf("npm findings (-want +got):\n%s", d)
	}
}

// TestPythonPipVersusDistro: the Debian image's distro-owned urllib3 (python3-urllib3)
// is not matched against PyPI advisories; a pip-installed copy of the same
// version in /usr/local is, and gets the PYSEC records.
func TestPythonPipVersusDistro(t *testing.T) {
	corpus := testutil.Corpus(t)
	debian := testimage.LayerFromTarGz(t, filepath.Join(corpus, "images", "debian-bookworm-minbase-pkgdb.tar.gz"))
	// The pip copy: urllib3's real metadata (the distro's own PKG-INFO of the same release) as pip's dist-info.
	meta := readTarGzFile(t, filepath.Join(corpus, "images", "debian-bookworm-minbase-pkgdb.tar.gz"), "usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO")
	pip := testimage.Layer(t,
		testimage.Reg("usr/local/lib/python3.11/dist-packages/urllib3-1.26.12.dist-info/METADATA", string(meta)),
		testimage.Reg("usr/local/lib/python3.11/dist-packages/urllib3-1.26.12.dist-info/INSTALLER", "pip\n"))
	img := testimage.Image(t, testimage.DefaultConfig(), debian, pip)
	inv, fs := scan(t, img, "osv:"+filepath.Join(corpus, "feeds", "pypi-osv"))

	var pipCopy, distroCopy bool
	for _, p := range inv.Packages {
		if p.Ecosystem != inventory.PyPI || p.Name != "urllib3" {
			continue
		}
		switch {
		case strings.HasPrefix(p.Locations[0], "/usr/local/"):
			pipCopy = true
			if p.OwnedBy != "" {
				t.Errorf("pip copy owned by %q", p.OwnedBy)
			}
		default:
			distroCopy = true
			if p.OwnedBy != "dpkg:python3-urllib3" {
				t.Errorf("distro copy at %v: OwnedBy %q, want dpkg:python3-urllib3", p.Locations, p.OwnedBy)
			}
		}
	}
	if !pipCopy || !distroCopy {
		t.Fatalf("urllib3 copies: pip %v, distro %v", pipCopy, distroCopy)
	}
	for _, id := range []string{"PYSEC-2023-192", "PYSEC-2023-212"} {
		var onPip, onDistro bool
		for _, f := range fs {
			if f.Advisory.ID != id {
				continue
			}
			if strings.HasPrefix(f.Package.Locations[0], "/usr/local/") {
				onPip = true
			} else if f.Package.Ecosystem == inventory.PyPI {
				onDistro = true
			}
		}
		if !onPip {
			t.Errorf("%s not reported on the pip-installed urllib3 1.26.12", id)
		}
		if onDistro {
			t.Errorf("%s reported on Debian's urllib3 (1.26.12-1+deb12u1 carries the fix)", id)
		}
	}
}

// TestLog4jJarAndWar: log4j-core 2.14.1 (Maven metadata as the release has
// it) as a jar and nested in a war → GHSA-jfh8-c2jp-5v3q on both.
func TestLog4jJarAndWar(t *testing.T) {
	jar := zipOf(t,
		zipEntry{"META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nImplementation-Title: Apache Log4j Core\r\nImplementation-Vendor-Id: org.apache.logging.log4j\r\nImplementation-Version: 2.14.1\r\n\r\n"},
		zipEntry{"META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties", "#Created by Apache Maven 3.6.3\nversion=2.14.1\ngroupId=org.apache.logging.log4j\nartifactId=log4j-core\n"},
		zipEntry{"org/apache/logging/log4j/core/lookup/JndiLookup.class", "\xca\xfe\xba\xbe"})
	war := zipOf(t, zipEntry{"WEB-INF/web.xml", "<web-app/>"}, zipEntry{"WEB-INF/lib/log4j-core-2.14.1.jar", string(jar)})
	img := testimage.Image(t, testimage.DefaultConfig(), testimage.Layer(t,
		testimage.File{Path: "opt/app/lib/log4j-core-2.14.1.jar", Content: jar},
		testimage.File{Path: "usr/local/tomcat/webapps/shop.war", Content: war}))
	_, fs := scan(t, img, "osv:"+filepath.Join("testdata", "ghsa-log4j"))
	var locs []string
	for _, f := range fs {
		if f.Advisory.ID == "GHSA-jfh8-c2jp-5v3q" {
			locs = append(locs, f.Package.Locations[0])
		}
	}
	sort.Strings(locs)
	want := []string{"/opt/app/lib/log4j-core-2.14.1.jar", "/usr/local/tomcat/webapps/shop.war!/WEB-INF/lib/log4j-core-2.14.1.jar"}
	if d := cmp.Diff(want, locs); d != "" {
		t.Errorf("GHSA-jfh8-c2jp-5v3q locations (-want +got):\n%s", d)
	}
}

type zipEntry struct{ name, data string }

func zipOf(t *testing.T, entries ...zipEntry) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		w, err := zw.Create(e.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(e.data))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
