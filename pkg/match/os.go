package match

import (
	"context"
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

// dpkgMatcher: Debian and Ubuntu packages by source package and source version.
type dpkgMatcher struct{ osMatcher }

func (m dpkgMatcher) Match(ctx context.Context, db vulndb.Reader, d *inventory.Distro, p *inventory.Package, env *Env) ([]Finding, error) {
	ns := m.namespace(d, p, env)
	if ns == "" {
		return nil, nil
	}
	out, err := lookupAll(ctx, db, Dpkg, ns, []string{p.Source()}, p.SourceVer(), p, env)
	if err != nil || d.ID != "ubuntu" || p.Source() == p.Name {
		return out, err
	}
	// Ubuntu's USN OVAL names binary packages (libc6, not glibc): look the
	// binary up too, with the binary's version, keeping one finding per advisory.
	bin, err := lookupAll(ctx, db, Dpkg, ns, []string{p.Name}, p.Version, p, env)
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
	return lookupAll(ctx, db, RPM, ns, []string{p.Name, p.SourceName}, v, p, env)
}
