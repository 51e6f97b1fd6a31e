package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/report"
)

// expected reads one item of the corpus ground truth (expected/findings.json).
func expected(t *testing.T, item string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testutil.Corpus(t), "expected", "findings.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(all[item], v); err != nil {
		t.Fatalf("expected/findings.json %s: %v", item, err)
	}
}

func scanJSON(t *testing.T, state string, args ...string) *report.Document {
	t.Helper()
	stdout, stderr, code := runWardenCmd(t, append([]string{"--cache-dir", state, "scan", "--format", "json"}, args...)...)
	if code != 0 {
		t.Fatalf("scan %v: exit %d: %s", args, code, stderr)
	}
	var doc report.Document
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("scan %v: %v\n%s", args, err, stdout)
	}
	return &doc
}

// TestScanDebianBookworm: the Debian 12 package DB against the hand-built
// tracker slice (pkg/feeds/debian/testdata/bookworm-slice.json, made from
// Debian's bookworm-security changelogs) and the PyPI advisories.
func TestScanDebianBookworm(t *testing.T) {
	var truth struct {
		Pending []struct {
			Package, Installed string
			Fixed              string `json:"fixed_in_security"`
		} `json:"pending_security_updates"`
		Must []struct {
			Source, Installed string
			Binary            []string
			Fixed             string
			CVEs              []string
		} `json:"must_if_debian_feed_present"`
		Trap []struct{ ID string } `json:"must_not_trap"`
	}
	expected(t, "debian-bookworm-minbase", &truth)
	state, built := scanState(t, "pypi-osv")
	slice := filepath.Join(testutil.RepoRoot(t), "pkg", "feeds", "debian", "testdata", "bookworm-slice.json")
	if _, stderr, code := runWardenCmd(t, "--cache-dir", state, "db", "import", slice); code != 0 {
		t.Fatalf("importing %s: %s", slice, stderr)
	}
	// The second import stamps the database again (a second later, under load).
	built = dbBuilt(t, state)
	const image = "oci-layout:../../testdata/images/debian-bookworm-pkgdb"
	transcript(t, "debian-table", 0, state, built, "scan", image)
	// The gate: HIGH findings with fixes exist; --ignore-unfixed drops the open (NEGLIGIBLE) ones.
	transcript(t, "debian-ignore-unfixed-fail-on-high", exitFail, state, built, "scan", image, "--ignore-unfixed", "--fail-on", "high", "--format", "template", "--template", "testdata/scan/ids.tmpl")
	for _, v := range scanJSON(t, state, image, "--ignore-unfixed").Vulnerabilities {
		if v.FixedVersion == "" {
			t.Errorf("--ignore-unfixed kept %s on %s (status %s)", v.ID, v.Package.Name, v.Status)
		}
	}
	doc := scanJSON(t, state, image)

	// Per package: the CVE ids, and the highest fixed version (the upgrade that clears them all).
	cves := map[string]map[string]bool{}
	highest := map[string]string{}
	for _, v := range doc.Vulnerabilities {
		if v.Package.Ecosystem != "dpkg" {
			t.Errorf("%s on %s %s (%s): language packages here are Debian's and judged by its data", v.ID, v.Package.Name, v.Package.Version, v.Package.Ecosystem)
			continue
		}
		if cves[v.Package.Name] == nil {
			cves[v.Package.Name] = map[string]bool{}
		}
		cves[v.Package.Name][v.ID] = true
		if v.FixedVersion == "" {
			continue
		}
		if h := highest[v.Package.Name]; h == "" {
			highest[v.Package.Name] = v.FixedVersion
		} else if c, _ := match.Dpkg.Compare(v.FixedVersion, h); c > 0 {
			highest[v.Package.Name] = v.FixedVersion
		}
	}
	// The 14 pending bookworm-security updates: the slice has CVE ids for all but
	// apt/libapt-pkg6.0, tzdata and ca-certificates (no changelog in the evidence).
	noEvidence := map[string]bool{"apt": true, "libapt-pkg6.0": true, "tzdata": true, "ca-certificates": true}
	if len(truth.Pending) != 14 {
		t.Fatalf("ground truth lists %d pending updates, want 14", len(truth.Pending))
	}
	want, got := map[string]string{}, map[string]string{}
	for _, p := range truth.Pending {
		if !noEvidence[p.Package] {
			want[p.Package] = p.Fixed
		}
	}
	for name, h := range highest {
		got[name] = h
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("packages with a fix and the version that fixes them all (-want +got):\n%s", d)
	}
	for _, m := range truth.Must {
		bins := m.Binary
		if len(bins) == 0 {
			bins = []string{"libssl3", "openssl"}
		}
		for _, b := range bins {
			for _, id := range m.CVEs {
				if !cves[b][id] {
					t.Errorf("%s: %s (source %s) not reported", b, id, m.Source)
				}
			}
		}
	}
	for _, trap := range truth.Trap {
		for _, v := range append(doc.Vulnerabilities, doc.Suppressed...) {
			if v.ID == trap.ID {
				t.Errorf("%s reported on %s %s: Debian's urllib3 carries the fix", trap.ID, v.Package.Name, v.Package.Version)
			}
		}
	}
	owned := strings.Join(doc.Summary.DistroOwned, "\n")
	if !strings.Contains(owned, "urllib3 1.26.12 (PyPI, owned by dpkg:python3-urllib3)") {
		t.Errorf("the report does not say urllib3 is judged by Debian's data: %q", owned)
	}
}

