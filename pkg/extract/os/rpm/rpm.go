// Package rpm extracts the installed packages of RPM-based images from the
// rpm database in any of its three formats: SQLite (rpmdb.sqlite, RHEL 9,
// Fedora 33+), Berkeley DB (Packages, RHEL ≤ 8, CentOS) and NDB (Packages.db,
// SUSE), read with anchore/go-rpmdb. .rpm files lying around are not read.
package rpm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	rpmdb "github.com/anchore/go-rpmdb/pkg"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver go-rpmdb opens rpmdb.sqlite with

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/os/distro"
	"github.com/wardensec/warden/pkg/inventory"
)

// The rpm database files, in the classic location and in /usr/lib/sysimage/rpm
// (Fedora, openSUSE).
var dbPaths = map[string]bool{
	"var/lib/rpm/Packages":              true,
	"var/lib/rpm/Packages.db":           true,
	"var/lib/rpm/rpmdb.sqlite":          true,
	"usr/lib/sysimage/rpm/Packages":     true,
	"usr/lib/sysimage/rpm/Packages.db":  true,
	"usr/lib/sysimage/rpm/rpmdb.sqlite": true,
}

// Extractor reads the rpm database.
type Extractor struct {
	// TempDir is where the database is spooled (go-rpmdb opens a path); "" is os.TempDir().
	TempDir string
}

// New returns the rpm extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "os/rpm" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor.
func (*Extractor) Required(path string, mode fs.FileMode, _ int64) bool {
	return mode.IsRegular() && dbPaths[path]
}

// Extract implements extract.Extractor.
func (e *Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	dir, err := os.MkdirTemp(e.TempDir, "warden-rpmdb-")
	if err != nil {
		return nil, fmt.Errorf("reading %s: spooling the rpm database: %w", in.Path, err)
	}
	defer os.RemoveAll(dir)
	name := filepath.Join(dir, filepath.Base(in.Path))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("reading %s: spooling the rpm database: %w", in.Path, err)
	}
	_, err = io.Copy(f, in.Reader)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("reading %s: spooling the rpm database: %w", in.Path, err)
	}
	warn := in.Warn
	if warn == nil {
		warn = func(string) {}
	}
	pkgs, err := ReadDB(name, warn)
	if err != nil {
		return nil, fmt.Errorf("reading rpm database %s: %w", in.Path, err)
	}
	for i := range pkgs {
		pkgs[i].Locations = []string{"/" + in.Path}
	}
	return pkgs, ctx.Err()
}

// ReadDB lists the packages of the rpm database file at path (sqlite, bdb or ndb).
func ReadDB(path string, warn func(string)) (pkgs []inventory.Package, err error) {
	// go-rpmdb parses untrusted binary headers; never let a bug there take the scan down.
	defer func() {
		if r := recover(); r != nil {
			pkgs, err = nil, fmt.Errorf("corrupt rpm database (parser panicked: %v)", r)
		}
	}()
	db, err := rpmdb.Open(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	list, err := db.ListPackages()
	if err != nil {
		return nil, err
	}
	for _, ri := range list {
		if ri == nil {
			continue
		}
		// gpg-pubkey entries are imported keys, not packages.
		if ri.Name == "gpg-pubkey" {
			continue
		}
		if ri.Name == "" || ri.Version == "" {
			warn(fmt.Sprintf("header with name %q version %q is incomplete; skipped", ri.Name, ri.Version))
			continue
		}
		pkgs = append(pkgs, convert(ri, warn))
	}
	return pkgs, nil
}

func convert(ri *rpmdb.PackageInfo, warn func(string)) inventory.Package {
	p := inventory.Package{
		Name:      ri.Name,
		Ecosystem: inventory.Rpm,
		Arch:      ri.Arch,
		Epoch:     ri.EpochNum(),
	}
	p.Version = evr(p.Epoch, ri.Version, ri.Release)
	if ri.License != "" {
		p.Licenses = []string{ri.License}
	}
	if ri.SourceRpm != "" && ri.SourceRpm != "(none)" {
		sn, sv, err := ParseSourceRPM(ri.SourceRpm)
		if err != nil {
			warn(fmt.Sprintf("package %s: %v", ri.Name, err))
		} else {
			// The source RPM carries no epoch; the binary's epoch applies to it.
			sv = evr(p.Epoch, sv, "")
			if sn != p.Name {
				p.SourceName = sn
			}
			if sv != p.Version {
				p.SourceVersion = sv
			}
		}
	}
	if ri.Modularitylabel != "" {
		p.Meta = map[string]string{"modularitylabel": ri.Modularitylabel}
	}
	if ri.Vendor != "" {
		if p.Meta == nil {
			p.Meta = map[string]string{}
		}
		p.Meta["vendor"] = ri.Vendor
	}
	if files, err := ri.InstalledFileNames(); err == nil {
		p.Files = files
	}
	p.PURL = distro.PURL(&p, nil)
	return p
}

func evr(epoch int, version, release string) string {
	v := version
	if release != "" {
		v += "-" + release
	}
	if epoch != 0 {
		v = strconv.Itoa(epoch) + ":" + v
	}
	return v
}

// ParseSourceRPM splits a source RPM file name "openssl-3.0.7-27.el9.src.rpm"
// into its name ("openssl") and version-release ("3.0.7-27.el9").
func ParseSourceRPM(s string) (name, versionRelease string, err error) {
	base := strings.TrimSuffix(s, ".rpm")
	if base == s {
		return "", "", fmt.Errorf("source RPM %q does not end in .rpm", s)
	}
	if i := strings.LastIndexByte(base, '.'); i > 0 {
		base = base[:i] // .src / .nosrc
	}
	ri := strings.LastIndexByte(base, '-')
	if ri <= 0 {
		return "", "", fmt.Errorf("source RPM %q has no release", s)
	}
	vi := strings.LastIndexByte(base[:ri], '-')
	if vi <= 0 {
		return "", "", fmt.Errorf("source RPM %q has no version", s)
	}
	if base[:vi] == "" || base[vi+1:ri] == "" || base[ri+1:] == "" {
		return "", "", errors.New("source RPM " + strconv.Quote(s) + " is not name-version-release")
	}
	return base[:vi], base[vi+1:], nil
}
