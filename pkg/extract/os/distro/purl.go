package distro

import (
	"sort"
	"strconv"
	"strings"

	"github.com/wardensec/warden/pkg/inventory"
)

// PURL returns the package URL of an OS package (apk, dpkg, rpm) following
// the purl spec: the distro ID is the namespace and "<id>-<version_id>" the
// distro qualifier; rpm epochs go in the epoch qualifier. d may be nil before
// detection (a default namespace is used). Other ecosystems return p.PURL.
func PURL(p *inventory.Package, d *inventory.Distro) string {
	var typ, ns string
	version := p.Version
	q := map[string]string{}
	if p.Arch != "" {
		q["arch"] = p.Arch
	}
	switch p.Ecosystem {
	case inventory.Apk:
		typ, ns = "apk", "alpine"
	case inventory.Dpkg:
		typ, ns = "deb", "debian"
	case inventory.Rpm:
		typ, ns = "rpm", "redhat"
		if i := strings.IndexByte(version, ':'); i > 0 {
			version = version[i+1:]
		}
		if p.Epoch != 0 {
			q["epoch"] = strconv.Itoa(p.Epoch)
		}
	default:
		return p.PURL
	}
	if d != nil && d.ID != "" {
		ns = d.ID
		if d.VersionID != "" {
			q["distro"] = d.ID + "-" + d.VersionID
		} else if d.Codename != "" {
			q["distro"] = d.ID + "-" + d.Codename
		}
	}
	var sb strings.Builder
	sb.WriteString("pkg:")
	sb.WriteString(typ)
	sb.WriteByte('/')
	sb.WriteString(escape(strings.ToLower(ns), false))
	sb.WriteByte('/')
	sb.WriteString(escape(p.Name, false))
	if version != "" {
		sb.WriteByte('@')
		sb.WriteString(escape(version, false))
	}
	if len(q) > 0 {
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i == 0 {
				sb.WriteByte('?')
			} else {
				sb.WriteByte('&')
			}
			sb.WriteString(k)
			sb.WriteByte('=')
			sb.WriteString(escape(q[k], true))
		}
	}
	return sb.String()
}

// escape percent-encodes everything but the unreserved characters; in names
// and versions ':' and '+' stay as they are (the purl spec allows both there).
func escape(s string, qualifier bool) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
			sb.WriteByte(c)
		case !qualifier && (c == ':' || c == '+'):
			sb.WriteByte(c)
		default:
			sb.WriteByte('%')
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&15])
		}
	}
	return sb.String()
}
