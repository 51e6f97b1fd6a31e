package match

import (
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
		resolveLinked(out, pending, &p.Symbols)
	}
	return out, nil
}

// goMatchable: a Go module without a version is not matched.
func goMatchable(p *inventory.Package) bool { return p.Version != "" && p.Version != "(devel)" }

// KeepSymbols is walk.Options.KeepSymbols for a scan whose Match uses env
// (Options.Env): a Go module keeps its symbols only when an advisory the
// database has for it (any version, any platform) names imports, the only
// case resolveLinked looks at them. Other packages keep theirs. The lookups
// are env's: Match does not repeat them. The function it returns is for one
// goroutine.
func (e *Env) KeepSymbols(ctx context.Context, db vulndb.Reader) func(p *inventory.Package) (bool, error) {
	keep := map[string]bool{} // module -> whether its symbols are needed
	return func(p *inventory.Package) (bool, error) {
		if p.Ecosystem != inventory.Go {
			return true, nil
		}
		if !goMatchable(p) {
			return false, nil
		}
		if k, ok := keep[p.Name]; ok {
			return k, nil
		}
		advs, err := e.lookup(ctx, db, inventory.Go, normalizeName(inventory.Go, p.Name))
		if err != nil {
			return false, fmt.Errorf("looking up %q in %s: %w", p.Name, inventory.Go, err)
		}
		k := slices.ContainsFunc(advs, func(a vulndb.Advisory) bool { return len(a.Imports) > 0 })
		keep[p.Name] = k
		return k, nil
	}
}

// pendingLink is a finding (by index) whose vulnerable imports are still to
// be looked for among the binary's symbols.
type pendingLink struct {
	finding int
	imports []vulndb.GoImport
}

// resolveLinked sets each pending finding's Linked: whether a vulnerable
// symbol of its imports ("<import path>.<Symbol>") is among the binary's
// symbols; an import listing no symbols counts when any symbol of its
// package is linked.
func resolveLinked(out []Finding, pending []pendingLink, symbols *inventory.Symbols) {
	for _, pl := range pending {
		linked := out[pl.finding].Linked
		for _, imp := range pl.imports {
			if *linked {
				break
			}
			if len(imp.Symbols) == 0 {
				*linked = symbols.HasPackage(imp.Path)
				continue
			}
			for _, sym := range imp.Symbols {
				if symbols.Has(imp.Path + "." + sym) {
					*linked = true
					break
				}
			}
		}
	}
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
