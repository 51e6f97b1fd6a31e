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
// (it needs the final OS package set). Only the language packages' locations
// (in every spelling lookup tries) go into a map, and the OS packages' files
// are checked against it: an image's OS packages own some 100,000 files and
// its language packages have a few dozen locations. When several OS packages
// list a file, the first one in the inventory owns it. It returns how many
// packages it marked.
func (inv *Inventory) MarkOwned() int {
	if inv == nil {
		return 0
	}
	owner := map[string]string{} // candidate path → owning package ("" until found)
	for i := range inv.Packages {
		p := &inv.Packages[i]
		if IsOS(p.Ecosystem) || p.OwnedBy != "" {
			continue
		}
		for _, loc := range p.Locations {
			for _, c := range spellings(loc) {
				owner[c] = ""
			}
		}
	}
	if len(owner) == 0 {
		return 0
	}
	for i := range inv.Packages {
		p := &inv.Packages[i]
		if !IsOS(p.Ecosystem) {
			continue
		}
		name := ""
		for _, f := range p.Files {
			if o, wanted := owner[f]; wanted && o == "" {
				if name == "" {
					name = p.Ecosystem + ":" + p.Name
				}
				owner[f] = name
			}
		}
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

// OwnerPaths adds to set the paths an OS package's Files must list for
// MarkOwned to find it the owner of a language package at one of
// locations. The files of OS packages outside such a set do not change
// what MarkOwned marks.
func OwnerPaths(set map[string]struct{}, locations ...string) {
	for _, loc := range locations {
		for _, c := range spellings(loc) {
			set[c] = struct{}{}
		}
	}
}

// spellings are the paths whose owner is a location's owner, in the order
// lookup tries them: a location inside an archive
// ("/srv/app.war!/WEB-INF/lib/x.jar") is the archive; then the path itself
// and its merged-/usr spelling (Debian lists /lib/x for what the image holds
// at /usr/lib/x, and back).
func spellings(loc string) [2]string {
	if outer, _, ok := strings.Cut(loc, "!/"); ok {
		loc = outer
	}
	if rest, ok := strings.CutPrefix(loc, "/usr/"); ok {
		return [2]string{loc, "/" + rest}
	}
	return [2]string{loc, "/usr" + loc}
}

// lookup finds the owner of a location by its spellings.
func lookup(owner map[string]string, loc string) string {
	for _, c := range spellings(loc) {
		if o := owner[c]; o != "" {
			return o
		}
	}
	return ""
}
