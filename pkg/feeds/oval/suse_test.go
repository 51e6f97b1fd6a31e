package oval_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/feeds/oval"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/vulndb"
)

// TestSUSE: SUSE's OVAL (vunnel's cut of the SLES 15 file) files one
// definition per CVE for every product and service pack; the criteria name
// each branch's product ("SUSE Linux Enterprise Server 15 SP1-LTSS is
// installed") beside its packages. Each row is filed under the release its
// branch names (sles:15, sles:15.1, ...), so a 15 SP1 image is judged by the
// SP1 build of the fix, not by the 15 GA one; "is not affected" branches give
// no row. vunnel's cut has a <state> wrapper where OVAL says <states>, so the
// fixed builds come from the criteria's comments
// ("kernel-default-4.12.14-150.72.1 is installed").
func TestSUSE(t *testing.T) {
	bs, db := readDB(t, "suse-vunnel.oval.xml")
	if len(bs) != 1 || bs[0].Source != oval.SourceSUSE || bs[0].Records != 4 || bs[0].Skipped != 0 {
		t.Fatalf("batches: %+v", bs)
	}
	rows := map[string]vulndb.Advisory{}
	for _, a := range bs[0].Advisories {
		rows[a.ID+" "+a.Namespace+" "+a.Package] = a
		if a.ID == "CVE-1999-0524" || a.ID == "CVE-2026-34073" {
			t.Errorf("a not-affected definition gave a row: %+v", a)
		}
	}
	for k, want := range map[string]string{
		"CVE-2021-29154 sles:15 kernel-default":         "4.12.14-150.72.1",
		"CVE-2021-29154 sles:15.1 kernel-default":       "4.12.14-197.89.2",
		"CVE-2021-29154 sles:15.2 kernel-default-extra": "5.3.18-24.61.1",
		"CVE-2021-29154 sles:15.3 kernel-default-extra": "5.3.18-59.5.2",
		"CVE-2010-1323 sles:15 krb5":                    "1.15.2-4.25",
	} {
		if got := rows[k].FixedVersion; got != want {
			t.Errorf("%s: fixed %q, want %q", k, got, want)
		}
	}
	if a := rows["CVE-2010-1323 sles:15 krb5"]; a.Severity != "MEDIUM" || !cmp.Equal(a.Aliases, []string(nil)) {
		t.Errorf("krb5 row: severity %q aliases %q", a.Severity, a.Aliases)
	}
	if len(rows) != len(bs[0].Advisories) {
		t.Errorf("%d rows for %d advisories: a (CVE, release, package) twice", len(rows), len(bs[0].Advisories))
	}

	kernel := func(version string) inventory.Package {
		return inventory.Package{Name: "kernel-default", Version: version, Ecosystem: inventory.Rpm, Arch: "x86_64"}
	}
	for _, c := range []struct {
		name   string
		distro inventory.Distro
		pkg    inventory.Package
		want   []string
	}{
		{"SLES 15 SP1 below its fix", inventory.Distro{ID: "sles", VersionID: "15.1"}, kernel("4.12.14-197.86.1"), []string{"CVE-2021-29154 4.12.14-197.89.2"}},
		{"SLES 15 SP1 at its fix", inventory.Distro{ID: "sles", VersionID: "15.1"}, kernel("4.12.14-197.89.2"), nil},
		// The GA row's fix (150.72.1) sorts below every SP1 build: flattened
		// across releases, an unfixed SP1 kernel would pass.
		{"SLES 15 GA below its fix", inventory.Distro{ID: "sles", VersionID: "15"}, kernel("4.12.14-150.69.1"), []string{"CVE-2021-29154 4.12.14-150.72.1"}},
		{"SLES 15 SP2 has no kernel-default row here", inventory.Distro{ID: "sles", VersionID: "15.2"}, kernel("5.3.18-24.52.1"), nil},
		{"openSUSE Leap is not SLES", inventory.Distro{ID: "opensuse-leap", VersionID: "15.1"}, kernel("4.12.14-197.86.1"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := &inventory.Inventory{Distro: &c.distro, Packages: []inventory.Package{c.pkg}}
			if diff := cmp.Diff(c.want, findings(t, db, inv)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
	for id, ns := range map[string]string{"sles": "sles:15.5", "sled": "sles:15.5", "opensuse-leap": "opensuse-leap:15.5"} {
		if got := match.Namespace(&inventory.Distro{ID: id, VersionID: "15.5"}); got != ns {
			t.Errorf("Namespace(%s 15.5) = %q, want %q", id, got, ns)
		}
	}
}
