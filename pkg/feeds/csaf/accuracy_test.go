package csaf_test

import (
	"context"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testrpmdb"
	"github.com/wardensec/warden/pkg/extract/os/distro"
	"github.com/wardensec/warden/pkg/feeds"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/vulndb"
)

// pkgSpec is one rpm to build: name, epoch, version, release, source rpm
// name (its spec's Name), and the module stream it was built for.
type pkgSpec struct {
	name, epoch, version, release, source, modularity string
}

// rpmdb builds the packages into a real rpm database and reads it back with
// Warden's rpm extractor (testrpmdb).
func rpmdb(t *testing.T, pkgs []pkgSpec) []inventory.Package {
	t.Helper()
	var ps []testrpmdb.Pkg
	for _, p := range pkgs {
		ps = append(ps, testrpmdb.Pkg{Name: p.name, Epoch: p.epoch, Version: p.version, Release: p.release, Source: p.source, Modularity: p.modularity})
	}
	return testrpmdb.Build(t, ps)
}

// TestAccuracy: RHEL images whose rpm databases are built with rpm, at
// versions from the real CSAF VEX records, get exactly what the records say:
// per module stream, per product stream (content sets), and the "not
// affected" / "out of support scope" states reported as such, never as
// fixable.
func TestAccuracy(t *testing.T) {
	ctx := context.Background()
	dbPath := filepath.Join(t.TempDir(), "db")
	var specs []string
	for _, f := range []string{"cve-2024-9143.json", "cve-2023-46809-trimmed.json", "cve-2005-2541.json", "repository-to-cpe.json"} {
		specs = append(specs, filepath.Join("testdata", f))
	}
	res, err := feeds.Import(ctx, dbPath, specs, feeds.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) > 0 {
		t.Errorf("import warnings: %q", res.Warnings)
	}
	db, err := vulndb.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	const (
		label18 = "nodejs:18:8080020230315143437:63b34585"
		label20 = "nodejs:20:8090020240228165436:a75119d5"
	)
	type want struct{ pkg, id, status, fixed string }
	for _, c := range []struct {
		name        string
		distro      inventory.Distro
		manifest    string // a content manifest's JSON, as RHEL images carry it
		pkgs        []pkgSpec
		want        []want
		flatWouldBe []want // what flattening (no module / product streams) reports instead, where it differs
	}{
		{
			name:   "rhel 8 nodejs:18 older than the fix: the nodejs:18 fix of the main stream",
			distro: inventory.Distro{ID: "rhel", VersionID: "8.9"},
			pkgs: []pkgSpec{
				{"nodejs", "1", "18.14.2", "3.module+el8.8.0+18297+1b2fb6b7", "nodejs", label18},
				{"npm", "1", "9.5.0", "1.18.14.2.3.module+el8.8.0+18297+1b2fb6b7", "nodejs", label18},
				{"openssl-libs", "1", "1.1.1k", "12.el8_9", "openssl", ""},
			},
			want: []want{
				{"nodejs", "CVE-2023-46809", vulndb.StatusFixed, "1:18.19.1-1.module+el8.9.0+21387+21356dec"},
				// npm's own row first (its own EVR), as the feed lists npm itself.
				{"npm", "CVE-2023-46809", vulndb.StatusFixed, "1:10.2.4-1.18.19.1.1.module+el8.9.0+21387+21356dec"},
			},
		},
		{
			name:   "rhel 8 nodejs:20 at its fix: nothing (not the nodejs:16 stream's unfixed row, not nodejs:18's)",
			distro: inventory.Distro{ID: "rhel", VersionID: "8.9"},
			pkgs: []pkgSpec{
				{"nodejs", "1", "20.11.1", "1.module+el8.9.0+21380+12032667", "nodejs", label20},
			},
			want:        nil,
			flatWouldBe: []want{{"nodejs", "CVE-2023-46809", vulndb.StatusUnfixed, ""}},
		},
		{
			name:   "rhel 8 nodejs:18 at its fix: nothing (nodejs:20's higher fix does not apply)",
			distro: inventory.Distro{ID: "rhel", VersionID: "8.9"},
			pkgs: []pkgSpec{
				{"nodejs", "1", "18.19.1", "1.module+el8.9.0+21387+21356dec", "nodejs", label18},
			},
			want: nil,
		},
		{
			name:     "rhel 8.8 EUS image (content sets) at the EUS fix: nothing",
			distro:   inventory.Distro{ID: "rhel", VersionID: "8.8"},
			manifest: `{"metadata": {"icm_version": 1, "image_layer_index": 0}, "content_sets": ["rhel-8-for-x86_64-appstream-eus-rpms__8_DOT_8"]}`,
			pkgs: []pkgSpec{
				{"nodejs", "1", "18.19.1", "1.module+el8.8.0+21592+14a8b93e", "nodejs", label18},
			},
			want: nil,
		},
		{
			name:   "the same rpm without content sets is judged by the main stream",
			distro: inventory.Distro{ID: "rhel", VersionID: "8.8"},
			pkgs: []pkgSpec{
				{"nodejs", "1", "18.19.1", "1.module+el8.8.0+21592+14a8b93e", "nodejs", label18},
			},
			want: []want{{"nodejs", "CVE-2023-46809", vulndb.StatusFixed, "1:18.19.1-1.module+el8.9.0+21387+21356dec"}},
		},
		{
			name:     "rhel 8.8 EUS image older than the EUS fix: the EUS fix",
			distro:   inventory.Distro{ID: "rhel", VersionID: "8.8"},
			manifest: `{"content_sets": ["rhel-8-for-x86_64-appstream-eus-rpms__8_DOT_8"]}`,
			pkgs: []pkgSpec{
				{"nodejs", "1", "18.14.2", "3.module+el8.8.0+18297+1b2fb6b7", "nodejs", label18},
			},
			want: []want{{"nodejs", "CVE-2023-46809", vulndb.StatusFixed, "1:18.19.1-1.module+el8.8.0+21592+14a8b93e"}},
		},
		{
			name:   "rhel 9 non-modular nodejs: affected, no fix; openssl not affected",
			distro: inventory.Distro{ID: "rhel", VersionID: "9.4"},
			pkgs: []pkgSpec{
				{"nodejs", "1", "16.20.2", "4.el9", "nodejs", ""},
				{"openssl-libs", "1", "3.0.7", "27.el9", "openssl", ""},
				{"shim-x64", "", "15.8", "3.el9", "shim", ""},
			},
			want: []want{
				{"nodejs", "CVE-2023-46809", vulndb.StatusUnfixed, ""},
				{"shim-x64", "CVE-2024-9143", vulndb.StatusUnfixed, ""},
			},
		},
		{
			name:   "rhel 6 openssl: out of support scope, reported as end-of-life, no fix",
			distro: inventory.Distro{ID: "rhel", VersionID: "6.10"},
			pkgs: []pkgSpec{
				{"openssl", "", "1.0.1e", "58.el6_10", "openssl", ""},
			},
			want: []want{{"openssl", "CVE-2024-9143", vulndb.StatusEndOfLife, ""}},
		},
		{
			// CVE-2005-2541: known_affected with no_fix_planned "Will not fix"
			// for RHEL 6-9; tar 2:1.34-6.el9_1 is RHEL 9's build.
			name:   "rhel 9 tar: will not fix, reported as will-not-fix with no fixed version",
			distro: inventory.Distro{ID: "rhel", VersionID: "9.4"},
			pkgs: []pkgSpec{
				{"tar", "2", "1.34", "6.el9_1", "tar", ""},
			},
			want: []want{{"tar", "CVE-2005-2541", vulndb.StatusWontFix, ""}},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := c.distro
			if c.manifest != "" {
				// Detect reads the manifest as the walk hands it over.
				files := map[string][]byte{
					"etc/os-release": []byte("NAME=\"Red Hat Enterprise Linux\"\nID=\"rhel\"\nVERSION_ID=\"" + d.VersionID + "\"\n"),
					distro.ContentManifests + "ubi8-container-8.8.json": []byte(c.manifest),
				}
				for p := range files {
					if !distro.Required(p) {
						t.Fatalf("%s not Required", p)
					}
				}
				got := distro.Detect(files, nil)
				if got == nil || len(got.ContentSets) == 0 {
					t.Fatalf("content sets not detected: %+v", got)
				}
				d = *got
			}
			inv := &inventory.Inventory{Distro: &d, Packages: rpmdb(t, c.pkgs)}
			fs, err := match.Match(ctx, db, inv, match.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var got []want
			for _, f := range fs {
				got = append(got, want{f.Package.Name, f.Advisory.ID, f.Status, f.FixedVersion})
				if f.Advisory.Status == vulndb.StatusNotAffected {
					t.Errorf("a not-affected row reported: %+v", f)
				}
			}
			sort.Slice(got, func(i, j int) bool { return got[i].pkg+got[i].id < got[j].pkg+got[j].id })
			if diff := cmp.Diff(c.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("findings (-want +got):\n%s", diff)
			}
			// The other side: the same rows without module and product streams.
			if c.flatWouldBe != nil {
				flat := flattened(t, db, inv)
				for _, w := range c.flatWouldBe {
					found := false
					for _, f := range flat {
						if f.Package.Name == w.pkg && f.Advisory.ID == w.id && f.Status == w.status {
							found = true
						}
					}
					if !found {
						t.Errorf("flattened matching does not give %+v (the test shows nothing): %v", w, flat)
					}
				}
			}
		})
	}
}

// flatDB hides the module stream and product CPEs of every row: what a
// matcher that flattens the feed would see. It embeds the Reader interface,
// not *vulndb.DB, so that Match sees no RowReader and goes through its
// Lookup.
type flatDB struct{ vulndb.Reader }

func (f flatDB) Lookup(ctx context.Context, ns, pkg string) ([]vulndb.Advisory, error) {
	advs, err := f.Reader.Lookup(ctx, ns, pkg)
	for i := range advs {
		advs[i].Module, advs[i].CPEs = "", nil
	}
	return advs, err
}

func flattened(t *testing.T, db *vulndb.DB, inv *inventory.Inventory) []match.Finding {
	t.Helper()
	fs, err := match.Match(context.Background(), flatDB{db}, inv, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return fs
}
