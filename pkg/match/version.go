package match

import (
	"fmt"
	"regexp"
	"strings"

	apk "github.com/knqyf263/go-apk-version"
	deb "github.com/knqyf263/go-deb-version"
	rpm "github.com/knqyf263/go-rpm-version"

	npm "github.com/aquasecurity/go-npm-version/pkg"
	pep440 "github.com/aquasecurity/go-pep440-version"
	genericver "github.com/aquasecurity/go-version/pkg/version"
	mvn "github.com/masahiro331/go-mvn-version"
	"golang.org/x/mod/semver"
)

// Scheme compares two versions of one versioning scheme. Compare returns -1,
// 0 or +1, or an error naming the version it cannot parse.
type Scheme interface {
	Name() string
	Compare(a, b string) (int, error)
}

// Schemes, one per version syntax. Each wraps the well-kept library of its field.
var (
	Apk    Scheme = apkScheme{}
	Dpkg   Scheme = dpkgScheme{}
	RPM    Scheme = rpmScheme{}
	GoMod  Scheme = goScheme{}
	Npm    Scheme = npmScheme{}
	PEP440 Scheme = pep440Scheme{}
	Maven  Scheme = mavenScheme{}
	// Generic is for ecosystems without a dedicated scheme here (crates.io,
	// RubyGems, NuGet, Packagist): dotted numbers with pre-release tags.
	Generic Scheme = genericScheme{}
)

// SchemeFor returns the version scheme of an inventory ecosystem.
func SchemeFor(ecosystem string) Scheme {
	switch ecosystem {
	case "apk":
		return Apk
	case "dpkg":
		return Dpkg
	case "rpm":
		return RPM
	case "Go":
		return GoMod
	case "npm", "crates.io":
		return Npm
	case "PyPI":
		return PEP440
	case "Maven":
		return Maven
	default:
		return Generic
	}
}

// parser is the inside of a Scheme: parse once, compare parsed values.
type parser interface {
	Scheme
	parse(v string) (any, error)
	cmp(a, b any) int
}

func compareWith(p parser, a, b string) (int, error) {
	va, err := p.parse(a)
	if err != nil {
		return 0, err
	}
	vb, err := p.parse(b)
	if err != nil {
		return 0, err
	}
	return p.cmp(va, vb), nil
}

// memo caches parsed versions for one Match call (the installed version is
// compared with every advisory's bounds; bounds repeat across packages).
type memo struct {
	p      parser
	parsed map[string]any
	failed map[string]error
}

func newMemo(s Scheme) Scheme {
	p, ok := s.(parser)
	if !ok {
		return s
	}
	return &memo{p: p, parsed: map[string]any{}, failed: map[string]error{}}
}

func (m *memo) Name() string { return m.p.Name() }

func (m *memo) get(v string) (any, error) {
	if x, ok := m.parsed[v]; ok {
		return x, nil
	}
	if err, ok := m.failed[v]; ok {
		return nil, err
	}
	x, err := m.p.parse(v)
	if err != nil {
		m.failed[v] = err
		return nil, err
	}
	m.parsed[v] = x
	return x, nil
}

func (m *memo) Compare(a, b string) (int, error) {
	va, err := m.get(a)
	if err != nil {
		return 0, err
	}
	vb, err := m.get(b)
	if err != nil {
		return 0, err
	}
	return m.p.cmp(va, vb), nil
}

type apkScheme struct{}

func (apkScheme) Name() string                       { return "apk" }
func (s apkScheme) Compare(a, b string) (int, error) { return compareWith(s, a, b) }
func (apkScheme) parse(v string) (any, error) {
	x, err := apk.NewVersion(v)
	if err != nil {
		return nil, fmt.Errorf("apk version %q: %w", v, err)
	}
	return x, nil
}
func (apkScheme) cmp(a, b any) int { return sign(a.(apk.Version).Compare(b.(apk.Version))) }

type dpkgScheme struct{}

func (dpkgScheme) Name() string                       { return "dpkg" }
func (s dpkgScheme) Compare(a, b string) (int, error) { return compareWith(s, a, b) }
func (dpkgScheme) parse(v string) (any, error) {
	x, err := deb.NewVersion(v)
	if err != nil {
		return nil, fmt.Errorf("dpkg version %q: %w", v, err)
	}
	return x, nil
}
func (dpkgScheme) cmp(a, b any) int {
	x := a.(deb.Version)
	return sign(x.Compare(b.(deb.Version)))
}

