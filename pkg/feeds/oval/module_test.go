package oval_test

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/wardensec/warden/internal/testdb"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/feeds/oval"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/vulndb"
)

// TestModuleStreams: Red Hat's OVAL binds each postgresql fix to its module
// stream ("Module postgresql:12 is enabled" AND "postgresql is earlier than
// ..."). Evaluated, a postgresql:12 build gets the postgresql:12 advisory
// and its fix; flattened (every package test alone), it would be sent to the
// postgresql:13 build, and a fixed postgresql:13 build would be flagged by the
// postgresql:15 advisory.
func TestModuleStreams(t *testing.T) {
	_, db := readDB(t, "rhel-8-vunnel.oval.xml")

	pg := func(version, label string) inventory.Package {
		return inventory.Package{Name: "postgresql", Version: version, Ecosystem: inventory.Rpm, Arch: "x86_64",
			Meta: map[string]string{"modularitylabel": label}}
	}
	for _, c := range []struct {
		name      string
		pkg       inventory.Package
		want      []string // advisory id and fixed version
		flattened []string
	}{
		{
			name: "postgresql:12 older than its fix",
			pkg:  pg("12.15-1.module+el8.8.0+18857+fca43658", "postgresql:12:8080020230412145002:c27ad7f8"),
			want: []string{"RHSA-2023:7714 12.17-1.module+el8.9.0+20789+410e66ce"},
			// The three advisories share their CVEs, so Match reports one
			// finding: flattened, it tells a postgresql:12 user to install
			// the postgresql:13 build.
			flattened: []string{"RHSA-2023:7581 13.13-1.module+el8.9.0+20664+9c30cf7f"},
		},
		{
			name:      "postgresql:13 at its fix",
			pkg:       pg("13.13-1.module+el8.9.0+20664+9c30cf7f", "postgresql:13:8090020231114113548:a75119d5"),
			want:      nil,
			flattened: []string{"RHSA-2023:7884 15.5-1.module+el8.9.0+20663+03952ce4"},
		},
		{
			name: "postgresql:15 older than its fix",
			pkg:  pg("15.2-1.module+el8.8.0+18361+6ba4b9f4", "postgresql:15:8080020230330153516:c27ad7f8"),
			want: []string{"RHSA-2023:7884 15.5-1.module+el8.9.0+20663+03952ce4"},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := &inventory.Inventory{Distro: &inventory.Distro{ID: "rhel", VersionID: "8.9"}, Packages: []inventory.Package{c.pkg}}
			if diff := cmp.Diff(c.want, findings(t, db, inv)); diff != "" {
				t.Errorf("evaluated (-want +got):\n%s", diff)
			}
			if c.flattened != nil {
				if diff := cmp.Diff(c.flattened, findings(t, flatDB{db}, inv)); diff != "" {
					t.Errorf("flattened (-want +got):\n%s", diff)
				}
			}
		})
	}
}

func findings(t *testing.T, db vulndb.Reader, inv *inventory.Inventory) []string {
	t.Helper()
	fs, err := match.Match(context.Background(), db, inv, match.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range fs {
		out = append(out, f.Advisory.ID+" "+f.FixedVersion)
	}
	sort.Strings(out)
	return out
}

// flatDB drops the module streams of the rows: the flattened reading. It
// embeds the Reader interface, not *vulndb.DB, so that Match sees no
// RowReader and goes through its Lookup.
type flatDB struct{ vulndb.Reader }

func (f flatDB) Lookup(ctx context.Context, ns, pkg string) ([]vulndb.Advisory, error) {
	advs, err := f.Reader.Lookup(ctx, ns, pkg)
	for i := range advs {
		advs[i].Module = ""
	}
	return advs, err
}

// readDB reads a testdata OVAL file (no warnings expected) and imports what
// it gives into a fresh database.
func readDB(t *testing.T, file string) ([]*vulndb.Batch, *vulndb.DB) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	r := oval.NewReader(nil)
	if err := r.AddBytes(file, data); err != nil {
		t.Fatal(err)
	}
	if len(r.Warn.List) > 0 {
		t.Errorf("%s: warnings: %q", file, r.Warn.List)
	}
	bs := r.Batches()
	db := testdb.Open(t, bs...)
	return bs, db
}