// TestScanNpm: the corpus npm tree as an image layer, against the GHSA records.
func TestScanNpm(t *testing.T) {
	var truth struct {
		Must []struct{ ID, Package, Version, Fixed string } `json:"must"`
	}
	expected(t, "npm-lodash-minimist", &truth)
	state, built := scanState(t, "ghsa-osv")
	dir := filepath.Join(t.TempDir(), "npm")
	layer := testimage.LayerFromTarGz(t, filepath.Join(testutil.Corpus(t), "lang", "npm-lodash-minimist.tar.gz"))
	testimage.WriteOCILayout(t, testimage.Image(t, nil, layer), dir, "npm")
	ref := "oci-layout:" + dir
	transcript(t, "npm-table", 0, state, built, "scan", ref)
	doc := scanJSON(t, state, ref)
	var got, want []string
	for _, v := range doc.Vulnerabilities {
		got = append(got, v.ID+" "+v.Package.Name+" "+v.Package.Version+" fixed "+v.FixedVersion)
	}
	for _, m := range truth.Must {
		want = append(want, m.ID+" "+m.Package+" "+m.Version+" fixed "+m.Fixed)
	}
	sort.Strings(got)
	sort.Strings(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("npm findings (-want +got):\n%s", d)
	}
}

// TestScanGoVulnapp builds the corpus' go-vulnapp, puts it in an image and
// scans it with the Go vulndb slice: the module-level set is govulncheck's,
// the linked set is govulncheck's symbol-level set, and the windows-only
// GO-2026-6604 is absent.
func TestScanGoVulnapp(t *testing.T) {
	goTool := testutil.RequireTool(t, "go")
	var truth struct {
		Govulncheck struct {
			ModuleLevel []string `json:"module_level"`
			SymbolLevel []string `json:"symbol_level"`
		} `json:"govulncheck_v1.9.0_binary_mode"`
		MustNot []struct{ ID string } `json:"must_not"`
	}
	expected(t, "go-vulnapp", &truth)
	// Build a copy: the corpus may be read-only (CI), and go may want to touch go.sum.
	src := t.TempDir()
	for _, f := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(testutil.Corpus(t), "lang", "go-vulnapp", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(src, f), string(b))
	}
	bin := filepath.Join(t.TempDir(), "vulnapp")
	build := exec.Command(goTool, "build", "-trimpath", "-ldflags=-buildid=", "-o", bin, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", src, err, out)
	}
	exe, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "goapp")
	layer := testimage.Layer(t, testimage.File{Path: "usr/local/bin/vulnapp", Content: exe, Mode: 0o755})
	testimage.WriteOCILayout(t, testimage.Image(t, nil, layer), dir, "goapp")
	state, built := scanState(t, "go-vulndb-osv")
	ref := "oci-layout:" + dir
	transcript(t, "go-table", 0, state, built, "scan", ref)
	transcript(t, "go-show-unlinked", 0, state, built, "scan", ref, "--show-unlinked")
	doc := scanJSON(t, state, ref)
	// The warm scan keeps of the binary's symbols only those the advisories
	// name (match.Env.KeepSymbols): the same report as with them all.
	if d := cmp.Diff(scanJSON(t, state, ref, "--no-cache"), doc); d != "" {
		t.Errorf("warm scan differs from a cold one (-cold +warm):\n%s", d)
	}

	module, linked := map[string]bool{}, map[string]bool{}
	for _, v := range doc.Vulnerabilities {
		module[v.ID] = true
		if v.Linked == nil {
			t.Errorf("%s on %s: linked absent, but the binary has a symbol table", v.ID, v.Package.Name)
		} else if *v.Linked {
			linked[v.ID] = true
		}
	}
	keys := func(m map[string]bool) []string {
		var s []string
		for k := range m {
			s = append(s, k)
		}
		sort.Strings(s)
		return s
	}
	sort.Strings(truth.Govulncheck.ModuleLevel)
	sort.Strings(truth.Govulncheck.SymbolLevel)
	if d := cmp.Diff(truth.Govulncheck.ModuleLevel, keys(module)); d != "" {
		t.Errorf("module-level findings vs govulncheck (-want +got):\n%s", d)
	}
	if d := cmp.Diff(truth.Govulncheck.SymbolLevel, keys(linked)); d != "" {
		t.Errorf("linked findings vs govulncheck's symbol level (-want +got):\n%s", d)
	}
	for _, m := range truth.MustNot {
		if module[m.ID] {
			t.Errorf("%s reported for a linux/amd64 binary", m.ID)
		}
	}
}

