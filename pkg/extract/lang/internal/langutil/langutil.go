// Package langutil holds small helpers shared by the language extractors:
// package URLs, locations and bounded reads of untrusted files.
package langutil

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/inventory"
)

// PURL builds a package URL (package-url spec) from its parts; qualifiers may be nil.
func PURL(typ, namespace, name, version string, qualifiers map[string]string) string {
	var q packageurl.Qualifiers
	if len(qualifiers) > 0 {
		keys := make([]string, 0, len(qualifiers))
		for k := range qualifiers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if qualifiers[k] != "" {
				q = append(q, packageurl.Qualifier{Key: k, Value: qualifiers[k]})
			}
		}
	}
	return packageurl.NewPackageURL(typ, namespace, name, version, q, "").ToString()
}

// Location turns a walk path ("usr/lib/x") into an inventory location ("/usr/lib/x").
func Location(path string) string {
	if strings.HasPrefix(path, "/") {
		return path
	}
	return "/" + path
}

// Package fills the fields every language package has.
func Package(in *extract.Input, eco, name, version, purl string) inventory.Package {
	return inventory.Package{
		Name:      name,
		Version:   version,
		Ecosystem: eco,
		PURL:      purl,
		Locations: []string{Location(in.Path)},
		Layer:     in.Layer,
	}
}

// ReadAll reads the whole input, refusing files larger than max bytes.
func ReadAll(in *extract.Input, max int64) ([]byte, error) {
	if in.Size > max {
		return nil, fmt.Errorf("%s: %d bytes is over the %d-byte limit", Location(in.Path), in.Size, max)
	}
	r := in.Reader
	if r == nil && in.At != nil {
		r = io.NewSectionReader(in.At, 0, max+1)
	}
	if r == nil {
		return nil, fmt.Errorf("%s: no content", Location(in.Path))
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", Location(in.Path), err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: over the %d-byte limit", Location(in.Path), max)
	}
	return b, nil
}

// Warn reports a problem through in.Warn (when set), prefixed with the file's location.
func Warn(in *extract.Input, format string, args ...any) {
	if in.Warn == nil {
		return
	}
	in.Warn(Location(in.Path) + ": " + fmt.Sprintf(format, args...))
}

// Base returns the last element of a slash-separated path.
func Base(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}
