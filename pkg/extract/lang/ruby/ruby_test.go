package ruby

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

func summary(pkgs []inventory.Package) []string {
	var out []string
	for _, p := range pkgs {
		s := p.Name + "@" + p.Version + " " + p.PURL + " " + strings.Join(p.Licenses, ",")
		if p.Ecosystem != inventory.RubyGems {
			s += " bad ecosystem"
		}
		out = append(out, s)
	}
	return out
}

func TestExtract(t *testing.T) {
	const spec = "usr/local/bundle/specifications/"
	for _, tc := range []struct {
		file, path string
		want       []string
	}{
		{"rack-flash3-1.0.5.gemspec", spec + "rack-flash3-1.0.5.gemspec", []string{"rack-flash3@1.0.5 pkg:gem/rack-flash3@1.0.5 "}},
		{"rubycritic-4.9.2.gemspec", "usr/lib/ruby/gems/3.3.0/specifications/default/rubycritic-4.9.2.gemspec", []string{"rubycritic@4.9.2 pkg:gem/rubycritic@4.9.2 MIT"}},
		{"Gemfile.lock", "app/Gemfile.lock", []string{
			"actionpack@7.1.0.alpha pkg:gem/actionpack@7.1.0.alpha ",
			"mini_portile2@2.8.0 pkg:gem/mini_portile2@2.8.0 ",
			"nokogiri@1.13.10 pkg:gem/nokogiri@1.13.10 ",
			"racc@1.6.1 pkg:gem/racc@1.6.1 ",
			"rack@2.2.4 pkg:gem/rack@2.2.4 ",
		}},
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
			t.Fatalf("%s: %v", tc.file, err)
		}
		if d := cmp.Diff(tc.want, summary(pkgs)); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.file, d)
		}
	}
	if New().Required("app/foo.gemspec", 0o644, 10) {
		t.Error("a project's own gemspec (not under specifications/) is required")
	}
}

func TestBadInput(t *testing.T) {
	for path, s := range map[string]string{
		"a/specifications/x.gemspec": "Gem::Specification.new do |s|\nend\n",
		"a/Gemfile.lock":             "GEM\n  specs:\n    rack 2.2.4\n",
		"b/Gemfile.lock":             "   \n",
	} {
		if _, err := run(t, path, []byte(s)); err == nil || !strings.Contains(err.Error(), "/"+path) {
			t.Errorf("%s: error %v", path, err)
		}
	}
}

func FuzzGemfileLock(f *testing.F) {
	b, _ := os.ReadFile("testdata/Gemfile.lock")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = run(t, "a/Gemfile.lock", b) })
}

func FuzzGemspec(f *testing.F) {
	for _, n := range []string{"rack-flash3-1.0.5.gemspec", "rubycritic-4.9.2.gemspec"} {
		b, _ := os.ReadFile(filepath.Join("testdata", n))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = run(t, "a/specifications/x.gemspec", b) })
}
