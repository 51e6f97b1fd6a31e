package composer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/inventory"
)

func run(t testing.TB, path string, b []byte) ([]inventory.Package, error) {
	in := &extract.Input{Path: path, Mode: 0o644, Size: int64(len(b)), Reader: bytes.NewReader(b), Warn: func(string) {}}
	return New().Extract(context.Background(), in)
}

func TestExtract(t *testing.T) {
	for _, tc := range []struct {
		file, path string
		want       []string
	}{
		{"installed-v2.json", "var/www/vendor/composer/installed.json", []string{
			"guzzlehttp/guzzle@7.4.0 pkg:composer/guzzlehttp/guzzle@7.4.0 MIT",
			"symfony/console@5.4.0 pkg:composer/symfony/console@5.4.0 MIT",
			"phpunit/phpunit@9.5.10 pkg:composer/phpunit/phpunit@9.5.10 BSD-3-Clause dev"}},
		{"installed-v1.json", "app/vendor/composer/installed.json", []string{"monolog/monolog@1.25.1 pkg:composer/monolog/monolog@1.25.1 MIT"}},
		{"composer.lock", "app/composer.lock", []string{
			"guzzlehttp/guzzle@7.4.0 pkg:composer/guzzlehttp/guzzle@7.4.0 MIT",
			"phpunit/phpunit@9.5.10 pkg:composer/phpunit/phpunit@9.5.10 BSD-3-Clause dev"}},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if !New().Required(tc.path, 0o644, int64(len(b))) {
			t.Errorf("Required(%q) = false", tc.path)
		}
		pkgs, err := run(t, tc.path, b)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range pkgs {
			s := p.Name + "@" + p.Version + " " + p.PURL + " " + strings.Join(p.Licenses, ",")
			if p.Meta["dev"] == "true" {
				s += " dev"
			}
			if p.Ecosystem != inventory.Composer || p.Locations[0] != "/"+tc.path {
				t.Errorf("%s: %q %v", p.Name, p.Ecosystem, p.Locations)
			}
			got = append(got, s)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.file, d)
		}
	}
	if New().Required("app/vendor/foo/bar/composer.lock", 0o644, 10) {
		t.Error("a lockfile inside vendor/ is required")
	}
}

func TestBadInput(t *testing.T) {
	for _, s := range []string{"{\"packages\": [", "[1, 2", "not json"} {
		if _, err := run(t, "a/vendor/composer/installed.json", []byte(s)); err == nil || !strings.Contains(err.Error(), "/a/vendor/composer/installed.json") {
			t.Errorf("%q: error %v", s, err)
		}
	}
}

func FuzzComposer(f *testing.F) {
	for _, n := range []string{"installed-v2.json", "installed-v1.json", "composer.lock"} {
		b, _ := os.ReadFile(filepath.Join("testdata", n))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = run(t, "a/composer.lock", b) })
}
