package walk

import (
	"encoding/binary"
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

	// Read from the cache with Options.OwnerFilesOnly: the packages whose
	// Files are still to be read (readFiles), in the trailer's order, and
	// the cache key.
	filesOf []*inventory.Package
	key     string
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
// in sorted key order (equal results encode equally). An empty slice or map
// decodes as nil (as gob did).
//
// FormatVersion comes first (it is also part of the cache key), then the
// length of the main part, the main part (everything but the packages'
// Files), then the trailer: every package's Files, in the order the main
// part has the packages. The file lists are half of an image's results (a
// Debian base owns ~120k files) and a scan only joins a few paths against
// them (Options.OwnerFilesOnly): it reads the trailer in place, in a second
// pass, and copies out only those paths. Each part is copied once into a
// string and every string is cut out of it (the value is only valid during
// the cache's View).

func encodeResult(r *layerResult) ([]byte, error) {
	e := &wire.Encoder{B: make([]byte, 0, 64<<10)}
	files := &wire.Encoder{B: make([]byte, 0, 64<<10)}
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
				files.Strs(pkgs[i].Files)
			}
		}
		e.Bool(f.Distro != nil)
		e.Bytes(f.Distro)
		e.Strs(f.Warnings)
	}
	e.Strs(r.Whiteouts)
	e.Strs(r.Opaque)
	out := &wire.Encoder{B: make([]byte, 0, 2*binary.MaxVarintLen64+len(e.B)+len(files.B))}
	out.Uint(FormatVersion)
	out.Uint(uint64(len(e.B)))
	out.B = append(append(out.B, e.B...), files.B...)
	return out.B, nil
}

// encodePkg writes every field of inventory.Package but Files (the
// trailer's), in declaration order (TestResultCodecCoversPackage fails when
// a field is added and not here).
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
	e.Str(p.Layer)
	e.Str(p.OwnedBy)
	e.Str(p.GOOS)
	e.Str(p.GOARCH)
	e.Strs(p.Symbols)
	e.Bool(p.SymbolsKnown)
	keys := slices.Sorted(maps.Keys(p.Meta))
	e.Uint(uint64(len(keys)))
	for _, k := range keys {
		e.Str(k)
		e.Str(p.Meta[k])
	}
}

// parts splits a cached value into its main part and its trailer.
func parts(b []byte) (main, trailer []byte, err error) {
	d := wire.NewDecoder(b)
	if format := d.Uint(); d.Err == nil && format != FormatVersion {
		return nil, nil, fmt.Errorf("layer result has format %d, want %d", format, FormatVersion)
	}
	n := d.Uint()
	if d.Err == nil && n > uint64(d.Left()) {
		return nil, nil, fmt.Errorf("decoding layer result: %w: main part of %d bytes, %d left", wire.ErrCorrupt, n, d.Left())
	}
	if d.Err != nil {
		return nil, nil, fmt.Errorf("decoding layer result: %w", d.Err)
	}
	start := len(b) - d.Left()
	return b[start : start+int(n)], b[start+int(n):], nil
}

// decodeResult decodes a cached value. With deferFiles the packages' Files
// are not read: the result lists its packages in r.filesOf for readFiles.
func decodeResult(b []byte, deferFiles bool) (*layerResult, error) {
	mainPart, trailer, err := parts(b)
	if err != nil {
		return nil, err
	}
	d := wire.NewStringDecoder(string(mainPart)) // one copy: b is only valid during the cache's View
	n := d.Count()
	r := &layerResult{Files: make(map[string]*fileResult, n)}
	var order []*inventory.Package // the packages in the trailer's order
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
						order = append(order, &pkgs[i])
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
	if deferFiles {
		r.filesOf = order
		return r, nil
	}
	if err := setFiles(trailer, order, nil); err != nil {
		return nil, err
	}
	return r, nil
}

// readFiles reads the trailer of b, the cached value r was decoded from with
// deferFiles, and sets the packages' Files: all of them for a language
// package, and for an OS package only the paths keep has.
func readFiles(b []byte, r *layerResult, keep map[string]struct{}) error {
	_, trailer, err := parts(b)
	if err != nil {
		return err
	}
	if keep == nil {
		keep = map[string]struct{}{}
	}
	if err := setFiles(trailer, r.filesOf, keep); err != nil {
		return err
	}
	r.filesOf = nil
	return nil
}

// setFiles reads one file list per package from trailer. A nil keep keeps
// them all (one copy of the trailer, cut up); otherwise an OS package keeps
// only the paths in keep, each copied (trailer is not retained).
func setFiles(trailer []byte, pkgs []*inventory.Package, keep map[string]struct{}) error {
	if keep == nil {
		d := wire.NewStringDecoder(string(trailer))
		for _, p := range pkgs {
			p.Files = d.Strs()
		}
		if err := d.End(); err != nil {
			return fmt.Errorf("decoding layer result's files: %w", err)
		}
		return nil
	}
	d := wire.NewDecoder(trailer)
	for _, p := range pkgs {
		if !inventory.IsOS(p.Ecosystem) {
			p.Files = d.Strs()
			continue
		}
		p.Files = nil
		for range d.Count() {
			// d.Bytes is a slice of trailer; the map lookup of string(f) does not copy it.
			if f := d.Bytes(); d.Err == nil {
				if _, ok := keep[string(f)]; ok {
					p.Files = append(p.Files, string(f))
				}
			}
		}
	}
	if err := d.End(); err != nil {
		return fmt.Errorf("decoding layer result's files: %w", err)
	}
	return nil
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
	p.Layer = d.Str()
	p.OwnedBy = d.Str()
	p.GOOS = d.Str()
	p.GOARCH = d.Str()
	p.Symbols = d.Strs()
	p.SymbolsKnown = d.Bool()
	if n := d.Count(); n > 0 {
		p.Meta = make(map[string]string, n)
		for range n {
			k := d.Str()
			p.Meta[k] = d.Str()
		}
	}
}
