package lint

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Defaults for the file pass.
const (
	DefaultMaxFileBytes  = 64 << 10
	DefaultMaxFileSize   = 1 << 20
	DefaultMaxLayerBytes = 16 << 30
)

// ErrLayerTooLarge is returned when a layer decompresses to more than Options.MaxLayerBytes.
var ErrLayerTooLarge = errors.New("layer exceeds the uncompressed size limit")

// noSecretScan are path prefixes whose files are documentation or toolchain
// test fixtures (the Go toolchain ships test private keys in its sources).
var noSecretScan = []string{
	"usr/share/doc/", "usr/share/man/", "usr/share/info/", "usr/include/",
	"usr/local/go/src/", "usr/local/go/test/", "usr/lib/go/src/", "usr/share/go/",
	"proc/", "sys/", "dev/",
}

var pythonTestDir = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^usr/(local/)?lib/python[0-9.]+/test/`) })

// cacheKind classifies a path as a package-manager cache file, returning the
// cache's name and the directory to report ("" when it is not one).
func cacheKind(p string) (kind, dir string) {
	switch {
	case strings.HasPrefix(p, "var/cache/apt/archives/") && strings.HasSuffix(p, ".deb"):
		return "apt downloaded packages", "/var/cache/apt/archives"
	case strings.HasPrefix(p, "var/cache/apt/") && strings.HasSuffix(p, ".bin"):
		return "apt package cache", "/var/cache/apt"
	case strings.HasPrefix(p, "var/lib/apt/lists/") && !strings.HasPrefix(p, "var/lib/apt/lists/partial/") && path.Base(p) != "lock":
		return "apt package lists", "/var/lib/apt/lists"
	case strings.HasPrefix(p, "var/cache/apk/") || strings.HasPrefix(p, "etc/apk/cache/"):
		return "apk cache", "/" + strings.Join(strings.SplitN(p, "/", 4)[:3], "/")
	case strings.HasPrefix(p, "var/cache/yum/"):
		return "yum cache", "/var/cache/yum"
	case strings.HasPrefix(p, "var/cache/dnf/"):
		return "dnf cache", "/var/cache/dnf"
	case strings.HasPrefix(p, "var/cache/zypp/"):
		return "zypper cache", "/var/cache/zypp"
	}
	if i := strings.Index(p, ".cache/pip/"); i >= 0 && (i == 0 || p[i-1] == '/') {
		return "pip cache", "/" + p[:i] + ".cache/pip"
	}
	if i := strings.Index(p, ".npm/_cacache/"); i >= 0 && (i == 0 || p[i-1] == '/') {
		return "npm cache", "/" + p[:i] + ".npm/_cacache"
	}
	return "", ""
}

// credentialFile are credential files recognised by name, with the pattern
// that shows a real credential in them.
var credentialFiles = sync.OnceValue(func() []credentialFile {
	return []credentialFile{
		{".docker/config.json", "Docker registry credentials", regexp.MustCompile(`"auth"\s*:\s*"[A-Za-z0-9+/=]{8,}"`)},
		{".git-credentials", "Git credentials", regexp.MustCompile(`https?://[^:/\s]+:[^@\s]{4,}@`)},
		{".npmrc", "npm auth token", regexp.MustCompile(`_auth(Token)?\s*=\s*[^\s$]{8,}`)},
		{".aws/credentials", "AWS secret access key", regexp.MustCompile(`(?i)aws_secret_access_key\s*=\s*[A-Za-z0-9/+=]{40}`)},
		{".netrc", "netrc password", regexp.MustCompile(`\bpassword\s+\S{4,}`)},
		{".pgpass", "PostgreSQL password file", regexp.MustCompile(`^[^:\n]*:[^:\n]*:[^:\n]*:[^:\n]*:.{4,}`)},
	}
})

type credentialFile struct {
	suffix string
	title  string
	re     *regexp.Regexp
}

// item is something found in a layer whose fate in later layers matters.
type item struct {
	finding Finding
	layer   int
	removed int // layer that deleted/replaced it; -1 while present
	cache   string
	cdir    string
	size    int64
}

