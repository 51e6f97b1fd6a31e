package match

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/vulndb"
)

// langMatcher: language packages (npm, PyPI, Maven, crates.io, RubyGems,
// Packagist, NuGet) against the OSV data of their ecosystem.
type langMatcher struct{}

func (langMatcher) Name() string { return "lang" }
func (langMatcher) Handles(d *inventory.Distro, p *inventory.Package) bool {
	return !IsOS(p.Ecosystem) && p.Ecosystem != inventory.Go && p.Ecosystem != ""
}
func (langMatcher) Match(ctx context.Context, db vulndb.Reader, d *inventory.Distro, p *inventory.Package, env *Env) ([]Finding, error) {
	return lookupAll(ctx, db, SchemeFor(p.Ecosystem), p.Ecosystem, []string{p.Name}, p.Version, p, env)
}

// goMatcher: Go modules (and the stdlib pseudo-module) of Go binaries against
// the Go vulndb, with the advisories' goos/goarch limits and, when the binary
// has a symbol table, whether a vulnerable symbol is linked in.
type goMatcher struct{}

func (goMatcher) Name() string { return "go" }
func (goMatcher) Handles(d *inventory.Distro, p *inventory.Package) bool {
	return p.Ecosystem == inventory.Go
}
func (goMatcher) Match(ctx context.Context, db vulndb.Reader, d *inventory.Distro, p *inventory.Package, env *Env) ([]Finding, error) {
	if !goMatchable(p) {
		env.Logger.Debug("Go module without a version: not matched", "module", p.Name)
		return nil, nil
	}
	fs, err := lookupAll(ctx, db, GoMod, inventory.Go, []string{p.Name}, p.Version, p, env)
	if err != nil {
		return nil, err
	}
	out := fs[:0]
	var pending []pendingLink // advisories whose imports are checked against the symbols
	for _, f := range fs {
		imports := applicableImports(f.Advisory.Imports, p.GOOS, p.GOARCH)
		if len(f.Advisory.Imports) > 0 && len(imports) == 0 {
			env.Logger.Debug("Go advisory limited to other platforms", "advisory", f.Advisory.ID, "goos", p.GOOS, "goarch", p.GOARCH)
			continue
		}
		// OSV Go versions have no "v"; show the fix as the module's own versions are written.
		if f.FixedVersion != "" && strings.HasPrefix(p.Version, "v") && !strings.HasPrefix(f.FixedVersion, "v") {
			f.FixedVersion = "v" + f.FixedVersion
		}
		if p.SymbolsKnown {
			linked := len(f.Advisory.Imports) == 0
			f.Linked = &linked
			if !linked {
				pending = append(pending, pendingLink{len(out), imports})
			}
		}
		out = append(out, f)
	}
	if len(pending) > 0 {
		resolveLinked(out, pending, p.Symbols)
	}
	return out, nil
}

// goMatchable: a Go module without a version is not matched.
func goMatchable(p *inventory.Package) bool { return p.Version != "" && p.Version != "(devel)" }

