// Package distro detects the operating system of an image from the files of
// its final filesystem (/etc/os-release and friends) and builds the package
// URLs of OS packages, which carry the distro.
//
// It is not an extractor: the walk reads the few files Required asks for (they
// are tiny), keeps their content per layer, and calls Detect on the merged view
// after whiteouts.
package distro

import (
	"bufio"
	"bytes"
	"encoding/json"
	"sort"
	"strings"

	"github.com/wardensec/warden/pkg/inventory"
)

// Version changes whenever Detect can give a different answer for the same files.
const Version = 2 // 2: Red Hat content sets

// MaxFileSize bounds what the walk reads of one distro file.
const MaxFileSize = 64 << 10

// Files Detect reads, in the order it prefers them.
const (
	EtcOSRelease    = "etc/os-release"
	UsrOSRelease    = "usr/lib/os-release"
	AlpineRelease   = "etc/alpine-release"
	DebianVersion   = "etc/debian_version"
	RedhatRelease   = "etc/redhat-release"
	DpkgStatus      = "var/lib/dpkg/status"
	dpkgStatusDPref = "var/lib/dpkg/status.d/"
)

// Required reports whether Detect wants the file at path (slash-separated, no
// leading slash). Files under var/lib/dpkg/status.d are only noted (their
// presence marks a distroless image); their content is not needed here.
func Required(path string) bool {
	switch path {
	case EtcOSRelease, UsrOSRelease, AlpineRelease, DebianVersion, RedhatRelease:
		return true
	}
	return isContentManifest(path)
}

// ContentManifests is where RHEL and UBI images record the Red Hat
// repositories (content sets) their packages came from, one JSON file per
// build layer: {"content_sets": ["rhel-9-for-x86_64-baseos-rpms", ...], ...}.
const ContentManifests = "root/buildinfo/content_manifests/"

func isContentManifest(path string) bool {
	rest, ok := strings.CutPrefix(path, ContentManifests)
	return ok && strings.HasSuffix(rest, ".json") && !strings.Contains(rest, "/")
}

// contentSets collects the content sets of every manifest, sorted and
// deduplicated; a manifest that does not parse adds nothing.
func contentSets(files map[string][]byte) []string {
	seen := map[string]bool{}
	var out []string
	for p, b := range files {
		if !isContentManifest(p) {
			continue
		}
		var m struct {
			ContentSets []string `json:"content_sets"`
		}
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		for _, c := range m.ContentSets {
			if c != "" && !seen[c] {
				seen[c] = true
				out = append(out, c)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Marker reports whether the mere presence of path matters to Detect.
func Marker(path string) bool {
	return path == DpkgStatus || strings.HasPrefix(path, dpkgStatusDPref)
}

// Detect returns the distro described by files (path → content for the
// Required paths of the final filesystem) and present (marker paths that exist
// in the final filesystem). It returns nil when nothing identifies the OS.
func Detect(files map[string][]byte, present map[string]bool) *inventory.Distro {
	var d *inventory.Distro
	for _, p := range []string{EtcOSRelease, UsrOSRelease} {
		if b, ok := files[p]; ok {
			if d = ParseOSRelease(b); d != nil {
				break
			}
		}
	}
	if d == nil {
		if b, ok := files[AlpineRelease]; ok {
			if v := firstLine(b); v != "" {
				d = &inventory.Distro{ID: "alpine", VersionID: v, PrettyName: "Alpine Linux v" + v}
			}
		}
	}
	if d == nil {
		if b, ok := files[DebianVersion]; ok {
			if v := firstLine(b); v != "" {
				d = &inventory.Distro{ID: "debian", PrettyName: "Debian " + v}
				// "12.5" → VERSION_ID 12; "bookworm/sid" is testing: no number.
				if i := strings.IndexByte(v, '.'); i > 0 && isDigits(v[:i]) {
					d.VersionID = v[:i]
				} else if isDigits(v) {
					d.VersionID = v
				} else {
					d.Codename = strings.SplitN(v, "/", 2)[0]
				}
			}
		}
	}
	if d == nil {
		if b, ok := files[RedhatRelease]; ok {
			d = parseRedhatRelease(firstLine(b))
		}
	}
	if cs := contentSets(files); len(cs) > 0 && d != nil {
		d.ContentSets = cs
	}
	distroless := false
	if !present[DpkgStatus] {
		for p := range present {
			if strings.HasPrefix(p, dpkgStatusDPref) {
				distroless = true
				break
			}
		}
	}
	if distroless {
		if d == nil {
			d = &inventory.Distro{ID: "debian"}
		}
		d.Distroless = true
	}
	return d
}

// ParseOSRelease parses an os-release file (freedesktop.org format: KEY=value
// lines, values optionally quoted with shell quoting). It returns nil when the
// file has no ID.
func ParseOSRelease(b []byte) *inventory.Distro {
	d := &inventory.Distro{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), MaxFileSize)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		v = unquote(strings.TrimSpace(v))
		switch strings.TrimSpace(k) {
		case "ID":
			d.ID = strings.ToLower(v)
		case "VERSION_ID":
			d.VersionID = v
		case "VERSION_CODENAME":
			d.Codename = v
		case "PRETTY_NAME":
			d.PrettyName = v
		case "ID_LIKE":
			d.IDLike = strings.Fields(strings.ToLower(v))
		}
	}
	if d.ID == "" {
		return nil
	}
	return d
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		v = v[1 : len(v)-1]
		if v != "" && strings.ContainsRune(v, '\\') {
			var sb strings.Builder
			for i := 0; i < len(v); i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				sb.WriteByte(v[i])
			}
			v = sb.String()
		}
	}
	return v
}

// parseRedhatRelease reads lines such as "Rocky Linux release 9.3 (Blue Onyx)",
// "Red Hat Enterprise Linux release 9.4 (Plow)", "CentOS Linux release 7.9.2009 (Core)".
func parseRedhatRelease(line string) *inventory.Distro {
	if line == "" {
		return nil
	}
	name, rest, ok := strings.Cut(line, " release ")
	if !ok {
		return nil
	}
	ver := strings.Fields(rest)
	d := &inventory.Distro{PrettyName: line}
	if len(ver) > 0 {
		d.VersionID = ver[0]
	}
	lname := strings.ToLower(name)
	switch {
	case strings.HasPrefix(lname, "red hat"):
		d.ID = "rhel"
	case strings.HasPrefix(lname, "centos"):
		d.ID = "centos"
	case strings.HasPrefix(lname, "rocky"):
		d.ID = "rocky"
	case strings.HasPrefix(lname, "almalinux"):
		d.ID = "almalinux"
	case strings.HasPrefix(lname, "fedora"):
		d.ID = "fedora"
	case strings.HasPrefix(lname, "oracle"):
		d.ID = "ol"
	default:
		f := strings.Fields(lname)
		if len(f) == 0 {
			return nil
		}
		d.ID = f[0]
	}
	return d
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
