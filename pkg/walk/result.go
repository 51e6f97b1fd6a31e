package walk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

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

// The cached form is a compact binary encoding, read back without
// reflection: a warm scan of a large image decodes ~13 MB of results (119k
// file names, Go symbols), which took encoding/gob ~30 ms. Lengths and
// counts are uvarints, strings are length-prefixed bytes, maps are written
// in sorted key order (so equal results encode equally). Decoding copies the
// value once into a string and slices every string out of it. An empty
// slice or map decodes as nil (as gob did). FormatVersion is the first
// field, and part of the cache key.

func encodeResult(r *layerResult) ([]byte, error) {
	e := encoder{b: make([]byte, 0, 64<<10)}
	e.uint(FormatVersion)
	paths := make([]string, 0, len(r.Files))
	for p := range r.Files {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	e.uint(uint64(len(paths)))
	for _, p := range paths {
		f := r.Files[p]
		if f == nil {
			f = &fileResult{}
		}
		e.str(p)
		names := make([]string, 0, len(f.Results))
		for n := range f.Results {
			names = append(names, n)
		}
		slices.Sort(names)
		e.uint(uint64(len(names)))
		for _, n := range names {
			e.str(n)
			pkgs := f.Results[n]
			e.uint(uint64(len(pkgs)))
			for i := range pkgs {
				e.pkg(&pkgs[i])
			}
		}
		e.bool(f.Distro != nil)
		e.str(string(f.Distro))
		e.strs(f.Warnings)
	}
	e.strs(r.Whiteouts)
	e.strs(r.Opaque)
	return e.b, nil
}

type encoder struct{ b []byte }

func (e *encoder) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) int(v int)     { e.b = binary.AppendVarint(e.b, int64(v)) }
func (e *encoder) str(s string)  { e.uint(uint64(len(s))); e.b = append(e.b, s...) }

func (e *encoder) bool(v bool) {
	if v {
		e.b = append(e.b, 1)
	} else {
		e.b = append(e.b, 0)
	}
}

func (e *encoder) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}

// pkg writes every field of inventory.Package, in declaration order
// (TestResultCodecCoversPackage fails when a field is added and not here).
func (e *encoder) pkg(p *inventory.Package) {
	e.str(p.Name)
	e.str(p.Version)
	e.str(p.Ecosystem)
	e.str(p.SourceName)
	e.str(p.SourceVersion)
	e.int(p.Epoch)
	e.str(p.Arch)
	e.strs(p.Licenses)
	e.str(p.PURL)
	e.strs(p.Locations)
	e.strs(p.Files)
	e.str(p.Layer)
	e.str(p.OwnedBy)
	e.str(p.GOOS)
	e.str(p.GOARCH)
	e.strs(p.Symbols)
	e.bool(p.SymbolsKnown)
	keys := make([]string, 0, len(p.Meta))
	for k := range p.Meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	e.uint(uint64(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.str(p.Meta[k])
	}
}

var errCorrupt = errors.New("corrupt layer result")

func decodeResult(b []byte) (res *layerResult, err error) {
	d := decoder{s: string(b)} // one copy: b is only valid during the cache's View
	format := d.uint()
	if d.err == nil && format != FormatVersion {
		return nil, fmt.Errorf("layer result has format %d, want %d", format, FormatVersion)
	}
	n := d.count()
	r := &layerResult{Files: make(map[string]*fileResult, n)}
	for range n {
		p := d.str()
		f := &fileResult{}
		if k := d.count(); k > 0 {
			f.Results = make(map[string][]inventory.Package, k)
			for range k {
				name := d.str()
				var pkgs []inventory.Package
				if m := d.count(); m > 0 {
					pkgs = make([]inventory.Package, m)
					for i := range pkgs {
						d.pkg(&pkgs[i])
					}
				}
				f.Results[name] = pkgs
			}
		}
		if hasDistro := d.bool(); hasDistro {
			f.Distro = []byte(d.str())
		} else {
			d.str()
		}
		f.Warnings = d.strs()
		if d.err != nil {
			break
		}
		r.Files[p] = f
	}
	r.Whiteouts = d.strs()
	r.Opaque = d.strs()
	if d.err == nil && d.off != len(d.s) {
		d.err = fmt.Errorf("%w: %d bytes after the end", errCorrupt, len(d.s)-d.off)
	}
	if d.err != nil {
		return nil, fmt.Errorf("decoding layer result: %w", d.err)
	}
	return r, nil
}

// decoder reads what encoder wrote; the first problem sticks in err and
// every later read returns zero values.
type decoder struct {
	s   string
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad %s at byte %d", errCorrupt, what, d.off)
	}
}

func (d *decoder) uint() uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.off >= len(d.s) {
			break
		}
		c := d.s[d.off]
		d.off++
		if c < 0x80 {
			return v | uint64(c)<<shift
		}
		v |= uint64(c&0x7f) << shift
		shift += 7
	}
	d.fail("number")
	return 0
}

func (d *decoder) int() int {
	u := d.uint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return int(v)
}

// count is a number of items, each at least one byte long: more than the
// bytes left is corruption (and no allocation is made for it).
func (d *decoder) count() int {
	n := d.uint()
	if n > uint64(len(d.s)-d.off) {
		d.fail("count")
		return 0
	}
	return int(n)
}

func (d *decoder) str() string {
	n := d.uint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.s)-d.off) {
		d.fail("string length")
		return ""
	}
	s := d.s[d.off : d.off+int(n)]
	d.off += int(n)
	return s
}

func (d *decoder) bool() bool {
	if d.err != nil || d.off >= len(d.s) {
		d.fail("bool")
		return false
	}
	c := d.s[d.off]
	d.off++
	if c > 1 {
		d.fail("bool")
	}
	return c == 1
}

func (d *decoder) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}

func (d *decoder) pkg(p *inventory.Package) {
	p.Name = d.str()
	p.Version = d.str()
	p.Ecosystem = d.str()
	p.SourceName = d.str()
	p.SourceVersion = d.str()
	p.Epoch = d.int()
	p.Arch = d.str()
	p.Licenses = d.strs()
	p.PURL = d.str()
	p.Locations = d.strs()
	p.Files = d.strs()
	p.Layer = d.str()
	p.OwnedBy = d.str()
	p.GOOS = d.str()
	p.GOARCH = d.str()
	p.Symbols = d.strs()
	p.SymbolsKnown = d.bool()
	if n := d.count(); n > 0 {
		p.Meta = make(map[string]string, n)
		for range n {
			k := d.str()
			p.Meta[k] = d.str()
		}
	}
}
