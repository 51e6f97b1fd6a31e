// Package dotnet reads the NuGet packages of .NET applications from their
// *.deps.json (the runtime's dependency manifest next to the application's
// assemblies): the "libraries" of type "package".
package dotnet

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/lang/internal/langutil"
	"github.com/wardensec/warden/pkg/inventory"
)

// MaxSize bounds the files read.
const MaxSize = 32 << 20

// Extractor is the .NET extractor.
type Extractor struct{}

// New returns the extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "lang/dotnet" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor.
func (*Extractor) Required(path string, mode fs.FileMode, size int64) bool {
	return mode.IsRegular() && size <= MaxSize && strings.HasSuffix(path, ".deps.json")
}

// PURL returns pkg:nuget/<name>@<version>.
func PURL(name, version string) string {
	return langutil.PURL(packageurl.TypeNuget, "", name, version, nil)
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	b, err := langutil.ReadAll(in, MaxSize)
	if err != nil {
		return nil, err
	}
	var doc struct {
		Libraries map[string]struct {
			Type string `json:"type"`
		} `json:"libraries"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%s: not a valid deps.json: %w", langutil.Location(in.Path), err)
	}
	keys := make([]string, 0, len(doc.Libraries))
	for k := range doc.Libraries {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []inventory.Package
	for _, k := range keys {
		if doc.Libraries[k].Type != "package" {
			continue // "project" (the application itself), "reference"
		}
		i := strings.LastIndexByte(k, '/')
		if i <= 0 || i == len(k)-1 {
			langutil.Warn(in, "library %q is not name/version", k)
			continue
		}
		name, version := k[:i], k[i+1:]
		out = append(out, langutil.Package(in, inventory.NuGet, name, version, PURL(name, version)))
	}
	return out, nil
}
