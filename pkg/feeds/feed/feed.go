// Package feed holds what every feed reader shares: walking a source (a
// directory, a zip, a single file) file by file with bounded reads, sniffing
// the kind of a file from its content, and collecting warnings about
// malformed records.
package feed

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// MaxFileSize bounds how much one feed file (or zip member) may decompress to.
const MaxFileSize = 512 << 20

// Entry is one file of a feed source.
type Entry struct {
	Name    string // path inside the source (slash-separated), or the file path
	Source  string // the directory, zip or file it belongs to
	Size    int64
	ModTime time.Time
	open    func() (io.ReadCloser, error)
}

// Open opens the file, bounded by MaxFileSize.
func (e *Entry) Open() (io.ReadCloser, error) {
	rc, err := e.open()
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", e, err)
	}
	return &limited{r: io.LimitReader(rc, MaxFileSize+1), c: rc, name: e.String()}, nil
}

// ReadAll reads the whole file.
func (e *Entry) ReadAll() ([]byte, error) {
	rc, err := e.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", e, err)
	}
	return b, nil
}

func (e *Entry) String() string {
	if e.Source == "" || e.Source == e.Name {
		return e.Name
	}
	return e.Source + "!" + e.Name
}

// Base is the file name without its directories.
func (e *Entry) Base() string { return filepath.Base(filepath.FromSlash(e.Name)) }

type limited struct {
	r    io.Reader
	c    io.Closer
	n    int64
	name string
}

func (l *limited) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	l.n += int64(n)
	if l.n > MaxFileSize {
		return n, fmt.Errorf("%s is larger than %d bytes", l.name, MaxFileSize)
	}
	return n, err
}
func (l *limited) Close() error { return l.c.Close() }

// NewEntry makes an Entry from bytes (tests, URLs fetched into memory).
func NewEntry(name string, data []byte) *Entry {
	return &Entry{Name: name, Size: int64(len(data)), open: func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}}
}

// IsZip reports whether the file at path starts with a zip signature.
func IsZip(path string) bool {
	b := magic(path)
	return b == "PK\x03\x04" || b == "PK\x05\x06"
}

// magic is the first four bytes of the file at path ("" when it cannot be read).
func magic(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	var b [4]byte
	if _, err := io.ReadFull(f, b[:]); err != nil {
		return ""
	}
	return string(b[:])
}

// Walk calls fn for every regular file of path: a directory (recursively,
// sorted, zips and tar.zst archives inside it walked too), a zip, a tar.zst
// archive (Red Hat's CSAF VEX archive), or a single file.
func Walk(ctx context.Context, path string, fn func(e *Entry) error) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("feed source %s: %w", path, err)
	}
	if !fi.IsDir() {
		return walkFile(ctx, path, fi, fn)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("feed source %s: %w", path, err)
	}
	sort.Strings(files)
	for _, p := range files {
		if err := ctx.Err(); err != nil {
			return err
		}
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("feed source %s: %w", p, err)
		}
		if err := walkFile(ctx, p, fi, fn); err != nil {
			return err
		}
	}
	return nil
}

func walkFile(ctx context.Context, path string, fi fs.FileInfo, fn func(e *Entry) error) error {
	if IsZip(path) {
		return WalkZip(ctx, path, fn)
	}
	if IsZstd(path) {
		return WalkTarZst(ctx, path, fn)
	}
	return fn(&Entry{Name: path, Size: fi.Size(), ModTime: fi.ModTime(), open: func() (io.ReadCloser, error) { return os.Open(path) }})
}

// WalkZip calls fn for every file in the zip at path, in the archive's order.
// A truncated or damaged archive is an error.
func WalkZip(ctx context.Context, path string, fn func(e *Entry) error) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("opening zip %s (truncated or damaged?): %w", path, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if f.FileInfo().IsDir() {
			continue
		}
		if f.UncompressedSize64 > MaxFileSize {
			return fmt.Errorf("zip %s: %s is %d bytes, more than the %d allowed", path, f.Name, f.UncompressedSize64, MaxFileSize)
		}
		f := f
		e := &Entry{Name: f.Name, Source: path, Size: int64(f.UncompressedSize64), ModTime: f.Modified, open: func() (io.ReadCloser, error) { return f.Open() }}
		if err := fn(e); err != nil {
			if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) || errors.Is(err, io.ErrUnexpectedEOF) {
				return fmt.Errorf("zip %s is damaged at %s: %w", path, f.Name, err)
			}
			return err
		}
	}
	return nil
}

