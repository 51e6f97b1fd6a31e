package match

import (
	"context"
	"fmt"
	"testing"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/vulndb"
)

// mapDB is memDB with an index, so the benchmark measures matching, not the fake's scan.
type mapDB struct {
	memDB
	idx map[string][]vulndb.Advisory
}

func (m *mapDB) Lookup(_ context.Context, ns, pkg string) ([]vulndb.Advisory, error) {
	return m.idx[ns+"|"+pkg], nil
}

// BenchmarkMatch: a realistic large image — 400 Debian packages (200 source
// packages, 6 advisories each in every state), 1,500 npm packages (3 OSV
// advisories each, two ranges) and a Go binary with 60 modules (4 advisories
// each, imports and symbols) — against an in-memory database.
func BenchmarkMatch(b *testing.B) {
	db := &mapDB{idx: map[string][]vulndb.Advisory{}}
	add := func(a vulndb.Advisory) { k := a.Namespace + "|" + a.Package; db.idx[k] = append(db.idx[k], a) }
	inv := &inventory.Inventory{Distro: &inventory.Distro{ID: "debian", VersionID: "12"}}
	for i := 0; i < 400; i++ {
		src := fmt.Sprintf("src%d", i/2)
		inv.Packages = append(inv.Packages, inventory.Package{Name: fmt.Sprintf("lib%d", i), Version: "1.2.3-4+deb12u1", SourceName: src, Ecosystem: "dpkg",
			Files: []string{fmt.Sprintf("/usr/lib/lib%d.so", i), fmt.Sprintf("/usr/share/doc/lib%d/copyright", i)}})
		if i%2 == 0 {
			for j, st := range []string{"fixed", "fixed", "fixed", "unfixed", "not-affected", "wont-fix"} {
				add(vulndb.Advisory{ID: fmt.Sprintf("CVE-2026-%d%d", i, j), Namespace: "debian:12", Package: src, Status: st, FixedVersion: fmt.Sprintf("1.2.%d-1", j+2)})
			}
		}
	}
	for i := 0; i < 1500; i++ {
		name := fmt.Sprintf("pkg-%d", i)
		inv.Packages = append(inv.Packages, inventory.Package{Name: name, Version: "4.17.15", Ecosystem: "npm", Locations: []string{"/app/node_modules/" + name + "/package.json"}})
		for j := 0; j < 3; j++ {
			add(vulndb.Advisory{ID: fmt.Sprintf("GHSA-%d-%d", i, j), Namespace: "npm", Package: name,
				Ranges: []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "3.0.0"}, {Type: "SEMVER", Introduced: "4.0.0", Fixed: fmt.Sprintf("4.17.%d", 14+j)}}})
		}
	}
	var syms inventory.Symbols
	for i := 0; i < 60; i++ {
		mod := fmt.Sprintf("example.com/mod%d", i)
		for s := 0; s < 50; s++ {
			syms.Add(mod+"/pkg", fmt.Sprintf("Func%d", s))
		}
		for j := 0; j < 4; j++ {
			add(vulndb.Advisory{ID: fmt.Sprintf("GO-2026-%d%d", i, j), Namespace: "Go", Package: mod,
				Ranges:  []vulndb.Range{{Type: "SEMVER", Introduced: "0", Fixed: "0.0.0-20230101000000-abcdefabcdef"}},
				Imports: []vulndb.GoImport{{Path: mod + "/pkg", Symbols: []string{fmt.Sprintf("Func%d", j*20), "Other"}}}})
		}
	}
	syms.Normalize()
	for i := 0; i < 60; i++ {
		inv.Packages = append(inv.Packages, inventory.Package{Name: fmt.Sprintf("example.com/mod%d", i), Version: "v0.0.0-20210226172049-e18ecbb05110",
			Ecosystem: "Go", GOOS: "linux", GOARCH: "amd64", SymbolsKnown: true, Symbols: syms, Locations: []string{"/usr/local/bin/app"}})
	}
	ctx := context.Background()
	var n int
	for b.Loop() {
		fs, err := Match(ctx, db, inv, Options{})
		if err != nil {
			b.Fatal(err)
		}
		n = len(fs)
	}
	b.ReportMetric(float64(len(inv.Packages)), "packages")
	b.ReportMetric(float64(n), "findings")
}
