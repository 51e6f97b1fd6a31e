package oval_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testrpmdb"
	"github.com/wardensec/warden/pkg/feeds/oval"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/vulndb"
)

// TestOpenSUSELeap: a slice of SUSE's real openSUSE Leap 15.3 OVAL (two zlib
// definitions, CVE-2018-25032 fixed in 1.2.11-150000.3.30.1 and CVE-2022-37434
// fixed in 1.2.11-150000.3.33.1). Leap's criteria AND "openSUSE Leap 15.3 is
// installed" with, per package, "<name>-<evr> is installed" and "<name> is
// signed with openSUSE key" (a signature_keyid test, no version): the rows go
// to opensuse-leap:15.3, the signature tests give no row of their own, and a
// libz1 at each real build, installed in an rpm database built with rpm and
// read back by the rpm extractor, gets exactly the fixes above it.
func TestOpenSUSELeap(t *testing.T) {
	bs, db := readDB(t, "opensuse.leap.15.3-slice.xml")
	if len(bs) != 1 || bs[0].Source != oval.SourceSUSE || bs[0].Records != 2 || bs[0].Skipped != 0 {
		t.Fatalf("batches: %+v", bs)
	}
	rows := map[string]vulndb.Advisory{}
	for _, a := range bs[0].Advisories {
		k := a.ID + " " + a.Namespace + " " + a.Package
		if _, dup := rows[k]; dup {
			t.Errorf("%s twice", k)
		}
		rows[k] = a
		if a.Namespace != "opensuse-leap:15.3" {
			t.Errorf("row outside opensuse-leap:15.3: %+v", a)
		}
		if a.FixedVersion == "" || a.Status != vulndb.StatusFixed {
			t.Errorf("%s: status %s fixed %q (a signature test read as a package?)", k, a.Status, a.FixedVersion)
		}
	}
	for k, want := range map[string]string{
		"CVE-2018-25032 opensuse-leap:15.3 libz1":         "1.2.11-150000.3.30.1",
		"CVE-2018-25032 opensuse-leap:15.3 zlib-devel":    "1.2.11-150000.3.30.1",
		"CVE-2022-37434 opensuse-leap:15.3 libz1":         "1.2.11-150000.3.33.1",
		"CVE-2022-37434 opensuse-leap:15.3 libz1-32bit":   "1.2.11-150000.3.33.1",
		"CVE-2022-37434 opensuse-leap:15.3 minizip-devel": "1.2.11-150000.3.33.1",
	} {
		if got := strings.TrimPrefix(rows[k].FixedVersion, "0:"); got != want {
			t.Errorf("%s: fixed %q, want %q", k, rows[k].FixedVersion, want)
		}
	}

	// libz1 (of source zlib) at one build, in an rpm database built with rpm.
	libz := func(release string) []testrpmdb.Pkg {
		return []testrpmdb.Pkg{{Name: "libz1", Version: "1.2.11", Release: release, Source: "zlib"}}
	}
	leap := inventory.Distro{ID: "opensuse-leap", VersionID: "15.3"}
	for _, c := range []struct {
		name   string
		distro inventory.Distro
		pkgs   []testrpmdb.Pkg
		want   []string
	}{
		// 1.2.11-3.21.1 and 150000.3.30.1 are real Leap 15.3 builds (the
		// fixes of CVE-2016-9843 and CVE-2018-25032 in the same file).
		{"Leap 15.3 libz1 before both fixes", leap, libz("3.21.1"), []string{"CVE-2018-25032 1.2.11-150000.3.30.1", "CVE-2022-37434 1.2.11-150000.3.33.1"}},
		{"Leap 15.3 libz1 at the CVE-2018-25032 fix", leap, libz("150000.3.30.1"), []string{"CVE-2022-37434 1.2.11-150000.3.33.1"}},
		{"Leap 15.3 libz1 at the CVE-2022-37434 fix", leap, libz("150000.3.33.1"), nil},
		{"SLES 15 SP3 is not Leap", inventory.Distro{ID: "sles", VersionID: "15.3"}, libz("3.21.1"), nil},
		{"Leap 15.4 is another release", inventory.Distro{ID: "opensuse-leap", VersionID: "15.4"}, libz("3.21.1"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			pkgs := testrpmdb.Build(t, c.pkgs)
			if len(pkgs) != 1 || pkgs[0].Name != "libz1" || pkgs[0].SourceName != "zlib" {
				t.Fatalf("rpmdb: %+v", pkgs)
			}
			inv := &inventory.Inventory{Distro: &c.distro, Packages: pkgs}
			got := findings(t, db, inv)
			for i := range got {
				got[i] = strings.Replace(got[i], " 0:", " ", 1)
			}
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