// FileFindings streams every layer once and returns the file findings
// (secrets, setuid/setgid files, package caches) and the image's total
// uncompressed size.
func FileFindings(ctx context.Context, layers []v1.Layer, opt Options) ([]Finding, int64, error) {
	if opt.MaxFileBytes <= 0 {
		opt.MaxFileBytes = DefaultMaxFileBytes
	}
	if opt.MaxFileSize <= 0 {
		opt.MaxFileSize = DefaultMaxFileSize
	}
	if opt.MaxLayerBytes <= 0 {
		opt.MaxLayerBytes = DefaultMaxLayerBytes
	}
	var (
		items  []*item
		byPath = map[string][]*item{}
		// ancestors of tracked paths, so that removing a file (the common
		// case) does not scan every tracked item
		dirs  = map[string]bool{}
		total int64
		buf   = make([]byte, opt.MaxFileBytes)
	)
	track := func(p string, it *item) {
		items = append(items, it)
		byPath[p] = append(byPath[p], it)
		for d := path.Dir(p); d != "." && d != "/" && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
		dirs[""] = true
	}
	// remove marks the items at p (and under p/ when tree) from layers below li as removed in li.
	remove := func(p string, li int, tree bool) {
		for _, it := range byPath[p] {
			if it.layer < li && it.removed < 0 {
				it.removed = li
			}
		}
		if !tree || !dirs[p] {
			return
		}
		prefix := p + "/"
		if p == "" {
			prefix = ""
		}
		for q, its := range byPath {
			if strings.HasPrefix(q, prefix) {
				for _, it := range its {
					if it.layer < li && it.removed < 0 {
						it.removed = li
					}
				}
			}
		}
	}

	for li, l := range layers {
		diff, err := l.DiffID()
		if err != nil {
			return nil, 0, fmt.Errorf("layer %d: diff ID: %w", li, err)
		}
		n, err := scanLayer(ctx, l, li, diff.String(), opt, buf, track, remove)
		total += n
		if err != nil {
			return nil, total, fmt.Errorf("layer %d (%s): %w", li, diff, err)
		}
	}

	var out []Finding
	type cacheAgg struct {
		kind, dir string
		files     int
		bytes     int64
		layers    map[int]bool
	}
	caches := map[string]*cacheAgg{}
	for _, it := range items {
		switch {
		case it.cache != "":
			if it.removed >= 0 {
				continue
			}
			c := caches[it.cdir]
			if c == nil {
				c = &cacheAgg{kind: it.cache, dir: it.cdir, layers: map[int]bool{}}
				caches[it.cdir] = c
			}
			c.files++
			c.bytes += it.size
			c.layers[it.layer] = true
		case it.finding.ID == SetuidFile:
			if it.removed >= 0 {
				continue // gone from the final filesystem: nothing runs it
			}
			out = append(out, it.finding)
		default: // secrets count even when a later layer removed them
			f := it.finding
			if it.removed >= 0 {
				f.RemovedInLayer = intp(it.removed)
				f.Detail += fmt.Sprintf("; deleted or overwritten in layer %d but still readable in layer %d", it.removed, it.layer)
			}
			out = append(out, f)
		}
	}
	cdirs := make([]string, 0, len(caches))
	for d := range caches {
		cdirs = append(cdirs, d)
	}
	sort.Strings(cdirs)
	for _, d := range cdirs {
		c := caches[d]
		var ls []int
		for l := range c.layers {
			ls = append(ls, l)
		}
		sort.Ints(ls)
		f := NewFinding(PackageCache, fmt.Sprintf("%s: %d files, %.1f KB, added in layer %s", c.kind, c.files, float64(c.bytes)/1024, joinInts(ls)))
		f.Path = c.dir
		f.LayerIndex = intp(ls[0])
		out = append(out, f)
	}
	return out, total, nil
}

func joinInts(is []int) string {
	s := make([]string, len(is))
	for i, v := range is {
		s[i] = fmt.Sprint(v)
	}
	return strings.Join(s, ", ")
}

