package osv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

func read(t *testing.T, files ...string) (map[string]*vulndb.Batch, *feed.Warnings) {
	t.Helper()
	w := &feed.Warnings{}
	r := NewReader(w)
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join("testdata", f))
		if err != nil {
			t.Fatal(err)
		}
		r.AddBytes(f, data)
	}
	m := map[string]*vulndb.Batch{}
	for _, b := range r.Batches() {
		m[b.Source] = b
	}
	return m, w
}

func TestGo(t *testing.T) {
	m, w := read(t, "GO-2022-0956.json")
	b := m["osv-go"]
	if b == nil || len(b.Advisories) != 1 || len(w.List) != 0 {
		t.Fatalf("batches %v, warnings %v", m, w.List)
	}
	a := b.Advisories[0]
	want := []vulndb.GoImport{{Path: "gopkg.in/yaml.v2", Symbols: []string{"Decoder.Decode", "Unmarshal", "UnmarshalStrict", "decoder.unmarshal", "yaml_parser_increase_flow_level", "yaml_parser_roll_indent"}}}
	if diff := cmp.Diff(want, a.Imports); diff != "" {
		t.Errorf("imports (-want +got):\n%s", diff)
	}
	if a.Namespace != "Go" || a.Package != "gopkg.in/yaml.v2" || a.FixedVersion != "2.2.4" || a.Status != vulndb.StatusFixed ||
		!cmp.Equal(a.Ranges, []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "2.2.4"}}) ||
		!cmp.Equal(a.Aliases, []string{"CVE-2022-3064", "GHSA-6q6q-88xp-6f2r"}) || !a.Modified.IsZero() || a.Published.IsZero() {
		t.Errorf("advisory = %+v", a)
	}
}

// YAML: versions stay strings as written ("1.10" is not 1.1); the range with
// two introduced/fixed pairs becomes two ranges; GIT ranges are dropped.
func TestPyPIYAML(t *testing.T) {
	m, _ := read(t, "PYSEC-2023-192.yaml")
	a := m["osv-pypi"].Advisories[0]
	if a.Namespace != "PyPI" || a.Package != "urllib3" || a.FixedVersion != "2.0.6, 1.26.17" {
		t.Errorf("advisory = %+v", a)
	}
	want := []vulndb.Range{{Type: "ECOSYSTEM", Introduced: "2.0.0", Fixed: "2.0.6"}, {Type: "ECOSYSTEM", Introduced: "0", Fixed: "1.26.17"}}
	if diff := cmp.Diff(want, a.Ranges); diff != "" {
		t.Errorf("ranges (-want +got):\n%s", diff)
	}
	has := func(v string) bool {
		for _, x := range a.Versions {
			if x == v {
				return true
			}
		}
		return false
	}
	if !has("1.10") || !has("0.2") || !has("1.26.16") {
		t.Errorf("versions lost their text: %v", a.Versions)
	}
}

func TestGHSASeverityAndAlma(t *testing.T) {
	m, _ := read(t, "GHSA-p6mc-m468-83gw.json", "ALSA-2022-8444.json")
	npm := m["osv-npm"]
	if len(npm.Advisories) != 2 { // lodash and lodash-es
		t.Fatalf("npm advisories: %d", len(npm.Advisories))
	}
	a := npm.Advisories[0]
	if a.Package != "lodash" || a.Severity != "HIGH" || a.SeveritySource != "ghsa" || len(a.CVSS) != 1 || a.CVSS[0].Score != 7.4 {
		t.Errorf("GHSA advisory = %+v", a)
	}
	alma := m["osv-almalinux"]
	if alma.Records != 1 || len(alma.Advisories) < 5 {
		t.Fatalf("alma: %+v", alma)
	}
	k := alma.Advisories[0]
	if k.Namespace != "almalinux:9" || k.Package != "keylime" || k.FixedVersion != "6.5.1-1.el9_1" || k.Severity != "MEDIUM" || k.SeveritySource != "osv-almalinux" {
		t.Errorf("alma advisory = %+v", k)
	}
}

func TestNamespace(t *testing.T) {
	for in, want := range map[string]string{
		"AlmaLinux:9": "almalinux:9", "Alpine:v3.19": "alpine:3.19", "Debian:12": "debian:12",
		"Ubuntu:24.04:LTS": "ubuntu:24.04", "Ubuntu:Pro:18.04:LTS": "ubuntu:18.04", "Rocky Linux:9": "rocky:9",
		"Red Hat:enterprise_linux:9::appstream": "rhel:9", "Wolfi": "wolfi:rolling", "Chainguard": "chainguard:rolling",
		"openSUSE:Leap 15.5": "opensuse-leap:15.5", "SUSE:Linux Enterprise Server 15 SP5": "sles:15.5",
		"Go": "Go", "npm": "npm", "PyPI": "PyPI", "crates.io": "crates.io", "Maven": "Maven",
	} {
		if got := Namespace(in); got != want {
			t.Errorf("Namespace(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMalformed(t *testing.T) {
	w := &feed.Warnings{}
	r := NewReader(w)
	r.AddBytes("bad1.json", []byte(`{"id": "GHSA-1", "affected": [{"package": {"ecosystem": "npm", "name": "x"}, "ranges": [{"type": "WEIRD", "events": [{"introduced": "0"}]}]}]}`))
	r.AddBytes("bad2.json", []byte(`{"id": "GHSA-2", "affected": [`))
	r.AddBytes("good.json", []byte(`{"id": "GHSA-3", "withdrawn": "2024-01-01T00:00:00Z", "affected": [{"package": {"ecosystem": "npm", "name": "x"}}]}`))
	bs := r.Batches()
	if len(bs) != 1 || bs[0].Skipped != 2 || bs[0].Records != 3 || bs[0].Withdrawn != 1 || len(bs[0].Advisories) != 0 {
		t.Fatalf("batches = %+v", bs)
	}
	if len(w.List) != 2 || !strings.Contains(w.List[0], "bad1.json") || !strings.Contains(w.List[0], "GHSA-1") || !strings.Contains(w.List[1], "bad2.json") {
		t.Errorf("warnings = %q", w.List)
	}
}

func TestYAMLAliasBomb(t *testing.T) {
	doc := "id: X\na: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 9; i++ {
		name := fmt.Sprintf("l%d", i)
		doc += fmt.Sprintf("%s: &%s [*%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s, *%s]\n", name, name, prev, prev, prev, prev, prev, prev, prev, prev, prev, prev)
		prev = name
	}
	_, err := Parse("bomb.yaml", []byte(doc))
	if err == nil || !strings.Contains(err.Error(), "aliases") {
		t.Errorf("err = %v", err)
	}
}

func FuzzAddBytes(f *testing.F) {
	for _, n := range []string{"GO-2022-0956.json", "PYSEC-2023-192.yaml", "GHSA-p6mc-m468-83gw.json", "ALSA-2022-8444.json"} {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(`[{"id":"X","affected":[{"package":{"ecosystem":"Go","name":"m"},"ranges":[{"type":"SEMVER","events":[{"fixed":"1"}]}]}]}]`))
	f.Add([]byte("id: x\naffected: &a\n- *a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(nil)
		r.AddBytes("fuzz", data)
		for _, b := range r.Batches() {
			for _, a := range b.Advisories {
				if a.ID == "" || a.Namespace == "" || a.Package == "" {
					t.Fatalf("incomplete advisory %+v", a)
				}
			}
		}
	})
}
