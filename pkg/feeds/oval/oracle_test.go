package oval_test

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/feeds/oval"
	"github.com/wardensec/warden/pkg/inventory"
)

// TestOracle: Oracle's ELSA OVAL (as cut by vunnel: its tests, objects and
// states are partly emptied, so most atoms come from the criteria's
// comments) gives one row per package and release, and an Oracle Linux
// inventory (os-release ID "ol") is matched against it: below the fix it is
// told the ELSA and its fixed build, at the fix it gets nothing, and an
// Oracle Linux 6 package is not judged by Oracle Linux 5's advisory.
func TestOracle(t *testing.T) {
	bs, db := readDB(t, "oracle-elsa-vunnel.oval.xml")
	if len(bs) != 1 || bs[0].Source != oval.SourceOracle || bs[0].Records != 2 {
		t.Fatalf("batches: %+v", bs)
	}
	var rows []string
	for _, a := range bs[0].Advisories {
		rows = append(rows, a.ID+" "+a.Namespace+" "+a.Package+" "+a.FixedVersion+" "+a.Severity)
	}
	sort.Strings(rows)
	want := []string{
		"ELSA-2007-0057 ol:5 bind 30:9.3.3-8.el5 MEDIUM",
		"ELSA-2007-0057 ol:5 bind-chroot 30:9.3.3-8.el5 MEDIUM",
		"ELSA-2007-0057 ol:5 bind-devel 30:9.3.3-8.el5 MEDIUM",
		"ELSA-2007-0057 ol:5 bind-libbind-devel 30:9.3.3-8.el5 MEDIUM",
		"ELSA-2007-0057 ol:5 bind-libs 30:9.3.3-8.el5 MEDIUM",
		"ELSA-2007-0057 ol:5 bind-sdb 30:9.3.3-8.el5 MEDIUM",
		"ELSA-2007-0057 ol:5 bind-utils 30:9.3.3-8.el5 MEDIUM",
		"ELSA-2007-0057 ol:5 caching-nameserver 30:9.3.3-8.el5 MEDIUM",
		"ELSA-2018-4250 ol:6 kernel-uek 2.6.39-400.302.2.el6uek HIGH",
		"ELSA-2018-4250 ol:6 kernel-uek-debug 2.6.39-400.302.2.el6uek HIGH",
		"ELSA-2018-4250 ol:6 kernel-uek-debug-devel 2.6.39-400.302.2.el6uek HIGH",
		"ELSA-2018-4250 ol:6 kernel-uek-devel 2.6.39-400.302.2.el6uek HIGH",
		"ELSA-2018-4250 ol:6 kernel-uek-doc 2.6.39-400.302.2.el6uek HIGH",
		"ELSA-2018-4250 ol:6 kernel-uek-firmware 2.6.39-400.302.2.el6uek HIGH",
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}

	rpm := func(name, version string) inventory.Package {
		return inventory.Package{Name: name, Version: version, Ecosystem: inventory.Rpm, Arch: "x86_64"}
	}
	for _, c := range []struct {
		name    string
		release string
		pkg     inventory.Package
		want    []string
	}{
		{"bind below the fix", "5.11", rpm("bind", "30:9.3.3-7.el5"), []string{"ELSA-2007-0057 30:9.3.3-8.el5"}},
		{"bind at the fix", "5.11", rpm("bind", "30:9.3.3-8.el5"), nil},
		{"bind on Oracle Linux 6 is not judged by the OL5 ELSA", "6.10", rpm("bind", "30:9.3.3-7.el5"), nil},
		{"kernel-uek below the fix", "6.10", rpm("kernel-uek", "2.6.39-400.298.1.el6uek"), []string{"ELSA-2018-4250 2.6.39-400.302.2.el6uek"}},
		{"kernel-uek at the fix", "6.10", rpm("kernel-uek", "2.6.39-400.302.2.el6uek"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := &inventory.Inventory{Distro: &inventory.Distro{ID: "ol", VersionID: c.release}, Packages: []inventory.Package{c.pkg}}
			if diff := cmp.Diff(c.want, findings(t, db, inv)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
