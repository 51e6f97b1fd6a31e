package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/vulndb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func ptr[T any](v T) *T { return &v }

// sample is a scan of a made-up image holding the corpus' Alpine openssl
// finding, a Go binary (linked and unlinked findings), an npm package with a
// VEX-suppressed finding, an ignored one and an expired ignore rule.
func sample() *Input {
	libcrypto := inventory.Package{Name: "libcrypto3", Version: "3.1.7-r0", SourceName: "openssl", Ecosystem: "apk",
		PURL: "pkg:apk/alpine/libcrypto3@3.1.7-r0?arch=x86_64&distro=alpine-3.19.4", Locations: []string{"/lib/apk/db/installed"}, Layer: "sha256:aaaa"}
	libssl := libcrypto
	libssl.Name, libssl.PURL = "libssl3", "pkg:apk/alpine/libssl3@3.1.7-r0?arch=x86_64&distro=alpine-3.19.4"
	busybox := inventory.Package{Name: "busybox", Version: "1.36.1-r19", Ecosystem: "apk", PURL: "pkg:apk/alpine/busybox@1.36.1-r19?arch=x86_64&distro=alpine-3.19.4", Locations: []string{"/lib/apk/db/installed"}}
	xnet := inventory.Package{Name: "golang.org/x/net", Version: "v0.0.0-20210226172049-e18ecbb05110", Ecosystem: "Go",
		PURL: "pkg:golang/golang.org/x/net@v0.0.0-20210226172049-e18ecbb05110", Locations: []string{"/usr/local/bin/vulnapp"}, GOOS: "linux", GOARCH: "amd64", SymbolsKnown: true}
	lodash := inventory.Package{Name: "lodash", Version: "4.17.15", Ecosystem: "npm", PURL: "pkg:npm/lodash@4.17.15", Locations: []string{"/app/node_modules/lodash/package.json"}}
	minimist := inventory.Package{Name: "minimist", Version: "1.2.0", Ecosystem: "npm", PURL: "pkg:npm/minimist@1.2.0", Locations: []string{"/app/node_modules/minimist/package.json"}}
	urllib3 := inventory.Package{Name: "urllib3", Version: "1.26.12", Ecosystem: "PyPI", PURL: "pkg:pypi/urllib3@1.26.12", Locations: []string{"/usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO"}, OwnedBy: "dpkg:python3-urllib3"}

	openssl := vulndb.Advisory{ID: "CVE-2024-9143", Namespace: "alpine:3.19", Package: "openssl", Status: "fixed", FixedVersion: "3.1.7-r1",
		Severity: "MEDIUM", SeveritySource: "nvd", Title: "Low-level invalid GF(2^m) parameters lead to OOB memory access",
		CVSS: []vulndb.CVSS{{Source: "nvd", Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:L/I:N/A:L", Score: 4.3}},
		URLs: []string{"https://www.openssl.org/news/secadv/20241016.txt"}, Source: "alpine-secdb"}
	go238 := vulndb.Advisory{ID: "GO-2021-0238", Aliases: []string{"CVE-2021-33194", "GHSA-83g2-8m93-v3w7"}, Namespace: "Go", Package: "golang.org/x/net",
		Severity: "HIGH", SeveritySource: "nvd", Title: "Infinite loop when parsing inputs in golang.org/x/net/html", Source: "osv-go",
		URLs: []string{"https://go.dev/issue/46288"}}
	go288 := vulndb.Advisory{ID: "GO-2022-0288", Aliases: []string{"CVE-2021-44716"}, Namespace: "Go", Package: "golang.org/x/net",
		Severity: "HIGH", SeveritySource: "nvd", Title: "Unbounded memory growth in net/http and golang.org/x/net/http2", Source: "osv-go"}
	lodashAdv := vulndb.Advisory{ID: "GHSA-p6mc-m468-83gw", Aliases: []string{"CVE-2020-8203"}, Namespace: "npm", Package: "lodash",
		Severity: "HIGH", SeveritySource: "ghsa", Title: "Prototype Pollution in lodash", Source: "osv-ghsa",
		CVSS: []vulndb.CVSS{{Source: "ghsa", Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H", Score: 7.4}}}
	minimistAdv := vulndb.Advisory{ID: "GHSA-xvch-5gv4-984h", Aliases: []string{"CVE-2021-44906"}, Namespace: "npm", Package: "minimist",
		Severity: "CRITICAL", SeveritySource: "nvd", Title: "Prototype Pollution in minimist", Source: "osv-ghsa"}
	minimistAdv2 := vulndb.Advisory{ID: "GHSA-vh95-rmgr-6w4m", Aliases: []string{"CVE-2020-7598"}, Namespace: "npm", Package: "minimist",
		Severity: "MEDIUM", SeveritySource: "ghsa", Title: "Prototype Pollution in minimist", Source: "osv-ghsa"}
	busyboxAdv := vulndb.Advisory{ID: "CVE-2023-42364", Namespace: "alpine:3.19", Package: "busybox", Status: "unfixed", Severity: "UNKNOWN", Source: "alpine-secdb"}
	busyboxAdv2 := vulndb.Advisory{ID: "CVE-2005-2541", Namespace: "alpine:3.19", Package: "busybox", Status: "wont-fix", Severity: "NEGLIGIBLE", SeveritySource: "debian-tracker",
		Title: "Tar 1.15.1 does not properly warn the user when extracting setuid or setgid files", Source: "alpine-secdb"}

	return &Input{
		Artifact: "oci-layout:testdata/images/sample",
		Inventory: &inventory.Inventory{
			Distro:   &inventory.Distro{ID: "alpine", VersionID: "3.19.4", PrettyName: "Alpine Linux v3.19"},
			Packages: []inventory.Package{busybox, libcrypto, libssl, xnet, lodash, minimist, urllib3},
			Warnings: []string{"layer sha256:bbbb: /app/broken.jar: zip: not a valid zip file"},
		},
		Findings: []match.Finding{
			{Package: libcrypto, Advisory: openssl, Status: "fixed", FixedVersion: "3.1.7-r1"},
			{Package: libssl, Advisory: openssl, Status: "fixed", FixedVersion: "3.1.7-r1"},
			{Package: busybox, Advisory: busyboxAdv, Status: "unfixed"},
			{Package: busybox, Advisory: busyboxAdv2, Status: "wont-fix"},
			{Package: xnet, Advisory: go238, Status: "fixed", FixedVersion: "0.0.0-20210520170846-37e1c6afe023", Linked: ptr(true)},
			{Package: xnet, Advisory: go288, Status: "fixed", FixedVersion: "0.0.0-20211209124913-491a49abca63", Linked: ptr(false)},
			{Package: lodash, Advisory: lodashAdv, Status: "fixed", FixedVersion: "4.17.20",
				Suppressed: &match.Suppression{Kind: "vex", Reason: "not_affected: vulnerable_code_not_present", Justification: "vulnerable_code_not_present", Source: "vex.json"}},
			{Package: minimist, Advisory: minimistAdv, Status: "fixed", FixedVersion: "1.2.6"},
			{Package: minimist, Advisory: minimistAdv2, Status: "fixed", FixedVersion: "1.2.3",
				Suppressed: &match.Suppression{Kind: "ignore-file", Reason: "argv comes from our own scripts only", Source: ".wardenignore:9"}},
		},
		ExpiredRules: []ExpiredRule{{ID: "CVE-2019-0001", Reason: "accepted for the 2025 release", Expires: "2025-06-30", Source: ".wardenignore:12"}},
		DBBuilt:      time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC),
		Time:         time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC),
		ToolVersion:  "test",
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, diff)
	}
}

func TestGolden(t *testing.T) {
	tmpl := `{{.artifact}} on {{.os.family}} {{.os.version}}
{{range .vulnerabilities}}{{.id}}	{{.package.name}}@{{.package.version}}	{{.severity}}	fixed={{.fixed_version}}{{if ne .linked nil}}	linked={{.linked}}{{end}}
{{end}}aliases of the first: {{with index .vulnerabilities 0}}{{join ", " .aliases}}{{end}}
`
	for _, tt := range []struct {
		file string
		opt  Options
	}{
		{"table.golden", Options{Format: FormatTable}},
		{"table-links-unlinked.golden", Options{Format: FormatTable, Hyperlinks: true, ShowUnlinked: true}},
		{"table-wide.golden", Options{Format: FormatTable, Wide: true}},
		{"report.json", Options{Format: FormatJSON}},
		{"report.sarif", Options{Format: FormatSARIF}},
		{"report.cdx.json", Options{Format: FormatCycloneDX}},
		{"template.golden", Options{Format: FormatTemplate, Template: tmpl}},
	} {
		t.Run(tt.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, sample(), tt.opt); err != nil {
				t.Fatal(err)
			}
			golden(t, tt.file, buf.Bytes())
		})
	}
}

