package vulndb

import (
	"regexp"
	"strings"
)

var pep503 = regexp.MustCompile(`[-_.]+`)

// NormalizeName returns the form under which a package name is stored and
// looked up in a namespace:
//
//   - PyPI: PEP 503 (lower case, runs of "-", "_", "." become one "-");
//   - Maven: "group:artifact" as is (a "group/artifact" purl form becomes "group:artifact");
//   - NuGet, Packagist: lower case (both registries are case-insensitive);
//   - npm, Go, crates.io, RubyGems and every OS namespace: as is.
func NormalizeName(namespace, name string) string {
	name = strings.TrimSpace(name)
	switch namespace {
	case "PyPI":
		return pep503.ReplaceAllString(strings.ToLower(name), "-")
	case "Maven":
		if !strings.Contains(name, ":") {
			if i := strings.LastIndex(name, "/"); i > 0 {
				return name[:i] + ":" + name[i+1:]
			}
		}
		return name
	case "NuGet", "Packagist":
		return strings.ToLower(name)
	}
	return name
}
