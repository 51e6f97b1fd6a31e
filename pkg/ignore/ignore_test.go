package ignore

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/vulndb"
)

func findings() []match.Finding {
	mk := func(name, ver, purl, id string, aliases ...string) match.Finding {
		return match.Finding{
			Package:  inventory.Package{Name: name, Version: ver, PURL: purl},
			Advisory: vulndb.Advisory{ID: id, Aliases: aliases},
		}
	}
	return []match.Finding{
		mk("libcrypto3", "3.1.7-r0", "pkg:apk/alpine/libcrypto3@3.1.7-r0?arch=x86_64&distro=alpine-3.19.4", "CVE-2024-9143"),
		mk("libssl3", "3.1.7-r0", "pkg:apk/alpine/libssl3@3.1.7-r0?arch=x86_64&distro=alpine-3.19.4", "CVE-2024-9143"),
		mk("lodash", "4.17.15", "pkg:npm/lodash@4.17.15", "GHSA-p6mc-m468-83gw", "CVE-2020-8203"),
		mk("minimist", "1.2.0", "pkg:npm/minimist@1.2.0", "GHSA-vh95-rmgr-6w4m", "CVE-2020-7598"),
		mk("minimist", "1.2.0", "pkg:npm/minimist@1.2.0", "GHSA-xvch-5gv4-984h", "CVE-2021-44906"),
		mk("old", "1", "pkg:npm/old@1", "CVE-2019-0001"),
	}
}

func suppressed(fs []match.Finding) []string {
	var out []string
	for _, f := range fs {
		if f.Suppressed != nil {
			out = append(out, f.Package.Name+" "+f.Advisory.ID+" "+f.Suppressed.Kind+": "+f.Suppressed.Reason+" ["+f.Suppressed.Source+"]")
		}
	}
	return out
}