// Kinds of feed files.
const (
	KindOSV           = "osv"
	KindSecDB         = "alpine" // Alpine / Wolfi / Chainguard secdb
	KindDebianJSON    = "debian-json"
	KindDebianList    = "debian-dsa" // data/DSA/list, data/DLA/list
	KindDebianSupport = "debian-support"
	KindUbuntuOVAL    = "ubuntu-oval"
	KindRHELOVAL      = "rhel-oval"
	KindNVD           = "nvd"
	KindAmazon        = "amazon"      // Amazon Linux updateinfo.xml (ALAS)
	KindCSAF          = "redhat-csaf" // Red Hat CSAF VEX files and repository-to-cpe.json
	KindBundle        = "bundle"
)

// Kinds lists every kind, for KIND:PATH arguments and messages.
var Kinds = []string{KindOSV, KindSecDB, KindDebianJSON, KindDebianList, KindDebianSupport, KindUbuntuOVAL, KindRHELOVAL, KindNVD, KindAmazon, KindCSAF, KindBundle}

// Sniff guesses the kind of a feed file from its name and first bytes; ""
// when it is not a feed file (a README, a licence).
func Sniff(name string, head []byte) string {
	base := strings.ToLower(filepath.Base(name))
	h := string(head)
	trim := strings.TrimLeft(h, " \t\r\n\ufeff")
	switch {
	case strings.HasPrefix(h, "\x1f\x8b"), len(h) >= 32 && strings.Contains(h[:32], "\xed\xda\x0c\xed"):
		return KindBundle
	case strings.HasPrefix(trim, "<"):
		if strings.Contains(h, "<updates") && strings.Contains(h, "<update ") {
			return KindAmazon
		}
		if !strings.Contains(h, "oval_definitions") {
			return ""
		}
		if strings.Contains(h, "com.ubuntu") || strings.Contains(h, "Canonical") {
			return KindUbuntuOVAL
		}
		return KindRHELOVAL
	case strings.HasPrefix(h, "[") && (strings.Contains(h, "] DSA-") || strings.Contains(h, "] DLA-")):
		return KindDebianList
	case strings.HasPrefix(trim, "{") || strings.HasPrefix(trim, "["):
		switch {
		case strings.Contains(h, `"csaf_version"`) || strings.Contains(h, `"csaf_vex"`),
			strings.Contains(h, `"data"`) && strings.Contains(h, `"cpes"`) && strings.Contains(h, `-rpms"`):
			return KindCSAF
		case strings.Contains(h, `"apkurl"`) || strings.Contains(h, `"secfixes"`):
			return KindSecDB
		case strings.Contains(h, `"vulnerabilities"`) && strings.Contains(h, `"cve"`),
			strings.Contains(h, `"sourceIdentifier"`) && strings.Contains(h, `"CVE-`),
			strings.Contains(h, `"resultsPerPage"`):
			return KindNVD
		case strings.Contains(h, `"releases"`) && strings.Contains(h, `"CVE-`) && !strings.Contains(h, `"affected"`):
			return KindDebianJSON
		case strings.Contains(h, `"affected"`), strings.Contains(h, `"schema_version"`),
			strings.Contains(h, `"id"`) && strings.Contains(h, `"modified"`):
			return KindOSV
		}
		return ""
	case strings.HasSuffix(base, ".yaml") || strings.HasSuffix(base, ".yml"):
		if strings.Contains(h, "\nid:") || strings.HasPrefix(h, "id:") || strings.Contains(h, "\naffected:") {
			return KindOSV
		}
		return ""
	case strings.HasPrefix(base, "security-support-"):
		return KindDebianSupport
	}
	return ""
}

// SniffEntry reads the first bytes of an entry and sniffs them.
func SniffEntry(e *Entry) (string, error) {
	rc, err := e.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	head := make([]byte, 8192)
	n, err := io.ReadFull(bufio.NewReader(rc), head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading %s: %w", e, err)
	}
	return Sniff(e.Name, head[:n]), nil
}

// Warnings collects skipped malformed records; each is logged as it comes.
type Warnings struct {
	Logger *slog.Logger
	List   []string
}

// Skip records one malformed record that was skipped.
func (w *Warnings) Skip(file, record string, err error) {
	msg := fmt.Sprintf("%s: skipping record %s: %v", file, record, err)
	if record == "" {
		msg = fmt.Sprintf("%s: skipping: %v", file, err)
	}
	w.List = append(w.List, msg)
	if w.Logger != nil {
		w.Logger.Warn("skipping a malformed record", "file", file, "record", record, "err", err)
	}
}

// ParseTime parses the timestamps feeds use (RFC 3339 with or without
// fraction/zone, dates); year 1 and failures are the zero time.
func ParseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02", "20060102"} {
		if t, err := time.Parse(layout, s); err == nil {
			if t.Year() <= 1 {
				return time.Time{}
			}
			return t.UTC()
		}
	}
	return time.Time{}
}
