package match

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/vulndb"
)

// lookupOnly hides a database's RowReader methods: Match then looks up
// whole advisories, as with any Reader.
type lookupOnly struct{ vulndb.Reader }

// TestRowsThenComplete holds the lazy path to the whole one on a database
// imported from real feeds (advisories with and without NVD scores, distro
// severities, aliases): for every package of every namespace, LookupRows
// then Complete is what Lookup returns; and Match gives the same findings
// through either.
func TestRowsThenComplete(t *testing.T) {
	c := testutil.Corpus(t)
	ctx := context.Background()
	db := importDB(t,
		filepath.Join(c, "feeds", "alpine-secdb", "v3.19"),
		filepath.Join(c, "feeds", "go-vulndb-osv"),
		filepath.Join(c, "feeds", "nvd-api2"),
		filepath.Join(c, "feeds", "almalinux-osv"),
		filepath.Join(c, "feeds", "ubuntu-oval", "com.ubuntu.noble.usn.oval.xml"),
		filepath.Join("..", "feeds", "debian", "testdata", "bookworm-slice.json"))
	nss, err := db.Namespaces()
	if err != nil {
		t.Fatal(err)
	}
	n, withBody := 0, 0
	for _, ns := range nss {
		pkgs, err := db.Packages(ns)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkgs {
			whole, err := db.Lookup(ctx, ns, p)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := db.LookupRows(ctx, ns, p)
			if err != nil {
				t.Fatal(err)
			}
			ptrs := make([]*vulndb.Advisory, len(rows))
			for i := range rows {
				ptrs[i] = &rows[i]
				if len(rows[i].Aliases)+len(rows[i].CVSS)+len(rows[i].URLs) > 0 || rows[i].Description != "" {
					t.Fatalf("%s %s: LookupRows gave %s with its body", ns, p, rows[i].ID)
				}
			}
			if err := db.Complete(ctx, ptrs); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(whole, rows); d != "" {
				t.Fatalf("%s %s: LookupRows + Complete differs from Lookup (-Lookup +rows):\n%s", ns, p, d)
			}
			for _, a := range whole {
				n++
				if len(a.Aliases)+len(a.CVSS) > 0 {
					withBody++
				}
			}
		}
	}
	if n < 1000 || withBody < 1000 {
		t.Fatalf("%d advisory rows, %d with aliases or scores: the feeds did not import", n, withBody)
	}

	inv := &inventory.Inventory{
		Distro: &inventory.Distro{ID: "debian", VersionID: "12"},
		Packages: []inventory.Package{
			{Name: "stdlib", Version: "1.20.0", Ecosystem: inventory.Go},
			{Name: "golang.org/x/net", Version: "v0.0.0-20210226172049-e18ecbb05110", Ecosystem: inventory.Go},
			{Name: "gopkg.in/yaml.v2", Version: "v2.2.2", Ecosystem: inventory.Go},
		},
	}
	deb, err := db.Packages("debian:12")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range deb {
		inv.Packages = append(inv.Packages, inventory.Package{Name: p, Version: "0.1-1", Ecosystem: inventory.Dpkg})
	}
	lazy, err := Match(ctx, db, inv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	eager, err := Match(ctx, lookupOnly{db}, inv, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(lazy) < 20 {
		t.Fatalf("%d findings: the inventory matched too little to compare", len(lazy))
	}
	if d := cmp.Diff(eager, lazy); d != "" {
		t.Errorf("Match with lazy bodies differs (-whole +lazy):\n%s", d)
	}
	t.Logf("%d advisory rows compared, %d findings", n, len(lazy))
}