// TestDemoScript runs the README's main command (scripts/demo.sh) as a user
// would, offline: it must build warden, import testdata/feeds and report
// exactly CVE-2024-9143 on libcrypto3 and libssl3.
func TestDemoScript(t *testing.T) {
	testutil.RequireTool(t, "go")
	root := testutil.RepoRoot(t)
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "demo.sh"), "--format", "json")
	cmd.Env = append(os.Environ(), "WARDEN_CACHE_DIR="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/demo.sh: %v\n%s", err, stderr.String())
	}
	var doc report.Document
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("demo output is not the JSON report: %v\n%s", err, out)
	}
	var got []string
	for _, v := range doc.Vulnerabilities {
		sev := v.Severity + "/" + v.SeveritySource
		for _, c := range v.CVSS {
			if c.Source == "nvd" {
				sev += fmt.Sprintf(" %.1f", c.Score)
			}
		}
		got = append(got, v.ID+" "+v.Package.Name+" "+v.Package.Version+" fixed "+v.FixedVersion+" "+sev)
	}
	// Alpine's secdb has no severities: NVD's record (CISA-ADP's CVSS 3.1 metric) gives MEDIUM 4.3.
	want := []string{"CVE-2024-9143 libcrypto3 3.1.7-r0 fixed 3.1.7-r1 MEDIUM/nvd 4.3", "CVE-2024-9143 libssl3 3.1.7-r0 fixed 3.1.7-r1 MEDIUM/nvd 4.3"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("demo findings (-want +got):\n%s", d)
	}
}

// BenchmarkScan runs the whole `warden scan` in-process (open, walk through
// the layer cache, match, JSON report) on the images in testdata/images with
// the corpus feeds imported.
func BenchmarkScan(b *testing.B) {
	c := testutil.Corpus(b)
	state := b.TempDir()
	slice := filepath.Join(testutil.RepoRoot(b), "pkg", "feeds", "debian", "testdata", "bookworm-slice.json")
	run := func(args ...string) {
		root := newRootCmd()
		var errb bytes.Buffer
		root.SetOut(io.Discard)
		root.SetErr(&errb)
		root.SetArgs(args)
		if err := root.ExecuteContext(context.Background()); err != nil {
			b.Fatalf("warden %v: %v\n%s", args, err, errb.String())
		}
	}
	run("--cache-dir", state, "db", "import", filepath.Join(c, "feeds", "alpine-secdb", "v3.19"), filepath.Join(c, "feeds", "pypi-osv"), slice)
	for _, img := range []string{"alpine-3.19.4", "debian-bookworm-pkgdb"} {
		for _, cache := range []string{"warm", "cold"} {
			b.Run(img+"/"+cache, func(b *testing.B) {
				args := []string{"--cache-dir", state, "scan", "--format", "json", "--output", filepath.Join(b.TempDir(), "r.json"), "oci-layout:../../testdata/images/" + img}
				if cache == "cold" {
					args = append(args, "--no-cache")
				}
				for b.Loop() {
					run(args...)
				}
			})
		}
	}
}
