package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func listFiles(t *testing.T, name string) []string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestMarkOwned(t *testing.T) {
	inv := &Inventory{Packages: []Package{
		{Name: "python3-urllib3", Version: "1.26.12-1+deb12u1", Ecosystem: Dpkg, Files: listFiles(t, "python3-urllib3.list")},
		{Name: "python3-yaml", Version: "6.0-3+b2", Ecosystem: Dpkg, Files: listFiles(t, "python3-yaml.list")},
		{Name: "urllib3", Version: "1.26.12", Ecosystem: PyPI, Locations: []string{"/usr/lib/python3/dist-packages/urllib3-1.26.12.egg-info/PKG-INFO"}},
		{Name: "PyYAML", Version: "6.0", Ecosystem: PyPI, Locations: []string{"/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA"}},
		// pip-installed: nobody owns it.
		{Name: "urllib3", Version: "1.26.5", Ecosystem: PyPI, Locations: []string{"/usr/local/lib/python3.11/dist-packages/urllib3-1.26.5.dist-info/METADATA"}},
		// merged /usr: the list says /usr/lib, the file is read at /lib.
		{Name: "PyYAML", Version: "6.0", Ecosystem: PyPI, Locations: []string{"/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA"}},
	}}
	inv.MarkOwned()
	want := []string{"", "", "dpkg:python3-urllib3", "dpkg:python3-yaml", "", "dpkg:python3-yaml"}
	for i, p := range inv.Packages {
		if p.OwnedBy != want[i] {
			t.Errorf("%s %s at %v: OwnedBy %q, want %q", p.Name, p.Version, p.Locations, p.OwnedBy, want[i])
		}
	}
	(*Inventory)(nil).MarkOwned() // no panic on nil
}