func TestIgnoreFile(t *testing.T) {
	f, err := Load("testdata/wardenignore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fs := findings()
	now := time.Date(2027, 1, 31, 23, 0, 0, 0, time.UTC) // the last day of the first rule
	expired := f.Apply(fs, now)
	want := []string{
		"libssl3 CVE-2024-9143 ignore-file: only reachable through the openssl CLI, which the service never runs (until 2027-01-31) [testdata/wardenignore.yaml:3]",
		"lodash GHSA-p6mc-m468-83gw ignore-file: zipObjectDeep is not used [testdata/wardenignore.yaml:7]",
		"minimist GHSA-vh95-rmgr-6w4m ignore-file: argv comes from our own scripts only [testdata/wardenignore.yaml:9]",
	}
	if diff := cmp.Diff(want, suppressed(fs)); diff != "" {
		t.Errorf("suppressed (-want +got):\n%s", diff)
	}
	if len(expired) != 1 || expired[0].ID != "CVE-2019-0001" {
		t.Errorf("expired = %+v, want the CVE-2019-0001 rule", expired)
	}

	// A day later the first rule has expired too.
	fs = findings()
	expired = f.Apply(fs, now.Add(2*time.Hour))
	if len(expired) != 2 || len(suppressed(fs)) != 2 {
		t.Errorf("after expiry: expired %d rules, suppressed %v", len(expired), suppressed(fs))
	}
}

func TestIgnoreFileShapes(t *testing.T) {
	for _, tt := range []struct {
		name, in string
		rules    int
		err      string
	}{
		{"empty", "", 0, ""},
		{"comment only", "# nothing\n", 0, ""},
		{"bare list", "- id: CVE-1\n  reason: r\n", 1, ""},
		{"empty ignore", "ignore:\n", 0, ""},
		{"unknown top key", "rules:\n  - id: x\n", 0, `line 1: unknown key "rules"`},
		{"unknown rule key", "ignore:\n  - id: CVE-1\n    reason: r\n    path: /x\n", 0, `line 4: unknown key "path"`},
		{"no id", "ignore:\n  - reason: r\n", 0, "line 2: rule without id"},
		{"no reason", "ignore:\n  - id: CVE-1\n", 0, "rule for CVE-1 has no reason"},
		{"bad date", "ignore:\n  - id: CVE-1\n    reason: r\n    expires: next week\n", 0, `expires "next week" is not a date`},
		{"not a list", "ignore: CVE-1\n", 0, "want a list of rules"},
		{"scalar rule", "ignore:\n  - CVE-1\n", 0, "a rule must be a mapping"},
		{"bad yaml", "ignore: [\n", 0, "ignore file x.yaml"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("x.yaml", []byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(f.Rules) != tt.rules {
				t.Errorf("%d rules, want %d", len(f.Rules), tt.rules)
			}
		})
	}
}

func TestVEX(t *testing.T) {
	v2, err := LoadVEX("testdata/openvex-v0.2.0.json")
	if err != nil {
		t.Fatal(err)
	}
	v0, err := LoadVEX("testdata/openvex-v0.0.1.json")
	if err != nil {
		t.Fatal(err)
	}
	fs := findings()
	ApplyVEX(fs, "alpine:3.19.4", v2, v0)
	want := []string{
		"libcrypto3 CVE-2024-9143 vex: not_affected: vulnerable_code_not_in_execute_path — no explicit GF(2^m) curve parameters are ever parsed [testdata/openvex-v0.2.0.json]",
		"lodash GHSA-p6mc-m468-83gw vex: not_affected: vulnerable_code_not_present [testdata/openvex-v0.0.1.json]",
		// GHSA-xvch-5gv4-984h: a later "affected" statement overrides the not_affected one.
		// libssl3: under_investigation does not suppress.
	}
	if diff := cmp.Diff(want, suppressed(fs)); diff != "" {
		t.Errorf("suppressed (-want +got):\n%s", diff)
	}
}

func TestVEXImageProduct(t *testing.T) {
	doc := `{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":"CVE-2024-9143"},
	  "products":[{"@id":"alpine:3.19.4"}],"status":"not_affected","justification":"component_not_present"}]}`
	v, err := ParseVEX("img.json", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	fs := findings()
	ApplyVEX(fs, "alpine:3.19.4", v)
	if got := len(suppressed(fs)); got != 2 {
		t.Errorf("image-level statement suppressed %d findings, want 2: %v", got, suppressed(fs))
	}
}

func TestVEXErrors(t *testing.T) {
	for _, tt := range []struct{ in, err string }{
		{`{`, "not OpenVEX JSON"},
		{`{"@context":"https://cyclonedx.org"}`, "is not OpenVEX"},
		{`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"products":["pkg:npm/a@1"],"status":"not_affected"}]}`, "no vulnerability"},
		{`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":"CVE-1","products":["pkg:npm/a@1"],"status":"maybe"}]}`, `unknown status "maybe"`},
		{`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":"CVE-1","status":"not_affected"}]}`, "no products"},
		{`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":"CVE-1","products":[{}],"status":"fixed"}]}`, "product without @id"},
		{`{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":{"name":""},"products":["x"],"status":"fixed"}]}`, "without a name"},
	} {
		if _, err := ParseVEX("v.json", []byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("ParseVEX(%s): err = %v, want %q", tt.in, err, tt.err)
		}
	}
}

func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile(filepath.Join("testdata", "wardenignore.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("- id: CVE-1\n  reason: r\n  expires: 2026-01-01\n"))
	f.Add([]byte("ignore: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := Parse("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, r := range fl.Rules {
			if r.ID == "" || r.Reason == "" {
				t.Fatalf("accepted a rule without id or reason: %+v", r)
			}
		}
		fl.Apply(findings(), time.Now())
	})
}

func FuzzParseVEX(f *testing.F) {
	for _, name := range []string{"openvex-v0.2.0.json", "openvex-v0.0.1.json"} {
		seed, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ParseVEX("fuzz.json", data)
		if err != nil {
			return
		}
		ApplyVEX(findings(), "img", v)
	})
}
