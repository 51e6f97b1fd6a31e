package match

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/feeds"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/vulndb"
)

// importDB imports srcs (feed files or folders) into a new database, opened
// until the test ends.
func importDB(t *testing.T, srcs ...string) *vulndb.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	if _, err := feeds.Import(context.Background(), path, srcs, feeds.Options{}); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// TestMatchRealDB matches hand-made RHEL-family and Ubuntu inventories against
// a real database imported from the corpus feeds (AlmaLinux OSV slice, Rocky
// 9 OVAL, Ubuntu 24.04 OVAL), so the namespaces, package keys and version
// strings are the ones the feed readers really store.
func TestMatchRealDB(t *testing.T) {
	c := testutil.Corpus(t)
	ctx := context.Background()
	db := importDB(t,
		filepath.Join(c, "feeds", "almalinux-osv"),
		filepath.Join(c, "feeds", "rocky-oval"),
		filepath.Join(c, "feeds", "ubuntu-oval", "com.ubuntu.noble.usn.oval.xml"))

	for _, tt := range []struct {
		name    string
		distro  inventory.Distro
		pkg     inventory.Package
		want    []string // advisory ids that must be reported
		notWant []string
	}{
		{
			// ALSA-2026:5599 nginx fixed in 2:1.20.1-24.el9_7.1.alma.1 (epoch 2).
			name:   "almalinux epoch in Version",
			distro: inventory.Distro{ID: "almalinux", VersionID: "9.7"},
			pkg:    inventory.Package{Name: "nginx", Version: "2:1.20.1-24.el9_7", Epoch: 2, Ecosystem: "rpm"},
			want:   []string{"ALSA-2026:5599"},
		},
		{
			name:   "almalinux epoch only in the Epoch field",
			distro: inventory.Distro{ID: "almalinux", VersionID: "9.7"},
			pkg:    inventory.Package{Name: "nginx", Version: "1.20.1-24.el9_7", Epoch: 2, Ecosystem: "rpm"},
			want:   []string{"ALSA-2026:5599"},
		},
		{
			// Without the epoch, 1.20.1-25 would sort below 2:1.20.1-24... and be a false positive.
			name:    "almalinux newer than the fix",
			distro:  inventory.Distro{ID: "almalinux", VersionID: "9.7"},
			pkg:     inventory.Package{Name: "nginx", Version: "1.20.1-25.el9_8", Epoch: 2, Ecosystem: "rpm"},
			notWant: []string{"ALSA-2026:5599"}, // ALSA-2026:7343 (a later fix) still applies
		},
		{
			name:    "almalinux 8 data does not judge an almalinux 9 image",
			distro:  inventory.Distro{ID: "almalinux", VersionID: "8.10"},
			pkg:     inventory.Package{Name: "nginx", Version: "1:1.14.1-9.module_el8.0.0+184+e34fea82", Epoch: 1, Ecosystem: "rpm"},
			notWant: []string{"ALSA-2026:5599"},
		},
		{
			// Rocky 9 OVAL: RLSA-2022:7288 openssl fixed in 1:3.0.1-47.el9_1, by binary name and by source RPM.
			name:   "rocky by binary name",
			distro: inventory.Distro{ID: "rocky", VersionID: "9.0"},
			pkg:    inventory.Package{Name: "openssl-libs", Version: "1:3.0.1-43.el9_0", Epoch: 1, SourceName: "openssl", Ecosystem: "rpm"},
			want:   []string{"RLSA-2022:7288", "RLSA-2023:0946"},
		},
		{
			name:   "rocky by source rpm",
			distro: inventory.Distro{ID: "rocky", VersionID: "9.0"},
			pkg:    inventory.Package{Name: "openssl-something-new", Version: "1:3.0.1-43.el9_0", Epoch: 1, SourceName: "openssl", Ecosystem: "rpm"},
			want:   []string{"RLSA-2022:7288"},
		},
		{
			// Ubuntu 24.04 OVAL: USN-6937-1 openssl fixed in 3.0.13-0ubuntu3.2.
			name:    "ubuntu by source package",
			distro:  inventory.Distro{ID: "ubuntu", VersionID: "24.04"},
			pkg:     inventory.Package{Name: "libssl3t64", Version: "3.0.13-0ubuntu3.1", SourceName: "openssl", Ecosystem: "dpkg"},
			want:    []string{"USN-6937-1"},
			notWant: []string{"USN-6663-3"}, // fixed in 3.0.13-0ubuntu3.1: the installed version
		},
		{
			// USN OVAL names binaries: USN-6815-1 lists libaom3 (source aom), fixed in 3.8.2-2ubuntu0.1;
			// a lookup by the source name alone finds nothing.
			name:   "ubuntu by binary package",
			distro: inventory.Distro{ID: "ubuntu", VersionID: "24.04"},
			pkg:    inventory.Package{Name: "libaom3", Version: "3.8.2-2", SourceName: "aom", Ecosystem: "dpkg"},
			want:   []string{"USN-6815-1"},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs, err := Match(ctx, db, &inventory.Inventory{Distro: &tt.distro, Packages: []inventory.Package{tt.pkg}}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			s := SchemeFor(tt.pkg.Ecosystem)
			inst := tt.pkg.Version
			if tt.pkg.Ecosystem == "dpkg" {
				inst = tt.pkg.SourceVer()
			} else if tt.pkg.Epoch > 0 && !strings.Contains(inst, ":") {
				inst = strconv.Itoa(tt.pkg.Epoch) + ":" + inst
			}
			for _, f := range fs {
				ids = append(ids, f.Advisory.ID)
				if f.FixedVersion == "" {
					continue
				}
				if c, err := s.Compare(inst, f.FixedVersion); err != nil || c >= 0 {
					t.Errorf("%s: installed %s is not below the fix %s (%v)", f.Advisory.ID, inst, f.FixedVersion, err)
				}
			}
			for _, w := range tt.want {
				if !slices.Contains(ids, w) {
					t.Errorf("%s not reported (got %v)", w, ids)
				}
			}
			for _, w := range tt.notWant {
				if slices.Contains(ids, w) {
					t.Errorf("%s reported", w)
				}
			}
		})
	}
}
