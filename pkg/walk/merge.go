package walk

import (
	"sort"
	"strings"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/os/distro"
	"github.com/wardensec/warden/pkg/inventory"
)

type finalFile struct {
	layer string
	fr    *fileResult
}

// merge applies the layers in order (whiteouts and opaque directories of a
// layer hide what lower layers had; a path present in a layer replaces the
// lower layers' results for it) and builds the inventory of the final view.
func merge(layers []*layerResult, opt *Options) *inventory.Inventory {
	view := map[string]finalFile{}
	removeUnder := func(dir string, self bool) {
		if dir == "" { // the root: everything
			clear(view)
			return
		}
		prefix := dir + "/"
		for p := range view {
			if (self && p == dir) || strings.HasPrefix(p, prefix) {
				delete(view, p)
			}
		}
	}
	for _, l := range layers {
		for _, d := range l.Opaque {
			removeUnder(d, false)
		}
		for _, w := range l.Whiteouts {
			removeUnder(w, true)
		}
		for p, fr := range l.Files {
			view[p] = finalFile{layer: l.DiffID, fr: fr}
		}
	}

	paths := make([]string, 0, len(view))
	for p := range view {
		paths = append(paths, p)
	}
	sort.Strings(paths)

	files := map[string][]byte{}
	present := map[string]bool{}
	n := 0 // packages before Merge
	for _, p := range paths {
		f := view[p]
		for _, pkgs := range f.fr.Results {
			n += len(pkgs)
		}
	}
	inv := &inventory.Inventory{Packages: make([]inventory.Package, 0, n)}
	for _, p := range paths {
		f := view[p]
		present[p] = true
		if f.fr.Distro != nil {
			files[p] = f.fr.Distro
		}
		for _, w := range f.fr.Warnings {
			inv.Warnings = append(inv.Warnings, "layer "+f.layer+" /"+p+": "+w)
		}
	}
	inv.Distro = distro.Detect(files, present)

	for _, e := range opt.Extractors {
		// Each extractor's packages are gathered at the end of
		// inv.Packages, sized above, then merged in place.
		start := len(inv.Packages)
		for _, p := range paths {
			f := view[p]
			for _, pkg := range f.fr.Results[e.Name()] {
				pkg.Layer = f.layer
				if len(pkg.Locations) == 0 {
					pkg.Locations = []string{"/" + p}
				}
				inv.Packages = append(inv.Packages, pkg)
			}
		}
		pkgs := inv.Packages[start:len(inv.Packages):len(inv.Packages)]
		if m, ok := e.(extract.Merger); ok && len(pkgs) > 0 {
			pkgs = m.Merge(pkgs)
		}
		for i := range pkgs {
			switch pkgs[i].Ecosystem {
			case inventory.Apk, inventory.Dpkg, inventory.Rpm:
				pkgs[i].PURL = distro.PURL(&pkgs[i], inv.Distro)
			}
		}
		inv.Packages = append(inv.Packages[:start], pkgs...)
	}
	return inv
}