// countingReader counts bytes and fails past a limit.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.limit {
		return 0, fmt.Errorf("%w (%d bytes)", ErrLayerTooLarge, c.limit)
	}
	if int64(len(p)) > c.limit-c.n {
		p = p[:c.limit-c.n]
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func scanLayer(ctx context.Context, l v1.Layer, li int, diff string, opt Options, buf []byte,
	track func(string, *item), remove func(string, int, bool)) (int64, error) {
	rc, err := l.Uncompressed()
	if err != nil {
		return 0, fmt.Errorf("opening: %w", err)
	}
	defer rc.Close()
	cr := &countingReader{r: rc, limit: opt.MaxLayerBytes}
	tr := tar.NewReader(cr)
	for entries := 0; ; entries++ {
		if entries%256 == 0 {
			if err := ctx.Err(); err != nil {
				return cr.n, err
			}
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return cr.n, fmt.Errorf("reading tar entry %d: %w", entries, err)
		}
		p := cleanPath(hdr.Name)
		if p == "" {
			continue
		}
		dir, base := path.Dir(p), path.Base(p)
		if dir == "." {
			dir = ""
		}
		if base == ".wh..wh..opq" {
			remove(dir, li, true)
			continue
		}
		if strings.HasPrefix(base, ".wh.") {
			remove(path.Join(dir, strings.TrimPrefix(base, ".wh.")), li, true)
			continue
		}
		// Any other entry at p replaces what lower layers had there (a
		// directory entry replaces only a non-directory).
		remove(p, li, hdr.Typeflag != tar.TypeDir)

		if hdr.Typeflag != tar.TypeReg && hdr.Typeflag != tar.TypeRegA {
			continue
		}
		if hdr.Mode&0o6000 != 0 {
			what := "setuid"
			switch {
			case hdr.Mode&0o6000 == 0o6000:
				what = "setuid and setgid"
			case hdr.Mode&0o2000 != 0:
				what = "setgid"
			}
			f := NewFinding(SetuidFile, fmt.Sprintf("/%s is %s, mode %04o, owner uid %d gid %d", p, what, hdr.Mode&0o7777, hdr.Uid, hdr.Gid))
			f.Path, f.Layer, f.LayerIndex = "/"+p, diff, intp(li)
			track(p, &item{finding: f, layer: li, removed: -1})
		}
		if kind, cdir := cacheKind(p); kind != "" {
			track(p, &item{cache: kind, cdir: cdir, layer: li, removed: -1, size: hdr.Size})
			continue
		}
		if hdr.Size == 0 || hdr.Size > opt.MaxFileSize || skipSecretScan(p) {
			continue
		}
		n, err := io.ReadFull(tr, buf[:min(int64(len(buf)), hdr.Size)])
		if err != nil && err != io.ErrUnexpectedEOF {
			return cr.n, fmt.Errorf("reading %s: %w", p, err)
		}
		content := buf[:n]
		if bytes.HasPrefix(content, []byte("\x7fELF")) {
			continue
		}
		for _, m := range fileSecrets(p, content) {
			f := NewFinding(SecretFile, fmt.Sprintf("%s in /%s (%s), added in layer %d", m.Title, p, m.Redacted, li))
			f.Path, f.Layer, f.LayerIndex = "/"+p, diff, intp(li)
			track(p, &item{finding: f, layer: li, removed: -1})
		}
	}
	// Drain what the tar reader did not consume, so the size is the layer's.
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return cr.n, fmt.Errorf("reading: %w", err)
	}
	return cr.n, nil
}

// fileSecrets finds secrets in a file's first bytes: the general patterns,
// plus the credential files recognised by name.
func fileSecrets(p string, content []byte) []SecretMatch {
	ms := FindSecrets(content)
	for _, cf := range credentialFiles() {
		if strings.HasSuffix("/"+p, "/"+cf.suffix) && cf.re.Match(content) {
			ms = append(ms, SecretMatch{Rule: "credential-file", Title: cf.title, Redacted: "credentials redacted"})
		}
	}
	return ms
}

func skipSecretScan(p string) bool {
	for _, pre := range noSecretScan {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return pythonTestDir().MatchString(p)
}

// cleanPath turns a tar entry name into a clean relative path ("" for the root
// or for a name that climbs out of the layer).
func cleanPath(name string) string {
	p := path.Clean("/" + strings.TrimPrefix(name, "./"))
	p = strings.TrimPrefix(p, "/")
	if p == "." || strings.HasPrefix(p, "../") {
		return ""
	}
	return p
}
