package match

import (
	"context"
	"regexp"
	"strconv"
	"strings"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Namespace returns the vulnerability-database namespace of an image's OS
// release ("alpine:3.19", "alpine:edge", "debian:12", "ubuntu:24.04",
// "rocky:9"), or "" when the distro is unknown.
func Namespace(d *inventory.Distro) string {
	if d == nil || d.ID == "" {
		return ""
	}
	id := strings.ToLower(d.ID)
	v := d.VersionID
	switch id {
	case "alpine":
		// Edge reports a pre-release VERSION_ID ("3.21.0_alpha20240807") and "edge" in its name.
		if strings.Contains(v, "_alpha") || strings.Contains(strings.ToLower(d.PrettyName), "edge") || v == "" {
			return "alpine:edge"
		}
		return "alpine:" + majorMinor(v)
	case "wolfi", "chainguard":
		return id + ":rolling"
	case "sles", "sled", "sles_sap", "opensuse-leap":
		// SUSE's OVAL rows are per service pack: 15 SP5 is "15.5" (VERSION_ID);
		// SLES, SLED and SLES for SAP share the SLES rows.
		if v == "" {
			return ""
		}
		if id != "opensuse-leap" {
			id = "sles"
		}
		return id + ":" + majorMinor(v)
	case "debian":
		if v == "" {
			if n, ok := debianCodenames[strings.ToLower(d.Codename)]; ok {
				return "debian:" + n
			}
			if d.Codename != "" {
				return "debian:" + strings.ToLower(d.Codename)
			}
			return ""
		}
		return "debian:" + major(v)
	case "ubuntu":
		if v == "" {
			return ""
		}
		return "ubuntu:" + majorMinor(v)
	default:
		if v == "" {
			return ""
		}
		return id + ":" + major(v)
	}
}

var debianCodenames = map[string]string{
	"buster": "10", "bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14",
}

func major(v string) string {
	if i := strings.IndexByte(v, '.'); i >= 0 {
		return v[:i]
	}
	return v
}

func majorMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return v
}

// osMatcher is what the OS package matchers share: a name, the one ecosystem they judge and
// the distro namespace their advisories are filed under.
type osMatcher struct {
	name string
	eco  string // inventory.Apk, ...
}

func (m osMatcher) Name() string { return m.name }
func (m osMatcher) Handles(d *inventory.Distro, p *inventory.Package) bool {
	return p.Ecosystem == m.eco
}

// namespace is Namespace(d); "" (logged) when the distro is unknown and p cannot be matched.
func (m osMatcher) namespace(d *inventory.Distro, p *inventory.Package, env *Env) string {
	ns := Namespace(d)
	if ns == "" {
		env.Logger.Debug(m.name+" package in an image of unknown distro: not matched", "package", p.Name)
	}
	return ns
}

// apkMatcher: Alpine (and Wolfi/Chainguard) packages by origin against the release's secdb.
type apkMatcher struct{ osMatcher }

func (m apkMatcher) Match(ctx context.Context, db vulndb.Reader, d *inventory.Distro, p *inventory.Package, env *Env) ([]Finding, error) {
	ns := m.namespace(d, p, env)
	if ns == "" {
		return nil, nil
	}
	return lookupAll(ctx, db, Apk, ns, []string{p.Source()}, p.Version, p, env)
}

// kernelBinary is a package of one Ubuntu kernel build: the image
// (linux-image[-unsigned|-uc]-<version>-<ABI>-<variant>, linux-signed-image-…)
// and the packages built with it for that build alone: its modules
// (linux-modules[-extra]-…), headers, tools, cloud tools, build info and Rust
// library. They come from the kernel's source at the kernel's version, so a
// kernel USN's fix is theirs; future-architect/vuls counts the same binaries
// as the running kernel's (gost/ubuntu.go). Packages shared by every build of a
// release (linux-headers-6.8.0-31, linux-tools-common) name no variant and
// do not match.
var kernelBinary = regexp.MustCompile(`^linux-(?:image(?:-unsigned|-uc)?|signed-image|modules(?:-extra)?|headers|tools|cloud-tools|buildinfo|lib-rust)-(\d+\.\d+\.\d+)-\d+-([a-z0-9][a-z0-9.-]*)$`)

// dpkgMatcher: Debian and Ubuntu packages by source package and source version.
type dpkgMatcher struct{ osMatcher }

func (m dpkgMatcher) Match(ctx context.Context, db vulndb.Reader, d *inventory.Distro, p *inventory.Package, env *Env) ([]Finding, error) {
	ns := m.namespace(d, p, env)
	if ns == "" {
		return nil, nil
	}
	out, err := lookupAll(ctx, db, Dpkg, ns, []string{p.Source()}, p.SourceVer(), p, env)
	if err != nil || d.ID != "ubuntu" {
		return out, err
	}
	// Ubuntu's USN OVAL names binary packages (libc6, not glibc): look the
	// binary up too, with the binary's version, keeping one finding per advisory.
	// A kernel image, and a package of the same kernel build, is looked up by
	// its variant's family too ("linux-image-6.8.0-1003-gke",
	// "linux-modules-6.8.0-1003-gke": "linux-image-6.8.0-*-gke"), the rows the
	// reader makes of the kernel USNs' uname tests.
	var names []string
	if p.Source() != p.Name {
		names = append(names, p.Name)
	}
	if strings.HasPrefix(p.Name, "linux-") { // the regexp only for kernel packages: this runs per package
		if m := kernelBinary.FindStringSubmatch(p.Name); m != nil {
			names = append(names, "linux-image-"+m[1]+"-*-"+m[2])
		}
	}
	if len(names) == 0 {
		return out, nil
	}
	bin, err := lookupAll(ctx, db, Dpkg, ns, names, p.Version, p, env)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, f := range out {
		have[f.Advisory.ID] = true
	}
	for _, f := range bin {
		if !have[f.Advisory.ID] {
			out = append(out, f)
		}
	}
	return out, nil
}

