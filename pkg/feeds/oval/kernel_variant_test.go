package oval_test

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/inventory"
)

// TestUbuntuKernelVariants: a real slice of the noble USN OVAL, USN-6864-3
// (GKE only) and USN-6864-1 (intel, gcp). Each variant branch is a uname test
// on the running kernel ("6.8.0-\d+(-gke)") ANDed with a test on the running
// kernel's version (GKE: less than "0:6.8.0-1005"); there is no dpkg test.
// The reader files each branch under its variant's kernel-image family
// ("linux-image-6.8.0-*-gke"), and the matcher looks an installed
// linux-image-<version>-<ABI>-<variant>, and the modules, extra modules and
// headers of that build (linux-modules-<version>-<ABI>-<variant>, ...), up
// under its family: the GKE advisory reaches the GKE kernel's packages below
// its fix and no other variant's.
func TestUbuntuKernelVariants(t *testing.T) {
	bs, db := readDB(t, "com.ubuntu.noble.usn.oval-kernel-slice.xml")
	var rows []string
	for _, b := range bs {
		for _, a := range b.Advisories {
			rows = append(rows, a.ID+" "+a.Namespace+" "+a.Package+" "+a.FixedVersion)
		}
	}
	sort.Strings(rows)
	want := []string{
		"USN-6864-1 ubuntu:24.04 linux-image-6.8.0-*-gcp 6.8.0-1009",
		"USN-6864-1 ubuntu:24.04 linux-image-6.8.0-*-intel 6.8.0-1006",
		"USN-6864-3 ubuntu:24.04 linux-image-6.8.0-*-gke 6.8.0-1005",
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}

	noble := inventory.Distro{ID: "ubuntu", VersionID: "24.04", Codename: "noble"}
	// Package names in Ubuntu's linux-image-<version>-<ABI>-<variant> scheme;
	// the versions are chosen each side of the branches' thresholds, not
	// taken from a real image.
	for _, c := range []struct {
		name, pkg, version, source string
		want                       []string
	}{
		{"gke kernel below the GKE fix", "linux-image-6.8.0-1003-gke", "6.8.0-1003.5", "linux-signed-gke", []string{"USN-6864-3 6.8.0-1005"}},
		{"gke kernel at the GKE fix's ABI", "linux-image-6.8.0-1005-gke", "6.8.0-1005.10", "linux-signed-gke", nil},
		{"gcp kernel: USN-6864-1's gcp branch, not the GKE one", "linux-image-6.8.0-1003-gcp", "6.8.0-1003.5", "linux-signed-gcp", []string{"USN-6864-1 6.8.0-1009"}},
		{"generic kernel: in neither", "linux-image-6.8.0-31-generic", "6.8.0-31.31", "linux-signed", nil},
		{"gke-like name of another release's kernel (6.5.0): not 6.8.0's family", "linux-image-6.5.0-1003-gke", "6.5.0-1003.3", "linux-signed-gke", nil},
		// The other packages of one kernel build: same source, same version.
		{"gke kernel's modules below the GKE fix", "linux-modules-6.8.0-1003-gke", "6.8.0-1003.5", "linux-gke", []string{"USN-6864-3 6.8.0-1005"}},
		{"gke kernel's extra modules below the GKE fix", "linux-modules-extra-6.8.0-1003-gke", "6.8.0-1003.5", "linux-gke", []string{"USN-6864-3 6.8.0-1005"}},
		{"gke kernel's headers below the GKE fix", "linux-headers-6.8.0-1003-gke", "6.8.0-1003.5", "linux-gke", []string{"USN-6864-3 6.8.0-1005"}},
		{"gke kernel's modules at the GKE fix's ABI", "linux-modules-6.8.0-1005-gke", "6.8.0-1005.10", "linux-gke", nil},
		{"generic kernel's modules: in neither", "linux-modules-6.8.0-31-generic", "6.8.0-31.31", "linux", nil},
		{"gcp kernel's modules: the gcp branch, not the GKE one", "linux-modules-6.8.0-1003-gcp", "6.8.0-1003.5", "linux-gcp", []string{"USN-6864-1 6.8.0-1009"}},
		{"headers shared by every 6.8.0-31 build name no variant", "linux-headers-6.8.0-31", "6.8.0-31.31", "linux", nil},
		{"nvidia modules (another source, other versions) are not the kernel's", "linux-modules-nvidia-550-6.8.0-1003-gke", "6.8.0-1003.5+1", "linux-restricted-modules-gke", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := &inventory.Inventory{Distro: &noble, Packages: []inventory.Package{{
				Name: c.pkg, Version: c.version, Ecosystem: inventory.Dpkg, Arch: "amd64",
				SourceName: c.source,
			}}}
			if diff := cmp.Diff(c.want, findings(t, db, inv)); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
		})
	}
}
