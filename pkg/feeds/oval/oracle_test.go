package oval_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testrpmdb"
	"github.com/wardensec/warden/pkg/extract/os/distro"
	"github.com/wardensec/warden/pkg/feeds/oval"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
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

// TestOracleLinux9: ELSA-2024-1828 (java-21-openjdk), a real ELSA for Oracle
// Linux 8 and 9 in one definition: an "Oracle Linux 8 is installed" branch
// with el8 fixes and an "Oracle Linux 9 is installed" branch with el9 fixes.
// Each branch's rows go to its own release. An Oracle Linux 9 image (the
// real os-release of oraclelinux:9, 9.3) whose rpm database is built with
// rpm is told the el9 fix below it and nothing at it; an Oracle Linux 8
// image at the el8 fix is not judged by the (higher) el9 build.
func TestOracleLinux9(t *testing.T) {
	bs, db := readDB(t, "com.oracle.elsa-20241828-vuls.xml")
	if len(bs) != 1 || bs[0].Source != oval.SourceOracle || bs[0].Records != 1 || bs[0].Skipped != 0 {
		t.Fatalf("batches: %+v", bs)
	}
	perNS := map[string]int{}
	for _, a := range bs[0].Advisories {
		perNS[a.Namespace]++
		want := map[string]string{"ol:8": "1:21.0.3.0.9-1.0.1.el8", "ol:9": "1:21.0.3.0.9-1.0.1.el9"}[a.Namespace]
		if a.ID != "ELSA-2024-1828" || a.FixedVersion != want || a.Severity != "MEDIUM" {
			t.Errorf("row %s %s %s fixed %s severity %s", a.ID, a.Namespace, a.Package, a.FixedVersion, a.Severity)
		}
	}
	// 23 packages in each release's branch (the aarch64 and x86_64 branches
	// name the same tests).
	if diff := cmp.Diff(map[string]int{"ol:8": 23, "ol:9": 23}, perNS); diff != "" {
		t.Errorf("rows per namespace (-want +got):\n%s", diff)
	}

	osRelease, err := os.ReadFile(filepath.Join("testdata", "oraclelinux-9.3.os-release"))
	if err != nil {
		t.Fatal(err)
	}
	ol9 := distro.Detect(map[string][]byte{distro.EtcOSRelease: osRelease}, nil)
	if ol9 == nil || match.Namespace(ol9) != "ol:9" {
		t.Fatalf("oraclelinux:9 os-release: %+v", ol9)
	}
	// Oracle Linux 8 from its ID and VERSION_ID only (no real os-release in testdata).
	ol8 := &inventory.Distro{ID: "ol", VersionID: "8.9"}
	java := func(release string) []testrpmdb.Pkg {
		return []testrpmdb.Pkg{
			{Name: "java-21-openjdk", Epoch: "1", Version: "21.0.3.0.9", Release: release, Source: "java-21-openjdk"},
			{Name: "java-21-openjdk-headless", Epoch: "1", Version: "21.0.3.0.9", Release: release, Source: "java-21-openjdk"},
		}
	}
	older := func(release string) []testrpmdb.Pkg {
		ps := java(release)
		for i := range ps {
			ps[i].Version = "21.0.2.0.13"
		}
		return ps
	}
	for _, c := range []struct {
		name   string
		distro *inventory.Distro
		pkgs   []testrpmdb.Pkg
		want   []string
	}{
		// 21.0.2.0.13-2 is the release before the fix in the record's changelog.
		{"ol9 below the fix: the el9 fix", ol9, older("2.el9"), []string{
			"java-21-openjdk ELSA-2024-1828 1:21.0.3.0.9-1.0.1.el9",
			"java-21-openjdk-headless ELSA-2024-1828 1:21.0.3.0.9-1.0.1.el9",
		}},
		{"ol9 at the fix: nothing", ol9, java("1.0.1.el9"), nil},
		{"ol8 below the fix: the el8 fix", ol8, older("2.el8"), []string{
			"java-21-openjdk ELSA-2024-1828 1:21.0.3.0.9-1.0.1.el8",
			"java-21-openjdk-headless ELSA-2024-1828 1:21.0.3.0.9-1.0.1.el8",
		}},
		{"ol8 at the el8 fix: nothing (the el9 build is not its fix)", ol8, java("1.0.1.el8"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := &inventory.Inventory{Distro: c.distro, Packages: testrpmdb.Build(t, c.pkgs)}
			fs, err := match.Match(context.Background(), db, inv, match.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range fs {
				got = append(got, f.Package.Name+" "+f.Advisory.ID+" "+f.FixedVersion)
			}
			sort.Strings(got)
			if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
