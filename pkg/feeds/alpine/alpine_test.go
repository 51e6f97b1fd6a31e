package alpine

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

func TestSecDB(t *testing.T) {
	data, err := os.ReadFile("testdata/v3.19-main-slice.json")
	if err != nil {
		t.Fatal(err)
	}
	r := NewReader(nil)
	if err := r.AddBytes("v3.19/main.json", time.Time{}, data); err != nil {
		t.Fatal(err)
	}
	bs := r.Batches()
	if len(bs) != 1 || bs[0].Source != SourceAlpine {
		t.Fatalf("batches = %+v", bs)
	}
	by := map[string]vulndb.Advisory{}
	for _, a := range bs[0].Advisories {
		if a.Namespace != "alpine:3.19" {
			t.Errorf("namespace %q", a.Namespace)
		}
		by[a.Package+" "+a.ID] = a
	}
	if a := by["openssl CVE-2024-9143"]; a.Status != vulndb.StatusFixed || a.FixedVersion != "3.1.7-r1" || len(a.Ranges) != 1 || a.Ranges[0].Fixed != "3.1.7-r1" {
		t.Errorf("openssl CVE-2024-9143 = %+v", a)
	}
	// Version "0": this branch was never affected.
	if a := by["openssl CVE-2022-1292"]; a.Status != vulndb.StatusNotAffected || a.FixedVersion != "" || len(a.Ranges) != 0 {
		t.Errorf("openssl CVE-2022-1292 = %+v", a)
	}
	if a := by["aom CVE-2021-30473"]; a.FixedVersion != "3.1.1-r0" {
		t.Errorf("aom = %+v", a)
	}
	if bs[0].Records != len(bs[0].Advisories) {
		t.Errorf("records %d, advisories %d", bs[0].Records, len(bs[0].Advisories))
	}
}

func TestWolfiAndEdge(t *testing.T) {
	for _, tc := range []struct{ json, ns, src string }{
		{`{"apkurl":"{{urlprefix}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk","archs":["x86_64"],"reponame":"os","urlprefix":"https://packages.wolfi.dev","packages":[{"pkg":{"name":"glibc","secfixes":{"2.38-r1":["CVE-2023-4911"]}}}]}`, "wolfi:rolling", SourceWolfi},
		{`{"apkurl":"{{urlprefix}}/{{reponame}}/{{arch}}/{{pkg.name}}-{{pkg.ver}}.apk","reponame":"chainguard","urlprefix":"https://packages.cgr.dev","packages":[{"pkg":{"name":"glibc","secfixes":{"2.38-r1":["CVE-2023-4911"]}}}]}`, "chainguard:rolling", SourceChainguard},
		{`{"distroversion":"edge","reponame":"main","urlprefix":"https://dl-cdn.alpinelinux.org/alpine","packages":[{"pkg":{"name":"xen","secfixes":{"4.9.0-r1":["CVE-2017-10912 XSA-217"]}}}]}`, "alpine:edge", SourceAlpine},
	} {
		r := NewReader(nil)
		if err := r.AddBytes("f.json", time.Time{}, []byte(tc.json)); err != nil {
			t.Fatal(err)
		}
		a := r.Batches()[0].Advisories[0]
		if a.Namespace != tc.ns || a.Source != tc.src {
			t.Errorf("%s: got %s %s", tc.ns, a.Namespace, a.Source)
		}
		if tc.ns == "alpine:edge" && (a.ID != "CVE-2017-10912" || len(a.Aliases) != 1 || a.Aliases[0] != "XSA-217") {
			t.Errorf("multi-id entry: %+v", a)
		}
	}
}

func TestMalformed(t *testing.T) {
	w := &feed.Warnings{}
	r := NewReader(w)
	err := r.AddBytes("v3.19/main.json", time.Time{}, []byte(`{"distroversion":"v3.19","packages":[{"pkg":{"name":"","secfixes":{}}},{"pkg":{"name":"x","secfixes":{"1-r0":"CVE-1"}}},{"pkg":{"name":"y","secfixes":{"1-r0":["CVE-2"]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b := r.Batches()[0]
	if b.Skipped != 2 || len(b.Advisories) != 1 || len(w.List) != 2 || !strings.Contains(w.List[1], "x 1-r0") {
		t.Errorf("batch %+v, warnings %q", b, w.List)
	}
	if err := r.AddBytes("broken.json", time.Time{}, []byte(`{"packages": [`)); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("broken JSON: err = %v", err)
	}
}

func FuzzAddBytes(f *testing.F) {
	data, err := os.ReadFile("testdata/v3.19-main-slice.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"urlprefix":"https://packages.wolfi.dev","packages":[{"pkg":{"name":"a","secfixes":{"0":["CVE-1"]}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(nil)
		_ = r.AddBytes("fuzz", time.Time{}, data)
		for _, b := range r.Batches() {
			for _, a := range b.Advisories {
				if a.ID == "" || a.Package == "" || a.Namespace == "" {
					t.Fatalf("incomplete advisory %+v", a)
				}
			}
		}
	})
}
