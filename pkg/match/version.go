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

type apkScheme struct{}

func (apkScheme) Name() string { return "apk" }
func (apkScheme) Compare(a, b string) (int, error) {
	va, err := apk.NewVersion(a)
	if err != nil {
		return 0, fmt.Errorf("apk version %q: %w", a, err)
	}
	vb, err := apk.NewVersion(b)
	if err != nil {
		return 0, fmt.Errorf("apk version %q: %w", b, err)
	}
	return sign(va.Compare(vb)), nil
}

type dpkgScheme struct{}

func (dpkgScheme) Name() string { return "dpkg" }
func (dpkgScheme) Compare(a, b string) (int, error) {
	va, err := deb.NewVersion(a)
	if err != nil {
		return 0, fmt.Errorf("dpkg version %q: %w", a, err)
	}
	vb, err := deb.NewVersion(b)
	if err != nil {
		return 0, fmt.Errorf("dpkg version %q: %w", b, err)
	}
	return sign(va.Compare(vb)), nil
}

type rpmScheme struct{}

func (rpmScheme) Name() string { return "rpm" }
func (rpmScheme) Compare(a, b string) (int, error) {
	if strings.TrimSpace(a) == "" || strings.TrimSpace(b) == "" {
		return 0, fmt.Errorf("rpm version %q vs %q: empty version", a, b)
	}
	return sign(rpm.NewVersion(a).Compare(rpm.NewVersion(b))), nil
}

// goScheme compares Go module versions, including pseudo-versions, with
// golang.org/x/mod/semver. OSV Go ranges are SEMVER without the "v"; Go
// toolchain versions ("1.21rc2") are turned into semver ("v1.21.0-rc.2").
type goScheme struct{}

func (goScheme) Name() string { return "go" }
func (goScheme) Compare(a, b string) (int, error) {
	va, vb := goSemver(a), goSemver(b)
	if !semver.IsValid(va) {
		return 0, fmt.Errorf("go version %q: not a semantic version", a)
	}
	if !semver.IsValid(vb) {
		return 0, fmt.Errorf("go version %q: not a semantic version", b)
	}
	return semver.Compare(va, vb), nil
}

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

func (npmScheme) Name() string { return "npm" }
func (npmScheme) Compare(a, b string) (int, error) {
	va, err := npm.NewVersion(a)
	if err != nil {
		return 0, fmt.Errorf("npm version %q: %w", a, err)
	}
	vb, err := npm.NewVersion(b)
	if err != nil {
		return 0, fmt.Errorf("npm version %q: %w", b, err)
	}
	return sign(va.Compare(vb)), nil
}

type pep440Scheme struct{}

func (pep440Scheme) Name() string { return "pep440" }
func (pep440Scheme) Compare(a, b string) (int, error) {
	va, err := pep440.Parse(a)
	if err != nil {
		return 0, fmt.Errorf("PEP 440 version %q: %w", a, err)
	}
	vb, err := pep440.Parse(b)
	if err != nil {
		return 0, fmt.Errorf("PEP 440 version %q: %w", b, err)
	}
	return sign(va.Compare(vb)), nil
}

type mavenScheme struct{}

func (mavenScheme) Name() string { return "maven" }
func (mavenScheme) Compare(a, b string) (int, error) {
	va, err := mvn.NewVersion(a)
	if err != nil {
		return 0, fmt.Errorf("maven version %q: %w", a, err)
	}
	vb, err := mvn.NewVersion(b)
	if err != nil {
		return 0, fmt.Errorf("maven version %q: %w", b, err)
	}
	return sign(va.Compare(vb)), nil
}

type genericScheme struct{}

func (genericScheme) Name() string { return "generic" }
func (genericScheme) Compare(a, b string) (int, error) {
	va, err := genericver.Parse(a)
	if err != nil {
		return 0, fmt.Errorf("version %q: %w", a, err)
	}
	vb, err := genericver.Parse(b)
	if err != nil {
		return 0, fmt.Errorf("version %q: %w", b, err)
	}
	return sign(va.Compare(vb)), nil
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
