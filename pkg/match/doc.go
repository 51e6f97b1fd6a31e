// Package match joins an image's inventory with the vulnerability database.
//
// There is one Matcher per kind of package, listed in Matchers, and one
// version Scheme per version syntax, each the well-kept library of its field:
// apk (knqyf263/go-apk-version), dpkg (knqyf263/go-deb-version: epochs,
// tildes, revisions), rpm EVR (knqyf263/go-rpm-version: epochs, tildes,
// carets), Go (golang.org/x/mod/semver, pseudo-versions; OSV's SEMVER bounds
// get their "v"; toolchain versions like 1.21rc2 become v1.21.0-rc.2), npm and
// crates.io (aquasecurity/go-npm-version), PEP 440
// (aquasecurity/go-pep440-version), Maven (masahiro331/go-mvn-version), and a
// generic scheme for the rest.
//
// The rules:
//
//   - OS packages are judged by their own release's data: the namespace is
//     derived from os-release (Namespace): Alpine by origin (SourceName)
//     against alpine:<major.minor> (or alpine:edge); Debian and Ubuntu by
//     source package and source version against debian:<major> and
//     ubuntu:<VERSION_ID>; the RHEL family by binary name and by source RPM
//     name against <id>:<major>, comparing the installed epoch:version-release.
//   - Advisory states are kept: fixed (with the fixed version; affected below
//     it), unfixed, wont-fix and end-of-life (every version affected);
//     not-affected and limited-support give no finding.
//   - OSV ranges: introduced (inclusive) up to fixed (exclusive) or
//     last_affected (inclusive), plus the explicit "versions" list; the fixed
//     version reported is that of the matching range.
//   - Language packages owned by an OS package (Package.OwnedBy, or found by
//     Inventory.MarkOwned in the OS packages' file lists) are not matched against
//     upstream advisories: the distribution's data judges them.
//   - Go: an advisory whose every import is limited to other GOOS/GOARCH than
//     the binary's is dropped; when the binary's symbols are known,
//     Finding.Linked says whether a vulnerable symbol ("<import path>.<Symbol>",
//     or any symbol of an import that lists none) is linked in.
//   - Findings on one package that name the same vulnerability (id or alias)
//     are merged.
//
// A version that cannot be parsed never matches (logged at debug level):
// Match errs on the side of no finding for garbage, and Uncovered reports the
// packages whose namespace the database lacks, so a scan can say what it
// could not judge.
package match
