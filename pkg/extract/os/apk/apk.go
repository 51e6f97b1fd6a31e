// Package apk extracts the installed packages of Alpine-family images from
// apk's installed database, lib/apk/db/installed.
//
// The format (apk-tools, "installed database"): records separated by blank
// lines, each line "<letter>:<value>". P name, V version, A arch, o origin
// (source package), L licence, c aports commit, F a directory and R a file in
// the last F directory (the files the package owns).
package apk

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/wardensec/warden/pkg/extract/os/distro"
	"github.com/wardensec/warden/pkg/inventory"

	"github.com/wardensec/warden/pkg/extract"
)

// DBPath is the installed database (apk-tools 2 and 3).
const DBPath = "lib/apk/db/installed"

// UsrDBPath is where the database lives in usr-merged images (Wolfi,
// Chainguard), where /lib is a symlink to /usr/lib that the walk does not follow.
const UsrDBPath = "usr/lib/apk/db/installed"

// maxLine bounds one line of the database.
const maxLine = 1 << 20

// Extractor reads lib/apk/db/installed.
type Extractor struct{}

// New returns the apk extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "os/apk" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 2 }

// Required implements extract.Extractor.
func (*Extractor) Required(path string, mode fs.FileMode, _ int64) bool {
	return (path == DBPath || path == UsrDBPath) && mode.IsRegular()
}

// Merge implements extract.Merger: when an image has both databases (it
// should not), the packages of /lib/apk/db/installed, the one apk reads, win.
func (*Extractor) Merge(pkgs []inventory.Package) []inventory.Package {
	hasLib := false
	for _, p := range pkgs {
		hasLib = hasLib || (len(p.Locations) > 0 && p.Locations[0] == "/"+DBPath)
	}
	if !hasLib {
		return pkgs
	}
	out := pkgs[:0:0]
	for _, p := range pkgs {
		if len(p.Locations) > 0 && p.Locations[0] == "/"+UsrDBPath {
			continue
		}
		out = append(out, p)
	}
	return out
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	warn := in.Warn
	if warn == nil {
		warn = func(string) {}
	}
	pkgs, err := Parse(in.Reader, warn)
	for i := range pkgs {
		pkgs[i].Locations = []string{"/" + in.Path}
	}
	if err != nil {
		return pkgs, fmt.Errorf("reading %s: %w", in.Path, err)
	}
	return pkgs, ctx.Err()
}

// Parse reads an apk installed database. A record without a name or a
// version is reported through warn and skipped; the others are returned.
func Parse(r io.Reader, warn func(string)) ([]inventory.Package, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var (
		pkgs   []inventory.Package
		cur    inventory.Package
		dir    string
		lineNo int
		start  int
		any    bool
	)
	flush := func() {
		if !any {
			return
		}
		switch {
		case cur.Name == "" && cur.Version == "":
			warn(fmt.Sprintf("record at line %d has no package name (P:) and no version (V:); skipped", start))
		case cur.Name == "":
			warn(fmt.Sprintf("record at line %d (version %q) has no package name (P:); skipped", start, cur.Version))
		case cur.Version == "":
			warn(fmt.Sprintf("record at line %d (package %q) has no version (V:); skipped", start, cur.Name))
		default:
			if cur.SourceName == cur.Name {
				cur.SourceName = ""
			}
			cur.Ecosystem = inventory.Apk
			cur.Locations = []string{"/" + DBPath}
			cur.PURL = distro.PURL(&cur, nil)
			pkgs = append(pkgs, cur)
		}
		cur, dir, any = inventory.Package{}, "", false
	}
	for sc.Scan() {
		lineNo++
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			flush()
			continue
		}
		if !any {
			any, start = true, lineNo
		}
		if len(line) < 2 || line[1] != ':' {
			warn(fmt.Sprintf("line %d: not a \"<letter>:<value>\" line: %q", lineNo, clip(line)))
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			cur.Name = v
		case 'V':
			cur.Version = v
		case 'A':
			cur.Arch = v
		case 'o':
			cur.SourceName = v
		case 'L':
			if v != "" {
				cur.Licenses = []string{v}
			}
		case 'c':
			setMeta(&cur, "commit", v)
		case 'm':
			setMeta(&cur, "maintainer", v)
		case 'F':
			dir = strings.Trim(v, "/")
		case 'R':
			if dir == "" {
				cur.Files = append(cur.Files, "/"+v)
			} else {
				cur.Files = append(cur.Files, "/"+dir+"/"+v)
			}
		}
	}
	if err := sc.Err(); err != nil {
		return pkgs, fmt.Errorf("line %d: %w", lineNo+1, err)
	}
	flush()
	return pkgs, nil
}

func setMeta(p *inventory.Package, k, v string) {
	if v == "" {
		return
	}
	if p.Meta == nil {
		p.Meta = map[string]string{}
	}
	p.Meta[k] = v
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