// rpmMatcher: RHEL-family packages by binary name and by source RPM name,
// against "<id>:<major>", comparing the installed EVR.
type rpmMatcher struct{ osMatcher }

func (m rpmMatcher) Match(ctx context.Context, db vulndb.Reader, d *inventory.Distro, p *inventory.Package, env *Env) ([]Finding, error) {
	ns := m.namespace(d, p, env)
	if ns == "" {
		return nil, nil
	}
	v := p.Version
	if p.Epoch > 0 && !strings.Contains(v, ":") {
		v = strconv.Itoa(p.Epoch) + ":" + v
	}
	names := []string{p.Name, p.SourceName}
	mod := moduleStream(p)
	// Red Hat CSAF rows name product streams. The image's own streams (its
	// content sets) are asked first; an advisory none of whose rows names
	// them is then judged by the main stream's rows, as Red Hat's guidelines
	// say (an xUS image gets the main stream's verdict when its stream has no
	// statement of its own).
	claimed := map[string]bool{}
	var out []Finding
	if own := env.productKeys(db, d); len(own) > 0 {
		var err error
		out, err = lookupFiltered(ctx, db, RPM, ns, names, v, p, env, productFilter(mod, func(adv *vulndb.Advisory, cpe string) bool {
			if own[productKey(cpe)] {
				claimed[adv.ID] = true
				return true
			}
			return false
		}))
		if err != nil {
			return nil, err
		}
	}
	main, err := lookupFiltered(ctx, db, RPM, ns, names, v, p, env, productFilter(mod, func(adv *vulndb.Advisory, cpe string) bool {
		return !claimed[adv.ID] && isMainStream(cpe)
	}))
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, f := range out {
		have[f.Advisory.ID] = true
	}
	for _, f := range main {
		if !have[f.Advisory.ID] {
			out = append(out, f)
		}
	}
	return out, nil
}

// moduleStream is the "name:stream" of an rpm built for a module stream (its
// modularitylabel "nodejs:18:8090020240301110609:a75119d5"), else "".
func moduleStream(p *inventory.Package) string {
	parts := strings.SplitN(p.Meta["modularitylabel"], ":", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return ""
	}
	return parts[0] + ":" + parts[1]
}

// repoCPEReader is the database's repository-to-CPE mapping (vulndb.DB).
type repoCPEReader interface {
	RepositoryCPEs(repos []string) ([]string, error)
}

// productKeys returns the product streams (productKey) of the image's Red
// Hat content sets through the database's repository-to-CPE mapping; nil
// when the image names none or the mapping knows none of them. Once per Match call.
func (e *Env) productKeys(db vulndb.Reader, d *inventory.Distro) map[string]bool {
	if d == nil || len(d.ContentSets) == 0 {
		return nil
	}
	if e.cpesDone {
		return e.cpes
	}
	e.cpesDone = true
	r, ok := db.(repoCPEReader)
	if !ok {
		return nil
	}
	cpes, err := r.RepositoryCPEs(d.ContentSets)
	if err != nil {
		e.Logger.Debug("repository-to-CPE mapping unreadable: judging by the main product stream", "err", err)
		return nil
	}
	if len(cpes) == 0 {
		e.Logger.Debug("no product CPE known for the image's content sets: judging by the main product stream", "content_sets", d.ContentSets)
		return nil
	}
	e.cpes = map[string]bool{}
	for _, c := range cpes {
		e.cpes[productKey(c)] = true
	}
	return e.cpes
}

// productKey reduces a Red Hat CPE to what Red Hat's guidelines match on,
// its first five segments without the part: "redhat:enterprise_linux:9"
// for cpe:/a:redhat:enterprise_linux:9::appstream and cpe:/o:redhat:enterprise_linux:9,
// "redhat:rhel_eus:9.2" for cpe:/a:redhat:rhel_eus:9.2::appstream. The main
// stream keeps only its major release (RHEL 10 writes "enterprise_linux:10.0").
func productKey(cpe string) string {
	parts := strings.Split(cpe, ":")
	if len(parts) < 5 {
		return cpe
	}
	ver := parts[4]
	if parts[3] == "enterprise_linux" {
		ver, _, _ = strings.Cut(ver, ".")
	}
	return parts[2] + ":" + parts[3] + ":" + ver
}

// isMainStream reports whether a Red Hat CPE names the main stream of RHEL
// (enterprise_linux), not an EUS/AUS/E4S/TUS one.
func isMainStream(cpe string) bool {
	parts := strings.Split(cpe, ":")
	return len(parts) >= 5 && parts[2] == "redhat" && parts[3] == "enterprise_linux"
}

// productFilter decides which advisory rows of a product-aware feed (Red Hat
// CSAF: rows with a module stream or product CPEs) judge an rpm: a row for a
// module stream judges only rpms built for that stream, and a row without
// one only non-modular rpms (a nodejs:18 fix says nothing about nodejs:20,
// nor RHEL 9's default nodejs about either); a row with CPEs judges when
// stream accepts one of them. Rows of other feeds (OVAL, OSV) carry neither
// and always judge.
func productFilter(module string, stream func(adv *vulndb.Advisory, cpe string) bool) func(*vulndb.Advisory) bool {
	return func(a *vulndb.Advisory) bool {
		if a.Module == "" && len(a.CPEs) == 0 {
			return true
		}
		if a.Module != module {
			return false
		}
		if len(a.CPEs) == 0 {
			return true
		}
		for _, c := range a.CPEs {
			if stream(a, c) {
				return true
			}
		}
		return false
	}
}
