package python

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

func run(t testing.TB, path string, data []byte) ([]inventory.Package, error) {
	in := &extract.Input{Path: path, Mode: 0o644, Size: int64(len(data)), Reader: bytes.NewReader(data), Warn: func(string) {}}
	return New().Extract(context.Background(), in)
}

func TestExtract(t *testing.T) {
	const sp = "usr/lib/python3/dist-packages/"
	for _, tc := range []struct {
		file, path string
		want       inventory.Package
	}{
		{"urllib3-PKG-INFO", sp + "urllib3-1.26.12.egg-info/PKG-INFO", inventory.Package{Name: "urllib3", Version: "1.26.12", PURL: "pkg:pypi/urllib3@1.26.12", Licenses: []string{"MIT"}}},
		{"PyYAML-METADATA", sp + "PyYAML-6.0.dist-info/METADATA", inventory.Package{Name: "PyYAML", Version: "6.0", PURL: "pkg:pypi/pyyaml@6.0", Licenses: []string{"MIT"}}},
		{"six-PKG-INFO", "usr/local/lib/python3.11/site-packages/six-1.16.0.egg-info", inventory.Package{Name: "six", Version: "1.16.0", PURL: "pkg:pypi/six@1.16.0", Licenses: []string{"MIT"}}},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		if !New().Required(tc.path, 0o644, int64(len(b))) {
			t.Errorf("Required(%q) = false", tc.path)
		}
		got, err := run(t, tc.path, b)
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		tc.want.Ecosystem = inventory.PyPI
		tc.want.Locations = []string{"/" + tc.path}
		if d := cmp.Diff([]inventory.Package{tc.want}, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.file, d)
		}
	}
}

func TestRequired(t *testing.T) {
	for path, want := range map[string]bool{
		"usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA": true,
		"usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/RECORD":   false,
		"usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO":  true,
		"opt/x/lib/foo-1.0-py3.11.egg/EGG-INFO/PKG-INFO":              true,
		"usr/lib/python3/dist-packages/six-1.16.0.egg-info":           true,
		"usr/lib/python3/dist-packages/six.py":                        false,
		"app/METADATA":                                                false,
	} {
		if got := New().Required(path, 0o644, 100); got != want {
			t.Errorf("Required(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{"PyYAML": "pyyaml", "charset_normalizer": "charset-normalizer", "zope.interface": "zope-interface", "A__b-.c": "a-b-c"} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBadInput(t *testing.T) {
	for name, data := range map[string]string{
		"no headers":  "",
		"binary":      "\x00\x01\x02garbage",
		"no version":  "Metadata-Version: 2.1\nName: x\n\nbody",
		"not headers": "this is not metadata\nat all",
	} {
		path := "site-packages/x-1.dist-info/METADATA"
		_, err := run(t, path, []byte(data))
		if err == nil || !strings.Contains(err.Error(), "/"+path) {
			t.Errorf("%s: error %v, want one naming the file", name, err)
		}
	}
}

func FuzzMetadata(f *testing.F) {
	for _, file := range []string{"PyYAML-METADATA", "six-PKG-INFO"} {
		b, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = run(t, "a/x.dist-info/METADATA", b) })
}
