package amazon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testdb"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/vulndb"
)

func mustRead(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

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

func TestReadUpdateinfo(t *testing.T) {
	b := read(t, "al2-updateinfo.xml", "al2023-updateinfo.xml")
	if b.Records != 3 {
		t.Errorf("records %d, want 3", b.Records)
	}
	type row struct{ ID, NS, Pkg, Fixed, Sev, Aliases string }
	got := map[string]row{}
	for _, a := range b.Advisories {
		got[a.Namespace+" "+a.Package] = row{a.ID, a.Namespace, a.Package, a.FixedVersion, a.Severity + "/" + a.SeveritySource, strings.Join(a.Aliases, " ")}
	}
	for _, w := range []row{
		{"ALAS2-2018-942", "amzn:2", "qemu-kvm", "10:1.5.3-141.amzn2.5.3", "HIGH/amazon-alas", "CVE-2017-5715"},
		{"ALAS2-2018-949", "amzn:2", "java-1.8.0-openjdk", "1:1.8.0.161-0.b14.amzn2", "HIGH/amazon-alas", ""},
		{"ALAS2023-2023-001", "amzn:2023", "rsyslog", "8.2204.0-3.amzn2023.0.2", "HIGH/amazon-alas", "CVE-2014-3634 CVE-2022-24903"},
	} {
		g := got[w.NS+" "+w.Pkg]
		if w.Aliases == "" { // ALAS2-2018-949 lists many CVEs: only check that there are some
			w.Aliases = g.Aliases
			if g.Aliases == "" {
				t.Errorf("%s: no CVE aliases", w.ID)
			}
		}
		if d := cmp.Diff(w, g); d != "" {
			t.Errorf("%s %s (-want +got):\n%s", w.NS, w.Pkg, d)
		}
	}
}

func TestMalformed(t *testing.T) {
	r := NewReader(nil)
	if err := r.AddBytes("x.json", []byte(`{"not": "xml"}`)); err == nil {
		t.Error("JSON accepted as updateinfo")
	}
	if err := r.AddBytes("oval.xml", []byte(`<oval_definitions></oval_definitions>`)); err == nil {
		t.Error("another XML document accepted as updateinfo")
	}
	bad := `<updates>
<update type="security"><id>ALAS2023-2099-001</id><pkglist><collection short="amazon-linux-2023"><package name="foo" epoch="0" arch="x86_64"/></collection></pkglist></update>
<update type="security"><id>ALAS2023-2099-002</id><severity>Low</severity><pkglist><collection short="amazon-linux-2023"><package name="bar" version="1.0" release="1.amzn2023" epoch="0" arch="x86_64"/></collection></pkglist></update>
<update type="enhancement"><id>ALAS2023-2099-003</id></update>
</updates>`
	if err := r.AddBytes("updateinfo.xml", []byte(bad)); err != nil {
		t.Fatal(err)
	}
	if len(r.Warn.List) != 1 || !strings.Contains(r.Warn.List[0], "updateinfo.xml") || !strings.Contains(r.Warn.List[0], "ALAS2023-2099-001") {
		t.Errorf("warnings %q: want one naming the file and ALAS2023-2099-001", r.Warn.List)
	}
	b := r.Batches()[0]
	if b.Records != 2 || b.Skipped != 1 || len(b.Advisories) != 1 || b.Advisories[0].Package != "bar" || b.Advisories[0].Severity != "LOW" {
		t.Errorf("batch: records %d skipped %d advisories %+v", b.Records, b.Skipped, b.Advisories)
	}
}

// TestMatchAmazon: the RPM matcher finds an ALAS advisory for a package below
// its fixed EVR in an Amazon Linux 2023 image, and not at the fixed EVR.
func TestMatchAmazon(t *testing.T) {
	ctx := context.Background()
	db := testdb.Open(t, read(t, "al2-updateinfo.xml", "al2023-updateinfo.xml"))
	inv := &inventory.Inventory{
		Distro: &inventory.Distro{ID: "amzn", VersionID: "2023"},
		Packages: []inventory.Package{
			{Name: "rsyslog", Version: "8.2204.0-2.amzn2023.0.1", Ecosystem: inventory.Rpm},         // below the fix
			{Name: "rsyslog-openssl", Version: "8.2204.0-3.amzn2023.0.2", Ecosystem: inventory.Rpm}, // at the fix
			{Name: "qemu-kvm", Version: "1.5.3-1", Epoch: 10, Ecosystem: inventory.Rpm},             // an AL2 advisory: another release
		},
	}
	fs, err := match.Match(ctx, db, inv, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		got = append(got, f.Advisory.ID+" "+f.Package.Name+" fixed "+f.Advisory.FixedVersion+" "+f.Advisory.Severity)
	}
	want := []string{"ALAS2023-2023-001 rsyslog fixed 8.2204.0-3.amzn2023.0.2 HIGH"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("findings (-want +got):\n%s", d)
	}
}

func FuzzAddBytes(f *testing.F) {
	f.Add(mustRead(f, "al2-updateinfo.xml"))
	f.Add(mustRead(f, "al2023-updateinfo.xml"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(nil)
		_ = r.AddBytes("fuzz", data)
		for _, b := range r.Batches() {
			for _, a := range b.Advisories {
				if a.ID == "" || a.Package == "" || a.Namespace == "" || a.FixedVersion == "" {
					t.Fatalf("incomplete advisory %+v", a)
				}
			}
		}
	})
}
