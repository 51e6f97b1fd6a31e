package csaf

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/vulndb"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// read imports real files with no warning allowed.
func read(t *testing.T, files ...string) *vulndb.Batch {
	t.Helper()
	r := NewReader(nil)
	for _, f := range files {
		if err := r.AddBytes(f, mustRead(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	if len(r.Warn.List) > 0 {
		t.Errorf("warnings on real records: %q", r.Warn.List)
	}
	bs := r.Batches()
	if len(bs) != 1 {
		t.Fatalf("%d batches", len(bs))
	}
	return bs[0]
}

// row is what the golden files hold of an advisory row.
type row struct {
	NS, Package, Module, Status, Fixed, Severity string
	CPEs                                         []string
	FixedAt                                      string `json:",omitempty"`
}

// TestConvertGolden: every RHEL row each real record gives (namespace, rpm,
// module stream, state, fixed EVR, severity, product CPEs), against goldens.
func TestConvertGolden(t *testing.T) {
	for _, f := range []string{"cve-2024-9143.json", "cve-2023-46809-trimmed.json", "cve-2005-2541.json"} {
		t.Run(f, func(t *testing.T) {
			b := read(t, f)
			var rows []row
			for _, a := range b.Advisories {
				r := row{a.Namespace, a.Package, a.Module, a.Status, a.FixedVersion, a.Severity + "/" + a.SeveritySource, a.CPEs, ""}
				if !a.FixedAt.IsZero() {
					r.FixedAt = a.FixedAt.Format("2006-01-02")
				}
				rows = append(rows, r)
			}
			got, _ := json.MarshalIndent(rows, "", "  ")
			golden := filepath.Join("testdata", strings.TrimSuffix(f, ".json")+".golden.json")
			if *update {
				if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(string(bytes.TrimSpace(want)), string(got)); diff != "" {
				t.Errorf("rows (-golden +got):\n%s", diff)
			}
		})
	}
}

// TestConvertStates spells out the facts the goldens hold.
func TestConvertStates(t *testing.T) {
	b := read(t, "cve-2024-9143.json", "cve-2023-46809-trimmed.json", "cve-2005-2541.json")
	if b.Records != 3 {
		t.Errorf("records %d, want 3", b.Records)
	}
	find := func(id, ns, pkg, module string) []vulndb.Advisory {
		var out []vulndb.Advisory
		for _, a := range b.Advisories {
			if a.ID == id && a.Namespace == ns && a.Package == pkg && a.Module == module {
				out = append(out, a)
			}
		}
		return out
	}
	for _, c := range []struct {
		id, ns, pkg, module, status, fixed string
	}{
		// known_not_affected (RHEL never enabled binary curves).
		{"CVE-2024-9143", "rhel:9", "openssl", "", vulndb.StatusNotAffected, ""},
		{"CVE-2024-9143", "rhel:8", "compat-openssl10", "", vulndb.StatusNotAffected, ""},
		{"CVE-2024-9143", "rhel:10", "openssl", "", vulndb.StatusNotAffected, ""},
		// known_affected + none_available "Fix deferred": affected, no fix.
		{"CVE-2024-9143", "rhel:9", "shim", "", vulndb.StatusUnfixed, ""},
		{"CVE-2024-9143", "rhel:10", "edk2", "", vulndb.StatusUnfixed, ""},
		// known_affected + no_fix_planned "Out of support scope".
		{"CVE-2024-9143", "rhel:6", "openssl", "", vulndb.StatusEndOfLife, ""},
		// known_affected + no_fix_planned "Will not fix" (real, RHEL 6-9).
		{"CVE-2005-2541", "rhel:6", "tar", "", vulndb.StatusWontFix, ""},
		{"CVE-2005-2541", "rhel:7", "tar", "", vulndb.StatusWontFix, ""},
		{"CVE-2005-2541", "rhel:8", "tar", "", vulndb.StatusWontFix, ""},
		{"CVE-2005-2541", "rhel:9", "tar", "", vulndb.StatusWontFix, ""},
		// Module streams: one fix per stream.
		{"CVE-2023-46809", "rhel:8", "nodejs", "nodejs:18", vulndb.StatusFixed, "1:18.19.1-1.module+el8.9.0+21387+21356dec"},
		{"CVE-2023-46809", "rhel:8", "nodejs", "nodejs:20", vulndb.StatusFixed, "1:20.11.1-1.module+el8.9.0+21380+12032667"},
		{"CVE-2023-46809", "rhel:8", "npm", "nodejs:20", vulndb.StatusFixed, "1:10.2.4-1.20.11.1.1.module+el8.9.0+21380+12032667"},
		{"CVE-2023-46809", "rhel:8", "nodejs", "nodejs:16", vulndb.StatusUnfixed, ""},
		{"CVE-2023-46809", "rhel:9", "nodejs", "", vulndb.StatusUnfixed, ""},
		{"CVE-2023-46809", "rhel:9", "nodejs", "nodejs:20", vulndb.StatusFixed, "1:20.11.1-1.module+el9.3.0+21385+bac43d5a"},
	} {
		var hit bool
		for _, a := range find(c.id, c.ns, c.pkg, c.module) {
			if a.Status == c.status && a.FixedVersion == c.fixed {
				hit = true
			}
			if a.Status == vulndb.StatusFixed && c.status != vulndb.StatusFixed {
				t.Errorf("%s %s %s %q: a fixed row %s where the feed says %s", c.id, c.ns, c.pkg, c.module, a.FixedVersion, c.status)
			}
		}
		if !hit {
			t.Errorf("%s %s %s %q: no %s row fixed in %q; rows: %+v", c.id, c.ns, c.pkg, c.module, c.status, c.fixed, find(c.id, c.ns, c.pkg, c.module))
		}
	}
	for _, a := range b.Advisories {
		if strings.Contains(a.Package, "openshift") || strings.Contains(a.Package, "3scale") || strings.HasPrefix(a.Package, "rh-nodejs") {
			t.Errorf("a row for a product that is not RHEL: %+v", a)
		}
		if a.ID == "CVE-2024-9143" && (a.Severity != "LOW" || a.SeveritySource != Source) {
			t.Errorf("%s %s: severity %s/%s, want Red Hat's Low", a.Namespace, a.Package, a.Severity, a.SeveritySource)
		}
		if a.ID == "CVE-2024-9143" && (len(a.CVSS) != 1 || a.CVSS[0].Score != 3.7) {
			t.Errorf("%s %s: CVSS %+v", a.Namespace, a.Package, a.CVSS)
		}
	}
	// The EUS stream's own fix is a row of its own, with the EUS CPE.
	var eus bool
	for _, a := range find("CVE-2023-46809", "rhel:8", "nodejs", "nodejs:18") {
		if a.FixedVersion == "1:18.19.1-1.module+el8.8.0+21592+14a8b93e" && len(a.CPEs) == 1 && a.CPEs[0] == "cpe:/a:redhat:rhel_eus:8.8::appstream" {
			eus = true
		}
	}
	if !eus {
		t.Error("no EUS 8.8 row for nodejs:18")
	}
}

func TestRepositoryToCPE(t *testing.T) {
	b := read(t, "repository-to-cpe.json")
	want := map[string][]string{
		"rhel-8-for-x86_64-appstream-eus-rpms__8_DOT_8": {"cpe:/a:redhat:rhel_eus:8.8::appstream"},
		// cpe:/a:redhat:rhel:8.3::appstream names no product stream the rows use: not kept.
		"rhel-8-for-x86_64-appstream-rpms": {"cpe:/a:redhat:enterprise_linux:8::appstream"},
	}
	if diff := cmp.Diff(want, b.RepoCPEs); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseComponent(t *testing.T) {
	for in, want := range map[string]component{
		"openssl":                                {name: "openssl"},
		"gnupg2.src":                             {name: "gnupg2"},
		"nodejs:16/nodejs":                       {name: "nodejs", module: "nodejs:16"},
		"pam-0:1.5.1-21.el9_5.x86_64":            {name: "pam", evr: "1.5.1-21.el9_5"},
		"nodejs:18:8090020240301110609:a75119d5": {module: "nodejs:18", isMod: true},
		"nodejs:18:8090020240301110609:a75119d5:nodejs-1:18.19.1-1.module+el8.9.0+21387+21356dec.x86_64":    {name: "nodejs", evr: "1:18.19.1-1.module+el8.9.0+21387+21356dec", module: "nodejs:18"},
		"nodejs:20:9030020240229115828:rhel9:npm-1:10.2.4-1.20.11.1.1.module+el9.3.0+21385+bac43d5a.noarch": {name: "npm", evr: "1:10.2.4-1.20.11.1.1.module+el9.3.0+21385+bac43d5a", module: "nodejs:20"},
	} {
		got, err := parseComponent(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("%s: got %+v, want %+v", in, got, want)
		}
	}
	for _, bad := range []string{"x-0:1-2", ":16/nodejs", "nodejs:/nodejs", "nodejs:16/", "nodejs:18:8090020240301110609:a75119d5:nodejs", "pam-x:1.5.1-21.el9_5.x86_64"} {
		if c, err := parseComponent(bad); err == nil {
			t.Errorf("%s: parsed as %+v", bad, c)
		}
	}
}

// TestMalformed: a file that is not JSON fails the import, naming the file; a
// document that cannot be used, or a product id that cannot be read, is a
// warning naming the file and the record, and the rest is kept.
func TestMalformed(t *testing.T) {
	r := NewReader(nil)
	if err := r.AddBytes("csaf/bad.json", []byte(`{"document": {`)); err == nil || !strings.Contains(err.Error(), "csaf/bad.json") {
		t.Errorf("truncated JSON: %v", err)
	}
	if err := r.AddBytes("csaf/other.json", []byte(`{"document": {"category": "csaf_security_advisory", "tracking": {"id": "RHSA-2024:1510"}}, "vulnerabilities": [{"cve": "CVE-2023-46809"}]}`)); err != nil {
		t.Fatal(err)
	}
	if err := r.AddBytes("csaf/types.json", []byte(`{"document": {"category": "csaf_vex", "tracking": {"id": 7}}}`)); err != nil {
		t.Fatal(err)
	}
	// The real nodejs record with one product id broken: the others still count.
	doc := string(mustRead(t, "cve-2023-46809-trimmed.json"))
	doc = strings.Replace(doc, `"AppStream-9.3.0.Z.MAIN:nodejs:20:9030020240229115828:rhel9:nodejs-1:20.11.1-1.module+el9.3.0+21385+bac43d5a.x86_64"`,
		`"AppStream-9.3.0.Z.MAIN:nodejs:20:9030020240229115828:rhel9:nodejs-20.11.1.x86_64"`, 1)
	if err := r.AddBytes("csaf/2023/cve-2023-46809.json", []byte(doc)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"csaf/other.json: skipping record RHSA-2024:1510: category \"csaf_security_advisory\" is not csaf_vex",
		"csaf/types.json: skipping record document: json: cannot unmarshal number",
		"csaf/2023/cve-2023-46809.json: skipping record CVE-2023-46809: product \"AppStream-9.3.0.Z.MAIN:nodejs:20:9030020240229115828:rhel9:nodejs-20.11.1.x86_64\": module rpm \"nodejs-20.11.1.x86_64\"",
	} {
		found := false
		for _, w := range r.Warn.List {
			if strings.HasPrefix(w, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning %q in %q", want, r.Warn.List)
		}
	}
	b := r.Batches()[0]
	if b.Records != 3 || b.Skipped != 2 {
		t.Errorf("records %d skipped %d, want 3 and 2", b.Records, b.Skipped)
	}
	n := 0
	for _, a := range b.Advisories {
		if a.Namespace == "rhel:8" && a.Package == "nodejs" {
			n++
		}
	}
	if n == 0 {
		t.Error("the rest of the record with one bad product id was dropped")
	}
}

func FuzzCSAF(f *testing.F) {
	for _, name := range []string{"cve-2024-9143.json", "cve-2023-46809-trimmed.json", "repository-to-cpe.json"} {
		f.Add(mustRead(f, name))
	}
	f.Add([]byte(`{"document": {"category": "csaf_vex"}, "product_tree": {"branches": [{"product": {"product_id": "p", "product_identification_helper": {"cpe": "cpe:/o:redhat:enterprise_linux:9"}}}]}, "vulnerabilities": [{"cve": "CVE-1", "product_status": {"fixed": ["p:a-0:1-2.x", "p:m:s:1:c:a-1:2-3.x", "p:m:s/a", "p:"]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(nil)
		if err := r.AddBytes("fuzz.json", b); err != nil {
			return
		}
		for _, bt := range r.Batches() {
			for _, a := range bt.Advisories {
				if a.Namespace == "" || a.Package == "" || a.ID == "" {
					t.Fatalf("row without namespace, package or id: %+v", a)
				}
				if a.Status == vulndb.StatusFixed && a.FixedVersion == "" {
					t.Fatalf("fixed row without a version: %+v", a)
				}
			}
		}
	})
}
