// Package cargo reads Rust dependencies from Cargo.lock (lockfile versions 1
// to 4). Packages without a source are the workspace's own crates and are
// not reported; git and other registries are reported with their source.
package cargo

import (
	"context"
	"fmt"
	"io/fs"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/package-url/packageurl-go"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/lang/internal/langutil"
	"github.com/wardensec/warden/pkg/inventory"
)

// MaxSize bounds the lockfiles read.
const MaxSize = 32 << 20

// Extractor is the Cargo.lock extractor.
type Extractor struct{}

// New returns the extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "lang/cargo" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor.
func (*Extractor) Required(path string, mode fs.FileMode, size int64) bool {
	return mode.IsRegular() && size <= MaxSize && langutil.Base(path) == "Cargo.lock"
}

// PURL returns pkg:cargo/<name>@<version>.
func PURL(name, version string) string {
	return langutil.PURL(packageurl.TypeCargo, "", name, version, nil)
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	b, err := langutil.ReadAll(in, MaxSize)
	if err != nil {
		return nil, err
	}
	var lock struct {
		Package []struct {
			Name    string `toml:"name"`
			Version string `toml:"version"`
			Source  string `toml:"source"`
		} `toml:"package"`
	}
	if err := toml.Unmarshal(b, &lock); err != nil {
		return nil, fmt.Errorf("%s: not a valid Cargo.lock (TOML): %w", langutil.Location(in.Path), err)
	}
	var pkgs []inventory.Package
	for _, p := range lock.Package {
		if p.Name == "" || p.Version == "" || p.Source == "" {
			continue
		}
		pkg := langutil.Package(in, inventory.Cargo, p.Name, p.Version, PURL(p.Name, p.Version))
		if !strings.HasPrefix(p.Source, "registry+https://github.com/rust-lang/crates.io-index") && p.Source != "sparse+https://index.crates.io/" {
			pkg.Meta = map[string]string{"source": p.Source}
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs, nil
}
