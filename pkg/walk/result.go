package walk

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wardensec/warden/internal/arena"
	"github.com/wardensec/warden/internal/wire"
	"github.com/wardensec/warden/pkg/inventory"
)

// layerResult is what one layer contributes; it is what the cache stores.
type layerResult struct {
	DiffID    string                 // not encoded (it is the key)
	Files     map[string]*fileResult // path (no leading slash) → what was found there
	Whiteouts []string               // paths deleted by .wh.<name>
	Opaque    []string               // directories made opaque by .wh..wh..opq

	// Read from the cache with Options.OwnerFilesOnly or KeepSymbols: the
	// packages whose Files and Symbols are still to be read (readTrailer),
	// in the trailer's order, and the cache key.
	deferred []*inventory.Package
	key      string
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
// Files and Symbols), then the trailer: every package's Files and Symbols,
// in the order the main part has the packages. The file lists and the Go
// symbols are nearly all of an image's results (a Debian base owns ~120k
// files, Go binaries link ~200k functions), and a scan looks at few of them
// (Options.OwnerFilesOnly, Options.KeepSymbols): it reads the trailer in
// place, in a second pass, and copies out only those. Otherwise each part is
// copied once into a string and every string is cut out of it (the value is
// only valid during the cache's View).

func encodeResult(r *layerResult) ([]byte, error) {
	e := &wire.Encoder{B: make([]byte, 0, 64<<10)}
	e.Uint(FormatVersion)
	at := len(e.B)
	e.B = append(e.B, 0x80, 0x80, 0x80, 0x80, 0) // the main part's length, a 5-byte uvarint written below
	paths := slices.Sorted(maps.Keys(r.Files))
	var order []*inventory.Package // the packages in the main part's order, for the trailer
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
				order = append(order, &pkgs[i])
			}
		}
		e.Bool(f.Distro != nil)
		e.Bytes(f.Distro)
		e.Strs(f.Warnings)
	}
	e.Strs(r.Whiteouts)
	e.Strs(r.Opaque)
	n := len(e.B) - at - 5
	if n >= 1<<35 {
		return nil, fmt.Errorf("layer result of %d bytes is too large to cache", n)
	}
	for i := range 4 {
		e.B[at+i] = byte(n)&0x7f | 0x80
		n >>= 7
	}
	e.B[at+4] = byte(n)
	for _, p := range order {
		e.Strs(p.Files)
		e.U64s(p.Symbols.Funcs)
		e.U64s(p.Symbols.Pkgs)
	}
	return e.B, nil
}

// encodePkg writes every field of inventory.Package but Files and Symbols
// (the trailer's), in declaration order (TestResultCodecCoversPackage fails when
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

// decodeResult decodes a cached value. With deferTrailer the packages' Files
// and Symbols are not read: the result lists its packages in r.deferred for
// readTrailer. Otherwise their file lists are copied into a (Options.Strings).
func decodeResult(b []byte, deferTrailer bool, a *arena.Arena) (*layerResult, error) {
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
	if deferTrailer {
		r.deferred = order
		return r, nil
	}
	if err := readLists(trailer, order, &trailerFilter{strings: a}); err != nil {
		return nil, err
	}
	return r, nil
}

// trailerFilter says what readTrailer keeps: an OS package's Files only in
// files (nil: all), a package's Symbols only when symbols(p) says so (nil
// symbols: all).
type trailerFilter struct {
	files   map[string]struct{}
	symbols func(p *inventory.Package) (bool, error)
	strings *arena.Arena // where whole file lists are copied (Options.Strings)
}

// readTrailer reads the trailer of b, the cached value r was decoded from
// with deferTrailer, into r's packages.
func readTrailer(b []byte, r *layerResult, f *trailerFilter) error {
	_, trailer, err := parts(b)
	if err != nil {
		return err
	}
	if err := readLists(trailer, r.deferred, f); err != nil {
		return err
	}
	r.deferred = nil
	return nil
}

// readLists reads each package's Files and Symbols from trailer, in place,
// and copies what f keeps (trailer is not retained; a zero f keeps all).
func readLists(trailer []byte, pkgs []*inventory.Package, f *trailerFilter) error {
	// A file's last byte and its length mod 64 must be a kept path's: the
	// map is looked up for few of an image's ~100,000 files.
	var bits [256]uint64
	for k := range f.files {
		if k != "" {
			bits[k[len(k)-1]] |= 1 << (len(k) & 63)
		}
	}
	keepOSFile := func(b []byte) bool {
		if len(b) > 0 && bits[b[len(b)-1]]&(1<<(len(b)&63)) == 0 {
			return false
		}
		_, ok := f.files[string(b)]
		return ok
	}
	d := wire.NewDecoder(trailer)
	var kept [][]byte
	for _, p := range pkgs {
		var keepFile func([]byte) bool
		if f.files != nil && inventory.IsOS(p.Ecosystem) {
			keepFile = keepOSFile
		}
		p.Files = readList(d, keepFile, &kept, f.strings)
		keepSym := true
		if f.symbols != nil {
			var err error
			if keepSym, err = f.symbols(p); err != nil {
				return err
			}
		}
		if keepSym {
			p.Symbols.Funcs, p.Symbols.Pkgs = d.U64s(), d.U64s()
		} else {
			d.SkipU64s()
			d.SkipU64s()
		}
	}
	if err := d.End(); err != nil {
		return fmt.Errorf("decoding layer result's files and symbols: %w", err)
	}
	return nil
}

// readList reads a list of strings written by Encoder.Strs, copying out
// those keep accepts into one string; none is nil. A nil keep takes them all
// in one copy of the list's bytes (wire.Decoder.StrsShared), made in a. kept
// is scratch space, reused from call to call.
func readList(d *wire.Decoder, keep func([]byte) bool, kept *[][]byte, a *arena.Arena) []string {
	if keep == nil {
		return d.StrsShared(a)
	}
	ks, size := (*kept)[:0], 0
	for range d.Count() {
		// d.Bytes is a slice of the trailer; keep must not retain it.
		if b := d.Bytes(); d.Err == nil && keep(b) {
			ks, size = append(ks, b), size+len(b)
		}
	}
	*kept = ks
	if len(ks) == 0 {
		return nil
	}
	var sb strings.Builder
	sb.Grow(size)
	for _, b := range ks {
		sb.Write(b)
	}
	all, out := sb.String(), make([]string, len(ks))
	for i, b := range ks {
		out[i], all = all[:len(b)], all[len(b):]
	}
	clear(ks) // no references into the trailer after its View
	return out
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
	p.SymbolsKnown = d.Bool()
	if n := d.Count(); n > 0 {
		p.Meta = make(map[string]string, n)
		for range n {
			k := d.Str()
			p.Meta[k] = d.Str()
		}
	}
}
