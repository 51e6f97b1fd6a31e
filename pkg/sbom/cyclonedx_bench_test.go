package sbom

import (
	"fmt"
	"io"
	"testing"

	"github.com/wardensec/warden/pkg/inventory"
)

// benchInventory is a synthetic image of npkgs packages owning nfiles files in
// all, shaped like a Debian image: licences, a layer, a location, a source
// package and an architecture on every package.
func benchInventory(npkgs, nfiles int) (*inventory.Inventory, Image) {
	layers := []Layer{
		{DiffID: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{DiffID: "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
	}
	inv := &inventory.Inventory{
		Distro:   &inventory.Distro{ID: "debian", VersionID: "12", Codename: "bookworm", PrettyName: "Debian GNU/Linux 12 (bookworm)"},
		Packages: make([]inventory.Package, npkgs),
	}
	for i := range inv.Packages {
		name := fmt.Sprintf("lib-package-%04d", i)
		ver := fmt.Sprintf("1.%d.%d-1+deb12u1", i%17, i%5)
		files := make([]string, 0, nfiles/npkgs)
		for j := 0; j < nfiles/npkgs; j++ {
			files = append(files, fmt.Sprintf("/usr/lib/x86_64-linux-gnu/%s/module-%03d.so.%d", name, j, j%3))
		}
		inv.Packages[i] = inventory.Package{
			Name: name, Version: ver, Ecosystem: inventory.Dpkg, SourceName: name + "-src", Arch: "amd64",
			Licenses:  []string{"GPL-2.0-or-later", "LGPL-2.1"},
			PURL:      "pkg:deb/debian/" + name + "@" + ver + "?arch=amd64&distro=debian-12",
			Locations: []string{"/var/lib/dpkg/status"}, Layer: layers[i%2].DiffID,
			Files: files,
		}
	}
	img := Image{Name: "registry.example.com/team/big:1.0", Digest: "sha256:3333333333333333333333333333333333333333333333333333333333333333",
		Platform: "linux/amd64", Layers: layers}
	return inv, img
}

// BenchmarkWriteCycloneDX writes the CycloneDX document of 1,000 packages
// owning 100,000 files.
func BenchmarkWriteCycloneDX(b *testing.B) {
	inv, img := benchInventory(1000, 100_000)
	opt := Options{Time: fixedTime, ToolVersion: "bench"}
	var n countWriter
	if err := WriteCycloneDX(&n, inv, img, opt); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteCycloneDX(io.Discard, inv, img, opt); err != nil {
			b.Fatal(err)
		}
	}
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