// KeepSymbols is walk.Options.KeepSymbols for a scan whose Match uses env
// (Options.Env): of a Go module's symbols it keeps those resolveLinked can
// look at for any advisory the database has for the module (any version,
// any platform): the symbols the advisories' imports name and, for an import
// naming none, every symbol of its package. Other packages keep all theirs.
// The lookups are env's: Match does not repeat them. The tests it returns
// are for one goroutine.
func (e *Env) KeepSymbols(ctx context.Context, db vulndb.Reader) func(p *inventory.Package) (func(sym []byte) bool, error) {
	tests := map[string]func([]byte) bool{} // module -> test
	none := func([]byte) bool { return false }
	return func(p *inventory.Package) (func([]byte) bool, error) {
		if p.Ecosystem != inventory.Go {
			return nil, nil
		}
		if !goMatchable(p) {
			return none, nil
		}
		if t, ok := tests[p.Name]; ok {
			return t, nil
		}
		advs, err := e.lookup(ctx, db, inventory.Go, normalizeName(inventory.Go, p.Name))
		if err != nil {
			return nil, fmt.Errorf("looking up %q in %s: %w", p.Name, inventory.Go, err)
		}
		symbols, packages := map[string]struct{}{}, map[string]struct{}{}
		for i := range advs {
			for _, imp := range advs[i].Imports {
				if len(imp.Symbols) == 0 {
					packages[imp.Path] = struct{}{}
				}
				for _, sym := range imp.Symbols {
					symbols[imp.Path+"."+sym] = struct{}{}
				}
			}
		}
		t := none
		if len(symbols)+len(packages) > 0 {
			// A symbol's head, its text up to the first dot after the last
			// slash, is the head of the wanted symbol or package it can be:
			// a binary lists its symbols package by package, so a run of
			// symbols with a head not wanted is refused by one comparison.
			heads := map[string]bool{}
			for s := range symbols {
				heads[string(symbolHead([]byte(s)))] = true
			}
			for p := range packages {
				heads[string(symbolHead([]byte(p+".")))] = true
			}
			var last []byte
			lastWanted := false
			t = func(s []byte) bool {
				h := symbolHead(s)
				if h == nil {
					return false
				}
				if !bytes.Equal(h, last) || last == nil {
					last, lastWanted = append(last[:0], h...), heads[string(h)]
				}
				if !lastWanted {
					return false
				}
				if _, ok := symbols[string(s)]; ok {
					return true
				}
				// anyInPackage's test: s is "<path>.<rest>" with a rest free of slashes.
				for j := len(h); j < len(s)-1; j++ {
					if s[j] == '.' {
						if _, ok := packages[string(s[:j])]; ok {
							return true
						}
					}
				}
				return false
			}
		}
		tests[p.Name] = t
		return t, nil
	}
}

// symbolHead is s up to the first dot after its last slash ("net/http" of
// "net/http.(*Client).Do", "gopkg.in/yaml" of "gopkg.in/yaml.v3.Marshal"),
// nil when there is no such dot.
func symbolHead(s []byte) []byte {
	slash := bytes.LastIndexByte(s, '/')
	dot := bytes.IndexByte(s[slash+1:], '.')
	if dot < 0 {
		return nil
	}
	return s[:slash+1+dot]
}

// pendingLink is a finding (by index) whose vulnerable imports are still to
// be looked for among the binary's symbols.
type pendingLink struct {
	finding int
	imports []vulndb.GoImport
}

// resolveLinked sets each pending finding's Linked: whether a vulnerable
// symbol of its imports is among the binary's symbols ("<import
// path>.<Symbol>"); an import listing no symbols counts when any symbol of its
// package is linked. The symbols (thousands for stdlib) are read once, against
// a set of the few symbols the advisories name, instead of a set of them all.
func resolveLinked(out []Finding, pending []pendingLink, symbols []string) {
	wanted := map[string][]int{} // "<import path>.<Symbol>" -> indexes in pending
	for i, pl := range pending {
		for _, imp := range pl.imports {
			if len(imp.Symbols) == 0 {
				if !*out[pl.finding].Linked && anyInPackage(imp.Path, symbols) {
					*out[pl.finding].Linked = true
				}
				continue
			}
			for _, sym := range imp.Symbols {
				k := imp.Path + "." + sym
				wanted[k] = append(wanted[k], i)
			}
		}
	}
	if len(wanted) == 0 {
		return
	}
	for _, s := range symbols {
		for _, i := range wanted[s] {
			*out[pending[i].finding].Linked = true
		}
	}
}

// anyInPackage reports whether a symbol of the package at path is linked.
func anyInPackage(path string, symbols []string) bool {
	prefix := path + "."
	for _, s := range symbols {
		if rest, ok := strings.CutPrefix(s, prefix); ok && rest != "" && !strings.Contains(rest, "/") {
			return true
		}
	}
	return false
}

// applicableImports keeps the imports whose platform limits include the
// binary's GOOS/GOARCH (an empty limit, or an unknown binary platform, includes all).
func applicableImports(imps []vulndb.GoImport, goos, goarch string) []vulndb.GoImport {
	var out []vulndb.GoImport
	for _, imp := range imps {
		if goos != "" && len(imp.GOOS) > 0 && !slices.Contains(imp.GOOS, goos) {
			continue
		}
		if goarch != "" && len(imp.GOARCH) > 0 && !slices.Contains(imp.GOARCH, goarch) {
			continue
		}
		out = append(out, imp)
	}
	return out
}

// normalizeName is the database's name normalisation.
var normalizeName = vulndb.NormalizeName
