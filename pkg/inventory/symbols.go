package inventory

import (
	"slices"

	"github.com/cespare/xxhash/v2"
)

// Symbols are the linked symbols of one module in a Go binary, kept as
// 64-bit hashes (xxHash64) rather than names: a large image has millions of
// them and only the few that advisories name are ever looked up. Funcs holds
// the hashes of "<import path>.<Symbol>" names, Pkgs of the import paths that
// have a linked symbol; both sorted, without repeats. A hash collision can
// only make Has report a symbol as linked that is not (2^-64 per lookup and
// symbol): the conservative side for a reachability check.
type Symbols struct {
	Funcs []uint64
	Pkgs  []uint64
}

// SymbolHash is the hash Symbols keeps of a name or an import path.
func SymbolHash(s string) uint64 { return xxhash.Sum64String(s) }

// SymbolHashBytes is SymbolHash of string(b), without the copy.
func SymbolHashBytes(b []byte) uint64 { return xxhash.Sum64(b) }

// Len is the number of symbols.
func (s *Symbols) Len() int { return len(s.Funcs) }

// Has reports whether the symbol "<import path>.<Symbol>" is linked.
func (s *Symbols) Has(name string) bool {
	_, ok := slices.BinarySearch(s.Funcs, SymbolHash(name))
	return ok
}

// HasPackage reports whether any symbol of the package at path is linked.
func (s *Symbols) HasPackage(path string) bool {
	_, ok := slices.BinarySearch(s.Pkgs, SymbolHash(path))
	return ok
}

// Normalize sorts both lists and drops repeats. Lists built by append, with
// many repeats, are copied to arrays of their size: a large Go binary's
// lists are megabytes, and an array kept half empty is memory a scan holds
// to its end.
func (s *Symbols) Normalize() {
	s.Funcs = sortedSet(s.Funcs)
	s.Pkgs = sortedSet(s.Pkgs)
}

func sortedSet(l []uint64) []uint64 {
	slices.Sort(l)
	l = slices.Compact(l)
	if cap(l)-len(l) > len(l)/8 {
		return slices.Clone(l)
	}
	return slices.Clip(l)
}

// Add records the symbol sym of the package at import path pkg.
func (s *Symbols) Add(pkg, sym string) {
	s.Funcs = append(s.Funcs, SymbolHash(pkg+"."+sym))
	s.Pkgs = append(s.Pkgs, SymbolHash(pkg))
}
