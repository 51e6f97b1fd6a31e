// Package inventory holds what a scan finds in an image: the distro and the packages.
// It is pure data and imports nothing of Warden's.
package inventory

// Ecosystems, as Warden names them. OS packages carry the package manager's
// name; language packages carry the OSV ecosystem name.
const (
	Apk      = "apk"  // Alpine, Wolfi, Chainguard
	Dpkg     = "dpkg" // Debian, Ubuntu, distroless
	Rpm      = "rpm"  // RHEL, Rocky, AlmaLinux, Fedora, Oracle, Amazon, SUSE
	Go       = "Go"   // modules in Go binaries, plus the "stdlib" pseudo-module
	Npm      = "npm"
	PyPI     = "PyPI"
	Maven    = "Maven" // Name is "groupId:artifactId"
	Cargo    = "crates.io"
	RubyGems = "RubyGems"
	Composer = "Packagist"
	NuGet    = "NuGet"
)

// Distro identifies the operating system of an image.
type Distro struct {
	ID         string   `json:"id"`                   // os-release ID: alpine, debian, ubuntu, rocky, almalinux, rhel, ...
	VersionID  string   `json:"version_id,omitempty"` // os-release VERSION_ID: 3.19.4, 12, 24.04, 9.3
	Codename   string   `json:"codename,omitempty"`   // bookworm, noble, ...
	PrettyName string   `json:"pretty_name,omitempty"`
	IDLike     []string `json:"id_like,omitempty"`
	Distroless bool     `json:"distroless,omitempty"` // dpkg status.d layout without a shell/package manager
	// ContentSets are the Red Hat repositories the image's packages came from
	// (root/buildinfo/content_manifests/*.json "content_sets" of RHEL and UBI
	// images: "rhel-9-for-x86_64-appstream-rpms", ...).
	ContentSets []string `json:"content_sets,omitempty"`
}

// Package is one installed package.
type Package struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	Ecosystem string `json:"ecosystem"` // one of the constants above

	// SourceName/SourceVersion: the source package (dpkg Source:, apk origin,
	// rpm source RPM name and its version). Empty when the same as Name/Version.
	SourceName    string `json:"source_name,omitempty"`
	SourceVersion string `json:"source_version,omitempty"`

	Epoch    int      `json:"epoch,omitempty"` // rpm epoch (also part of Version as "E:V-R" when non-zero)
	Arch     string   `json:"arch,omitempty"`
	Licenses []string `json:"licenses,omitempty"`
	PURL     string   `json:"purl"`

	// Locations are the files the package was read from (package DB, lockfile,
	// binary, jar), slash-separated, absolute ("/lib/apk/db/installed").
	Locations []string `json:"locations"`
	// Files are the files the package owns (OS packages), absolute paths.
	Files []string `json:"files,omitempty"`
	// Layer is the diff ID of the layer that added (last changed) the package's location.
	Layer string `json:"layer,omitempty"`

	// OwnedBy is set on a language package whose files belong to an OS
	// package ("dpkg:python3-urllib3"): the distro's data judges it, not upstream advisories.
	OwnedBy string `json:"owned_by,omitempty"`

	// Go binaries: the target platform and, when the binary has a symbol table,
	// the linked symbols of this module's packages ("golang.org/x/net/html.Parse",
	// "golang.org/x/text/language.Tag.String"), as hashes. SymbolsKnown is false for stripped binaries.
	GOOS         string  `json:"goos,omitempty"`
	GOARCH       string  `json:"goarch,omitempty"`
	Symbols      Symbols `json:"-"`
	SymbolsKnown bool    `json:"symbols_known,omitempty"`

	// Meta holds extractor-specific extras (e.g. "main_module": "true").
	Meta map[string]string `json:"meta,omitempty"`
}

// Key identifies a package within an inventory.
func (p *Package) Key() string {
	loc := ""
	if len(p.Locations) > 0 {
		loc = p.Locations[0]
	}
	return p.Ecosystem + "|" + p.Name + "|" + p.Version + "|" + loc
}

// Source returns the source package name, falling back to the package name.
func (p *Package) Source() string {
	if p.SourceName != "" {
		return p.SourceName
	}
	return p.Name
}

// SourceVer returns the source package version, falling back to the package version.
func (p *Package) SourceVer() string {
	if p.SourceVersion != "" {
		return p.SourceVersion
	}
	return p.Version
}

// Inventory is the final state of an image: its distro and its packages.
type Inventory struct {
	Distro   *Distro   `json:"distro,omitempty"`
	Packages []Package `json:"packages"`
	// Warnings are problems that did not stop the scan (a malformed DB entry,
	// a corrupt jar); each names the layer and path.
	Warnings []string `json:"warnings,omitempty"`
}