func TestTableOrderAndCounts(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample(), Options{Format: FormatTable}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	crit := strings.Index(out, "GHSA-xvch-5gv4-984h")
	high := strings.Index(out, "GO-2021-0238")
	med := strings.Index(out, "CVE-2024-9143")
	unknown := strings.Index(out, "CVE-2023-42364")
	if !(crit >= 0 && crit < high && high < med && med < unknown) {
		t.Errorf("rows not ordered CRITICAL, HIGH, MEDIUM, UNKNOWN:\n%s", out)
	}
	if strings.Contains(out[:strings.Index(out, "Total:")], "GO-2022-0288") {
		t.Errorf("unlinked Go finding listed without --show-unlinked:\n%s", out)
	}
	for _, want := range []string{
		"Total: 6 (CRITICAL: 1, HIGH: 1, MEDIUM: 2, LOW: 0, NEGLIGIBLE: 1, UNKNOWN: 1)",
		"4 of 6 findings are fixed in newer packages: a rebuild would fix them",
		"1 Go finding is in modules the binary uses, but the vulnerable code is not linked into it",
		"GHSA-p6mc-m468-83gw on lodash 4.17.15: vex: not_affected: vulnerable_code_not_present [vex.json]",
		"CVE-2019-0001 expired 2025-06-30",
		"urllib3 1.26.12 (PyPI, owned by dpkg:python3-urllib3)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Error("escape sequences in the plain table")
	}
}

