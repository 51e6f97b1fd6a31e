package feed

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSniff(t *testing.T) {
	for _, tc := range []struct{ name, head, want string }{
		{"GO-1.json", `{"schema_version": "1.3.1", "id": "GO-2022-0956", "affected": []}`, KindOSV},
		{"PYSEC.yaml", "id: PYSEC-2023-192\nmodified: 2023-10-10\naffected:\n", KindOSV},
		{"main.json", `{"apkurl": "x", "archs": [], "packages": []}`, KindSecDB},
		{"debian.json", `{"openssl": {"CVE-2024-1": {"releases": {}}}}`, KindDebianJSON},
		{"CVE-1.json", `{"id": "CVE-2021-44906", "sourceIdentifier": "cve@mitre.org", "metrics": {}}`, KindNVD},
		{"cve-2024-9143.json", `{"document": {"aggregate_severity": {}, "category": "csaf_vex", "csaf_version": "2.0"}, "vulnerabilities": [{"cve": "CVE-2024-9143"}]}`, KindCSAF},
		{"repository-to-cpe.json", "{\n\t\"data\": {\n\t\t\"rhel-8-for-x86_64-appstream-rpms\": {\n\t\t\t\"cpes\": [", KindCSAF},
		{"nvd.json", `{"resultsPerPage": 1, "vulnerabilities": [{"cve": {}}]}`, KindNVD},
		{"a.xml", `<?xml version="1.0"?><oval_definitions><generator><oval:product_name>Canonical USN OVAL Generator`, KindUbuntuOVAL},
		{"b.xml", `<?xml version="1.0"?><oval_definitions xmlns:red-def="x"><definition id="oval:org.rockylinux.rlsa:def:1">`, KindRHELOVAL},
		{"updateinfo.xml", `<?xml version="1.0" ?>
<updates><update author="linux-security@amazon.com" status="final" type="security" version="1.4"><id>ALAS2-2018-942</id>`, KindAmazon},
		{"DSA-list", "[29 Mar 2023] DSA-5380-1 xorg-server - security update\n", KindDebianList},
		{"security-support-ended.deb12", "# List of packages", KindDebianSupport},
		{"README.md", "# hello", ""},
		{"LICENSE", "MIT License", ""},
	} {
		if got := Sniff(tc.name, []byte(tc.head)); got != tc.want {
			t.Errorf("Sniff(%s) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestWalkTruncatedZip(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.zip")
	// A zip signature and nothing else: truncated.
	os.WriteFile(p, []byte("PK\x03\x04 truncated"), 0o644)
	err := Walk(context.Background(), p, func(e *Entry) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "x.zip") {
		t.Errorf("err = %v", err)
	}
}

func FuzzSniff(f *testing.F) {
	f.Add("x.json", []byte(`{"affected": []}`))
	f.Add("DSA-list", []byte("[01 Jan 2023] DSA-1-1 x - y"))
	f.Fuzz(func(t *testing.T, name string, head []byte) {
		k := Sniff(name, head)
		if k != "" {
			for _, x := range Kinds {
				if x == k {
					return
				}
			}
			t.Fatalf("unknown kind %q", k)
		}
	})
}