type rpmScheme struct{}

func (rpmScheme) Name() string                       { return "rpm" }
func (s rpmScheme) Compare(a, b string) (int, error) { return compareWith(s, a, b) }
func (rpmScheme) parse(v string) (any, error) {
	if strings.TrimSpace(v) == "" {
		return nil, fmt.Errorf("rpm version %q: empty", v)
	}
	return rpm.NewVersion(v), nil
}
func (rpmScheme) cmp(a, b any) int { return sign(a.(rpm.Version).Compare(b.(rpm.Version))) }

// goScheme compares Go module versions, including pseudo-versions, with
// golang.org/x/mod/semver. OSV Go ranges are SEMVER without the "v"; Go
// toolchain versions ("1.21rc2") are turned into semver ("v1.21.0-rc.2").
type goScheme struct{}

func (goScheme) Name() string                       { return "go" }
func (s goScheme) Compare(a, b string) (int, error) { return compareWith(s, a, b) }
func (goScheme) parse(v string) (any, error) {
	sv := goSemver(v)
	if !semver.IsValid(sv) {
		return nil, fmt.Errorf("go version %q: not a semantic version", v)
	}
	return sv, nil
}
func (goScheme) cmp(a, b any) int { return semver.Compare(a.(string), b.(string)) }

var goToolchainPre = regexp.MustCompile(`^v?(\d+)\.(\d+)(?:\.(\d+))?(rc|beta|alpha)(\d+)$`)

func goSemver(v string) string {
	v = strings.TrimPrefix(strings.TrimSpace(v), "go")
	if m := goToolchainPre.FindStringSubmatch(v); m != nil {
		patch := m[3]
		if patch == "" {
			patch = "0"
		}
		return "v" + m[1] + "." + m[2] + "." + patch + "-" + m[4] + "." + m[5]
	}
	if !strings.HasPrefix(v, "v") {
		v = "v" + v
	}
	return v
}

type npmScheme struct{}

func (npmScheme) Name() string                       { return "npm" }
func (s npmScheme) Compare(a, b string) (int, error) { return compareWith(s, a, b) }
func (npmScheme) parse(v string) (any, error) {
	x, err := npm.NewVersion(v)
	if err != nil {
		return nil, fmt.Errorf("npm version %q: %w", v, err)
	}
	return x, nil
}
func (npmScheme) cmp(a, b any) int { return sign(a.(npm.Version).Compare(b.(npm.Version))) }

type pep440Scheme struct{}

func (pep440Scheme) Name() string                       { return "pep440" }
func (s pep440Scheme) Compare(a, b string) (int, error) { return compareWith(s, a, b) }
func (pep440Scheme) parse(v string) (any, error) {
	x, err := pep440.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("PEP 440 version %q: %w", v, err)
	}
	return x, nil
}
func (pep440Scheme) cmp(a, b any) int { return sign(a.(pep440.Version).Compare(b.(pep440.Version))) }

type mavenScheme struct{}

func (mavenScheme) Name() string                       { return "maven" }
func (s mavenScheme) Compare(a, b string) (int, error) { return compareWith(s, a, b) }
func (mavenScheme) parse(v string) (any, error) {
	x, err := mvn.NewVersion(v)
	if err != nil {
		return nil, fmt.Errorf("maven version %q: %w", v, err)
	}
	return x, nil
}
func (mavenScheme) cmp(a, b any) int { return sign(a.(mvn.Version).Compare(b.(mvn.Version))) }

type genericScheme struct{}

func (genericScheme) Name() string                       { return "generic" }
func (s genericScheme) Compare(a, b string) (int, error) { return compareWith(s, a, b) }
func (genericScheme) parse(v string) (any, error) {
	x, err := genericver.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("version %q: %w", v, err)
	}
	return x, nil
}
func (genericScheme) cmp(a, b any) int {
	return sign(a.(genericver.Version).Compare(b.(genericver.Version)))
}

func sign(c int) int {
	switch {
	case c < 0:
		return -1
	case c > 0:
		return 1
	}
	return 0
}