func TestJSONSchema(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample(), Options{Format: FormatJSON}); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"artifact", "os", "packages", "vulnerabilities"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("no %q", k)
		}
	}
	os := doc["os"].(map[string]any)
	if os["family"] != "alpine" || os["version"] != "3.19.4" {
		t.Errorf("os = %v", os)
	}
	vulns := doc["vulnerabilities"].([]any)
	if len(vulns) != 7 { // 6 counted + 1 unlinked Go finding (JSON lists every module-level finding)
		t.Fatalf("%d vulnerabilities, want 7", len(vulns))
	}
	linkedSeen := 0
	for _, x := range vulns {
		v := x.(map[string]any)
		for _, k := range []string{"id", "aliases", "package", "fixed_version", "status", "severity", "severity_source", "title", "urls"} {
			if _, ok := v[k]; !ok {
				t.Errorf("%v: no %q", v["id"], k)
			}
		}
		p := v["package"].(map[string]any)
		for _, k := range []string{"name", "version", "ecosystem", "purl"} {
			if _, ok := p[k]; !ok {
				t.Errorf("%v: package has no %q", v["id"], k)
			}
		}
		if _, ok := v["linked"]; ok {
			linkedSeen++
			if p["ecosystem"] != "Go" {
				t.Errorf("%v: linked on a non-Go finding", v["id"])
			}
		}
	}
	if linkedSeen != 2 {
		t.Errorf("linked present on %d findings, want the 2 Go ones", linkedSeen)
	}
}

func TestSARIFShape(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample(), Options{Format: FormatSARIF}); err != nil {
		t.Fatal(err)
	}
	var log sarifLog
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if log.Version != "2.1.0" || len(log.Runs) != 1 {
		t.Fatalf("version %q, %d runs", log.Version, len(log.Runs))
	}
	run := log.Runs[0]
	if len(run.Results) != 6 {
		t.Errorf("%d results, want 6 (unsuppressed, linked)", len(run.Results))
	}
	for _, r := range run.Results {
		rule := run.Tool.Driver.Rules[r.RuleIndex]
		if rule.ID != r.RuleID {
			t.Errorf("result %s points at rule %s", r.RuleID, rule.ID)
		}
		if len(r.Locations) == 0 || r.Locations[0].PhysicalLocation.ArtifactLocation.URI == "" {
			t.Errorf("result %s has no location", r.RuleID)
		}
	}
	for _, rule := range run.Tool.Driver.Rules {
		if rule.Properties.SecuritySeverity == "" || rule.HelpURI == "" || rule.Help.Text == "" || rule.ShortDescription.Text == "" {
			t.Errorf("rule %s lacks security-severity, helpUri, help or shortDescription", rule.ID)
		}
	}
}

func TestCycloneDXShape(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample(), Options{Format: FormatCycloneDX}); err != nil {
		t.Fatal(err)
	}
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(&buf, cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		t.Fatal(err)
	}
	if bom.SpecVersion != cdx.SpecVersion1_6 || bom.Vulnerabilities == nil {
		t.Fatalf("spec %v, vulnerabilities %v", bom.SpecVersion, bom.Vulnerabilities)
	}
	refs := map[string]bool{}
	for _, c := range *bom.Components {
		refs[c.BOMRef] = true
	}
	var openssl *cdx.Vulnerability
	for i, v := range *bom.Vulnerabilities {
		for _, a := range *v.Affects {
			if !refs[a.Ref] {
				t.Errorf("%s affects unknown ref %q", v.ID, a.Ref)
			}
		}
		if v.ID == "CVE-2024-9143" {
			openssl = &(*bom.Vulnerabilities)[i]
		}
		if v.ID == "GHSA-p6mc-m468-83gw" && (v.Analysis == nil || v.Analysis.State != cdx.IASNotAffected || v.Analysis.Justification != cdx.IAJCodeNotPresent) {
			t.Errorf("VEX-suppressed finding without not_affected analysis: %+v", v.Analysis)
		}
	}
	if openssl == nil || len(*openssl.Affects) != 2 {
		t.Fatalf("CVE-2024-9143 should affect libcrypto3 and libssl3: %+v", openssl)
	}
}

