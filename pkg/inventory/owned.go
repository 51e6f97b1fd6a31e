package inventory

// Ownership joins language packages to the OS packages that installed them: a
// Python egg-info from Debian's python3-urllib3, a Go binary from an Alpine
// package. Such a package is judged by the distro's data, not by the upstream
// advisories (see the matching rules in pkg/match).

import "strings"

// IsOS reports whether an ecosystem is an OS package manager's.
func IsOS(eco string) bool {
	return eco == Apk || eco == Dpkg || eco == Rpm
}

// MarkOwned sets OwnedBy ("dpkg:python3-urllib3") on every language package
// one of whose locations is a file, or inside a directory, that an OS
// package lists among its Files. It runs after the walk has merged the layers
// (it needs the final OS package set) and costs one map of the owned files.
// It returns how many packages it marked.
func (inv *Inventory) MarkOwned() int {
	if inv == nil {
		return 0
	}
	owner := map[string]string{}
	for i := range inv.Packages {
		p := &inv.Packages[i]
		if !IsOS(p.Ecosystem) {
			continue
		}
		for _, f := range p.Files {
			if _, ok := owner[f]; !ok {
				owner[f] = p.Ecosystem + ":" + p.Name
			}
		}
	}
	if len(owner) == 0 {
		return 0
	}
	n := 0
	for i := range inv.Packages {
		p := &inv.Packages[i]
		if IsOS(p.Ecosystem) || p.OwnedBy != "" {
			continue
		}
		for _, loc := range p.Locations {
			if o := lookup(owner, loc); o != "" {
				p.OwnedBy = o
				n++
				break
			}
		}
	}
	return n
}

// lookup finds the owner of a path, trying the merged-/usr spelling too
// (Debian lists /lib/x for what the image holds at /usr/lib/x, and back).
// A location inside an archive ("/srv/app.war!/WEB-INF/lib/x.jar") is owned
// when the archive is.
func lookup(owner map[string]string, loc string) string {
	if outer, _, ok := strings.Cut(loc, "!/"); ok {
		loc = outer
	}
	if o := owner[loc]; o != "" {
		return o
	}
	if rest, ok := strings.CutPrefix(loc, "/usr/"); ok {
		if o := owner["/"+rest]; o != "" {
			return o
		}
	} else if o := owner["/usr"+loc]; o != "" {
		return o
	}
	return ""
}
