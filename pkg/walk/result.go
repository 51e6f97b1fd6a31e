package walk

import (
	"fmt"
	"maps"
	"slices"

	"github.com/wardensec/warden/internal/wire"
	"github.com/wardensec/warden/pkg/inventory"
)

// layerResult is what one layer contributes; it is what the cache stores.
type layerResult struct {
	DiffID    string                 // not encoded (it is the key)
	Files     map[string]*fileResult // path (no leading slash) → what was found there
	Whiteouts []string               // paths deleted by .wh.<name>
	Opaque    []string               // directories made opaque by .wh..wh..opq
}

// fileResult records one path of a layer that matters: a file an extractor
// read (Results, possibly empty), a distro file (Distro), or an entry that
// replaces such a path (neither).
type fileResult struct {
	Results  map[string][]inventory.Package // extractor name → packages
	Distro   []byte
	Warnings []string
}

// The cached form is internal/wire's binary encoding, read back without
// reflection: a warm scan of a large image decodes ~13 MB of results (119k
// file names, Go symbols), which took encoding/gob ~30 ms. Maps are written
// in sorted key order (equal results encode equally). The value is copied
// once into a string and every string is cut out of it. An empty slice or
// map decodes as nil (as gob did). FormatVersion comes first, and is part
// of the cache key.

func encodeResult(r *layerResult) ([]byte, error) {
	e := &wire.Encoder{B: make([]byte, 0, 64<<10)}
	e.Uint(FormatVersion)
	paths := slices.Sorted(maps.Keys(r.Files))
	e.Uint(uint64(len(paths)))
	for _, p := range paths {
		f := r.Files[p]
		if f == nil {
			f = &fileResult{}
		}
		e.Str(p)
		names := slices.Sorted(maps.Keys(f.Results))
		e.Uint(uint64(len(names)))
		for _, n := range names {
			e.Str(n)
			pkgs := f.Results[n]
			e.Uint(uint64(len(pkgs)))
			for i := range pkgs {
				encodePkg(e, &pkgs[i])
			}
		}
		e.Bool(f.Distro != nil)
		e.Bytes(f.Distro)
		e.Strs(f.Warnings)
	}
	e.Strs(r.Whiteouts)
	e.Strs(r.Opaque)
	return e.B, nil
}

// encodePkg writes every field of inventory.Package, in declaration order
// (TestResultCodecCoversPackage fails when a field is added and not here).
func encodePkg(e *wire.Encoder, p *inventory.Package) {
	e.Str(p.Name)
	e.Str(p.Version)
	e.Str(p.Ecosystem)
	e.Str(p.SourceName)
	e.Str(p.SourceVersion)
	e.Int(int64(p.Epoch))
	e.Str(p.Arch)
	e.Strs(p.Licenses)
	e.Str(p.PURL)
	e.Strs(p.Locations)
	e.Strs(p.Files)
	e.Str(p.Layer)
	e.Str(p.OwnedBy)
	e.Str(p.GOOS)
	e.Str(p.GOARCH)
	e.U64s(p.Symbols.Funcs)
	e.U64s(p.Symbols.Pkgs)
	e.Bool(p.SymbolsKnown)
	keys := slices.Sorted(maps.Keys(p.Meta))
	e.Uint(uint64(len(keys)))
	for _, k := range keys {
		e.Str(k)
		e.Str(p.Meta[k])
	}
}

func decodeResult(b []byte) (*layerResult, error) {
	d := wire.NewStringDecoder(string(b)) // one copy: b is only valid during the cache's View
	if format := d.Uint(); d.Err == nil && format != FormatVersion {
		return nil, fmt.Errorf("layer result has format %d, want %d", format, FormatVersion)
	}
	n := d.Count()
	r := &layerResult{Files: make(map[string]*fileResult, n)}
	for range n {
		p := d.Str()
		f := &fileResult{}
		if k := d.Count(); k > 0 {
			f.Results = make(map[string][]inventory.Package, k)
			for range k {
				name := d.Str()
				var pkgs []inventory.Package
				if m := d.Count(); m > 0 {
					pkgs = make([]inventory.Package, m)
					for i := range pkgs {
						decodePkg(d, &pkgs[i])
					}
				}
				f.Results[name] = pkgs
			}
		}
		hasDistro := d.Bool()
		if distro := d.Bytes(); hasDistro {
			f.Distro = distro
		}
		f.Warnings = d.Strs()
		if d.Err != nil {
			break
		}
		r.Files[p] = f
	}
	r.Whiteouts = d.Strs()
	r.Opaque = d.Strs()
	if err := d.End(); err != nil {
		return nil, fmt.Errorf("decoding layer result: %w", err)
	}
	return r, nil
}

func decodePkg(d *wire.Decoder, p *inventory.Package) {
	p.Name = d.Str()
	p.Version = d.Str()
	p.Ecosystem = d.Str()
	p.SourceName = d.Str()
	p.SourceVersion = d.Str()
	p.Epoch = int(d.Int())
	p.Arch = d.Str()
	p.Licenses = d.Strs()
	p.PURL = d.Str()
	p.Locations = d.Strs()
	p.Files = d.Strs()
	p.Layer = d.Str()
	p.OwnedBy = d.Str()
	p.GOOS = d.Str()
	p.GOARCH = d.Str()
	p.Symbols.Funcs = d.U64s()
	p.Symbols.Pkgs = d.U64s()
	p.SymbolsKnown = d.Bool()
	if n := d.Count(); n > 0 {
		p.Meta = make(map[string]string, n)
		for range n {
			k := d.Str()
			p.Meta[k] = d.Str()
		}
	}
}
