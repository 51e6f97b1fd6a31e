package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/walk"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestLangInventoryGolden walks one image holding the language extractors'
// test data at the paths where images have them (plus the Debian package
// database, for ownership) and compares the language packages with
// testdata/lang-inventory.golden.json (-update rewrites it).
func TestLangInventoryGolden(t *testing.T) {
	corpus := testutil.Corpus(t)
	lang := filepath.Join(testutil.RepoRoot(t), "pkg", "extract", "lang")
	read := func(rel string) []byte {
		b, err := os.ReadFile(filepath.Join(lang, rel))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	f := func(p, rel string) testimage.File { return testimage.File{Path: p, Content: read(rel)} }
	layer := testimage.Layer(t,
		f("srv/web/package-lock.json", "npm/testdata/corpus/package-lock.json"),
		f("srv/web/node_modules/lodash/package.json", "npm/testdata/corpus/node_modules/lodash/package.json"),
		f("srv/web/node_modules/minimist/package.json", "npm/testdata/corpus/node_modules/minimist/package.json"),
		f("srv/yarn1/yarn.lock", "npm/testdata/yarn-v1/yarn.lock"),
		f("srv/berry/yarn.lock", "npm/testdata/yarn-berry/yarn.lock"),
		f("srv/pnpm/pnpm-lock.yaml", "npm/testdata/pnpm-v9/pnpm-lock.yaml"),
		f("usr/local/lib/python3.11/site-packages/PyYAML-6.0.dist-info/METADATA", "python/testdata/PyYAML-METADATA"),
		f("usr/local/lib/python3.11/site-packages/six-1.16.0.egg-info", "python/testdata/six-PKG-INFO"),
		f("usr/share/java/commons-cli-1.5.0.jar", "java/testdata/commons-cli-1.5.0.jar"),
		f("src/rg/Cargo.lock", "cargo/testdata/Cargo.lock"),
		f("usr/local/bundle/specifications/rack-flash3-1.0.5.gemspec", "ruby/testdata/rack-flash3-1.0.5.gemspec"),
		f("app/Gemfile.lock", "ruby/testdata/Gemfile.lock"),
		f("var/www/vendor/composer/installed.json", "composer/testdata/installed-v2.json"),
		f("app/dotnet/app.deps.json", "dotnet/testdata/app.deps.json"),
	)
	debian := testimage.LayerFromTarGz(t, filepath.Join(corpus, "images", "debian-bookworm-minbase-pkgdb.tar.gz"))
	img := testimage.Image(t, testimage.DefaultConfig(), debian, layer)
	inv, err := walk.Inventory(context.Background(), img, walk.Options{Extractors: all.Extractors()})
	if err != nil {
		t.Fatal(err)
	}
	inv.MarkOwned()
	var got []inventory.Package
	for _, p := range inv.Packages {
		switch p.Ecosystem {
		case inventory.Apk, inventory.Dpkg, inventory.Rpm:
			continue
		}
		p.Layer = "" // digests change with the test data
		got = append(got, p)
	}
	sort.SliceStable(got, func(i, j int) bool { return got[i].Key() < got[j].Key() })
	for _, w := range inv.Warnings {
		t.Errorf("warning: %s", w)
	}
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, '\n')
	golden := filepath.Join("testdata", "lang-inventory.golden.json")
	if *update {
		if err := os.WriteFile(golden, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(want, b) {
		t.Errorf("language inventory differs from %s (-want +got):\n%s", golden, cmp.Diff(string(want), string(b)))
	}
}