func TestBadFormatAndTemplate(t *testing.T) {
	if err := Write(&bytes.Buffer{}, sample(), Options{Format: "xml"}); err == nil || !strings.Contains(err.Error(), `unknown report format "xml"`) {
		t.Errorf("err = %v", err)
	}
	if err := Write(&bytes.Buffer{}, sample(), Options{Format: FormatTemplate, Template: "{{.vulnerabilities"}); err == nil {
		t.Error("bad template: no error")
	}
	if err := Write(&bytes.Buffer{}, sample(), Options{Format: FormatTemplate}); err == nil {
		t.Error("empty template: no error")
	}
}

func TestEmpty(t *testing.T) {
	var buf bytes.Buffer
	in := &Input{Artifact: "scratch", Inventory: &inventory.Inventory{}}
	for _, f := range []string{FormatTable, FormatJSON, FormatSARIF, FormatCycloneDX} {
		buf.Reset()
		if err := Write(&buf, in, Options{Format: f}); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	buf.Reset()
	_ = Write(&buf, in, Options{})
	if !strings.Contains(buf.String(), "No vulnerabilities found.") {
		t.Errorf("empty table:\n%s", buf.String())
	}
	// No "0 of 0 findings are fixed" line when there is nothing to fix.
	if strings.Contains(buf.String(), "fixed in newer packages") {
		t.Errorf("empty table speaks of fixes:\n%s", buf.String())
	}
}

// TestAdvisoryLinks: each finding's primary advisory page, the URL column of
// --wide, and the CVE alias beside a GHSA/GO id.
func TestAdvisoryLinks(t *testing.T) {
	for _, c := range []struct {
		a    vulndb.Advisory
		want string
	}{
		{vulndb.Advisory{ID: "CVE-2024-9143", Namespace: "alpine:3.19"}, "https://security.alpinelinux.org/vuln/CVE-2024-9143"},
		{vulndb.Advisory{ID: "CVE-2023-4911", Namespace: "debian:12"}, "https://security-tracker.debian.org/tracker/CVE-2023-4911"},
		{vulndb.Advisory{ID: "CVE-2023-4911", Namespace: "ubuntu:22.04"}, "https://ubuntu.com/security/CVE-2023-4911"},
		{vulndb.Advisory{ID: "CVE-2021-44906", Namespace: "npm"}, "https://nvd.nist.gov/vuln/detail/CVE-2021-44906"},
		{vulndb.Advisory{ID: "GHSA-xvch-5gv4-984h", Namespace: "npm"}, "https://github.com/advisories/GHSA-xvch-5gv4-984h"},
		{vulndb.Advisory{ID: "GO-2021-0238", Namespace: "go"}, "https://osv.dev/vulnerability/GO-2021-0238"},
		{vulndb.Advisory{ID: "PYSEC-2021-108", Namespace: "pypi"}, "https://osv.dev/vulnerability/PYSEC-2021-108"},
		{vulndb.Advisory{ID: "RHSA-2024:0001", Namespace: "rhel:9"}, "https://access.redhat.com/errata/RHSA-2024:0001"},
		{vulndb.Advisory{ID: "XYZ-1", URLs: []string{"https://example.com/xyz-1"}}, "https://example.com/xyz-1"},
	} {
		if got := AdvisoryURL(&c.a); got != c.want {
			t.Errorf("%s (%s): %q, want %q", c.a.ID, c.a.Namespace, got, c.want)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, sample(), Options{Format: FormatTable, Wide: true}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(buf.String(), "\n")
	if !strings.HasSuffix(strings.TrimRight(lines[2], " "), "URL") {
		t.Errorf("--wide header lacks URL: %q", lines[2])
	}
	for _, l := range lines[3:] {
		if l == "" {
			break
		}
		f := strings.Fields(l)
		if id, url := f[0], f[len(f)-1]; !strings.HasPrefix(url, "https://") || !strings.HasSuffix(url, id) {
			t.Errorf("row without its advisory URL: %q", l)
		}
	}
	buf.Reset()
	if err := Write(&buf, sample(), Options{Format: FormatTable}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "https://") {
		t.Errorf("URL column without --wide:\n%s", buf.String())
	}
}
