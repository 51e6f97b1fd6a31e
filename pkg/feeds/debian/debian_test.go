package debian

import (
	"os"
	"strings"
	"testing"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

func advisories(t *testing.T, r *Reader) map[string]vulndb.Advisory {
	t.Helper()
	m := map[string]vulndb.Advisory{}
	for _, b := range r.Batches() {
		for _, a := range b.Advisories {
			m[a.Source+" "+a.Namespace+" "+a.Package+" "+a.ID] = a
		}
	}
	return m
}

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestBookwormSlice(t *testing.T) {
	r := NewReader(nil)
	if err := r.AddBytes("bookworm-slice.json", mustRead(t, "bookworm-slice.json")); err != nil {
		t.Fatal(err)
	}
	m := advisories(t, r)
	for _, tc := range []struct {
		key, status, fixed, sev string
	}{
		{"openssl CVE-2026-42767", vulndb.StatusFixed, "3.0.22-1~deb12u1", "MEDIUM"},
		{"openssl CVE-2026-84782", vulndb.StatusFixed, "3.0.22-1~deb12u2", "HIGH"},
		{"expat CVE-2025-59375", vulndb.StatusFixed, "2.5.0-1+deb12u4", "HIGH"},
		{"xz-utils CVE-2026-34743", vulndb.StatusFixed, "5.4.1-1+deb12u2", "MEDIUM"},
		{"xz-utils CVE-2024-3094", vulndb.StatusNotAffected, "", "UNKNOWN"},
		{"tar CVE-2005-2541", vulndb.StatusUnfixed, "", "NEGLIGIBLE"},
		{"libnet-easytcp-perl CVE-2024-56830", vulndb.StatusEndOfLife, "", "UNKNOWN"},
	} {
		a, ok := m["debian-tracker debian:12 "+tc.key]
		if !ok {
			t.Errorf("%s missing", tc.key)
			continue
		}
		if a.Status != tc.status || a.FixedVersion != tc.fixed || a.Severity != tc.sev {
			t.Errorf("%s = status %q fixed %q severity %q, want %q %q %q", tc.key, a.Status, a.FixedVersion, a.Severity, tc.status, tc.fixed, tc.sev)
		}
	}
}

func TestVunnelSlice(t *testing.T) {
	w := &feed.Warnings{}
	r := NewReader(w)
	if err := r.AddBytes("debian.json", mustRead(t, "debian-vunnel.json")); err != nil {
		t.Fatal(err)
	}
	m := advisories(t, r)
	var eol, fixed int
	for _, a := range m {
		switch a.Status {
		case vulndb.StatusEndOfLife:
			eol++
		case vulndb.StatusFixed:
			fixed++
		}
	}
	if eol == 0 || fixed == 0 || len(w.List) != 0 {
		t.Errorf("eol %d fixed %d warnings %q", eol, fixed, w.List)
	}
	if a := m["debian-tracker debian:9 prototypejs CVE-2008-7220"]; a.FixedVersion != "1.6.0.2-1" || a.Severity != "HIGH" {
		t.Errorf("prototypejs = %+v", a)
	}
}

func TestLists(t *testing.T) {
	r := NewReader(nil)
	for _, f := range []string{"DSA-list.head", "DLA-list.head"} {
		if err := r.AddBytes(f, mustRead(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	m := advisories(t, r)
	a := m["debian-dsa debian:11 xorg-server DSA-5380-1"]
	if a.FixedVersion != "2:1.20.11-1+deb11u6" || len(a.Aliases) != 1 || a.Aliases[0] != "CVE-2023-1393" || a.Published.Format("2006-01-02") != "2023-03-29" {
		t.Errorf("DSA-5380-1 = %+v", a)
	}
	if a := m["debian-dla debian:10 systemd DLA-3377-1"]; a.FixedVersion != "241-7~deb10u9" {
		t.Errorf("DLA-3377-1 = %+v", a)
	}
}

func TestSupport(t *testing.T) {
	r := NewReader(nil)
	for _, f := range []string{"security-support-ended.deb12", "security-support-limited"} {
		if err := r.AddBytes(f, mustRead(t, f)); err != nil {
			t.Fatal(err)
		}
	}
	m := advisories(t, r)
	a := m["debian-security-support debian:12 wpewebkit DEBIAN-EOL-wpewebkit"]
	if a.Status != vulndb.StatusEndOfLife || !strings.Contains(a.Title, "2023-05-09") || !strings.Contains(a.Title, "2.38.6-1") {
		t.Errorf("wpewebkit = %+v", a)
	}
	// The limited list has no release suffix: it belongs to the release after the newest .debN given.
	if a := m["debian-security-support debian:13 binutils DEBIAN-LIMITED-SUPPORT-binutils"]; a.Status != vulndb.StatusLimitedSupport {
		t.Errorf("binutils = %+v", a)
	}
}

func TestMalformed(t *testing.T) {
	w := &feed.Warnings{}
	r := NewReader(w)
	err := r.AddBytes("t.json", []byte(`{"p": {"CVE-1": {"releases": {"bookworm": {"status": "resolved"}}}, "CVE-2": {"releases": 5}, "CVE-3": {"releases": {"bookworm": {"status": "open", "urgency": "low"}}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(w.List) != 2 || !strings.Contains(w.List[0], "t.json") || !strings.Contains(w.List[0], "p CVE-1") {
		t.Errorf("warnings %q", w.List)
	}
	if err := r.AddBytes("DSA-list", []byte("garbage\n")); err == nil {
		t.Error("a list without entries: want an error")
	}
}

func FuzzTrackerJSON(f *testing.F) {
	f.Add(mustRead(f, "bookworm-slice.json"))
	f.Add(mustRead(f, "debian-vunnel.json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(nil)
		_ = r.AddTrackerJSON("fuzz", data)
		r.Batches()
	})
}

func FuzzList(f *testing.F) {
	f.Add(mustRead(f, "DSA-list.head"))
	f.Add(mustRead(f, "DLA-list.head"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(nil)
		_ = r.AddList("fuzz", data)
		r.Batches()
	})
}

func FuzzSupport(f *testing.F) {
	f.Add(mustRead(f, "security-support-ended.deb12"))
	f.Add(mustRead(f, "security-support-limited"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(nil)
		_ = r.AddSupport("security-support-ended.deb12", data)
		_ = r.AddSupport("security-support-limited", data)
		r.Batches()
	})
}
