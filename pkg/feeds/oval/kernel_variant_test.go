package oval_test

import (
	"testing"

	"github.com/wardensec/warden/pkg/inventory"
)

// TestUbuntuKernelVariantsNotRead pins what the reader does with Ubuntu's
// kernel USNs today, on a real slice of the noble USN OVAL: USN-6864-3 (GKE
// only) and USN-6864-1 (intel, gcp). Each variant branch is a uname test
// ("6.8.0-\d+(-gke)" against the running kernel) ANDed with a variable test
// on the running kernel's version (GKE: less than "0:6.8.0-1005"); there is no
// dpkg test. Both tests are neutral, so the definitions give no row: a
// GKE-only advisory does not reach a gcp or generic kernel package, but it
// does not reach the GKE kernel it is about either. When variants are read,
// the first case must flip and the others must stay empty.
func TestUbuntuKernelVariantsNotRead(t *testing.T) {
	bs, db := readDB(t, "com.ubuntu.noble.usn.oval-kernel-slice.xml")
	for _, b := range bs {
		for _, a := range b.Advisories {
			t.Errorf("a row from a kernel definition (the variant would be lost): %+v", a)
		}
	}
	noble := inventory.Distro{ID: "ubuntu", VersionID: "24.04", Codename: "noble"}
	for _, c := range []struct{ name, pkg, version, source string }{
		// Package names in Ubuntu's linux-image-<ABI>-<variant> scheme; the
		// versions are chosen below each branch's threshold, not taken from
		// a real image.
		{"gke kernel older than the GKE fix (missed: variants are not read)", "linux-image-6.8.0-1003-gke", "6.8.0-1003.5", "linux-signed-gke"},
		{"generic kernel: not in USN-6864-3", "linux-image-6.8.0-31-generic", "6.8.0-31.31", "linux-signed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := &inventory.Inventory{Distro: &noble, Packages: []inventory.Package{{
				Name: c.pkg, Version: c.version, Ecosystem: inventory.Dpkg, Arch: "amd64",
				SourceName: c.source,
			}}}
			if got := findings(t, db, inv); len(got) != 0 {
				t.Errorf("findings %q", got)
			}
		})
	}
}
