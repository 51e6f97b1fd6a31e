package match

import (
	"context"
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
	if p.Version == "" || p.Version == "(devel)" {
		env.Logger.Debug("Go module without a version: not matched", "module", p.Name)
		return nil, nil
	}
	fs, err := lookupAll(ctx, db, GoMod, inventory.Go, []string{p.Name}, p.Version, p, env)
	if err != nil {
		return nil, err
	}
	var symbols map[string]bool // built once per package, on the first advisory that needs it
	out := fs[:0]
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
			if symbols == nil {
				symbols = make(map[string]bool, len(p.Symbols))
				for _, s := range p.Symbols {
					symbols[s] = true
				}
			}
			linked := len(f.Advisory.Imports) == 0 || linkedIn(imports, p.Symbols, symbols)
			f.Linked = &linked
		}
		out = append(out, f)
	}
	return out, nil
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

// linkedIn reports whether a vulnerable symbol of the imports is among the
// binary's symbols ("<import path>.<Symbol>"); an import listing no symbols
// counts when any symbol of its package is linked.
func linkedIn(imps []vulndb.GoImport, symbols []string, set map[string]bool) bool {
	for _, imp := range imps {
		if len(imp.Symbols) == 0 {
			prefix := imp.Path + "."
			for _, s := range symbols {
				if rest, ok := strings.CutPrefix(s, prefix); ok && rest != "" && !strings.Contains(rest, "/") {
					return true
				}
			}
			continue
		}
		for _, sym := range imp.Symbols {
			if set[imp.Path+"."+sym] {
				return true
			}
		}
	}
	return false
}

// normalizeName is the database's name normalisation.
var normalizeName = vulndb.NormalizeName
