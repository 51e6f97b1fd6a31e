package source

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"
)

// maxTarEntries bounds the index of an image archive (a real one holds a few
// files per layer).
const maxTarEntries = 1 << 20

// tarFS is a read-only fs.FS over an uncompressed tar held in an io.ReaderAt:
// one pass over the headers (seeking past file bodies) records where each
// regular file's bytes are, so an OCI archive is read in place without
// unpacking it to disk.
type tarFS struct {
	r     io.ReaderAt
	files map[string]tarEntry
	names []string // in archive order, for sniffing and error messages
	// unterminated: the archive does not end with the two zero blocks that
	// close a tar, so it was probably cut short (a cut on an entry boundary
	// otherwise reads as a shorter, valid tar).
	unterminated bool
	// memo remembers digests of entries (compressed layers); nil: none.
	memo *archiveMemo
}

type tarEntry struct {
	off, size int64
	typ       byte
	link      string
}

// indexTar reads the headers of the tar in r (size bytes).
func indexTar(r io.ReaderAt, size int64) (*tarFS, error) {
	sr := io.NewSectionReader(r, 0, size)
	tr := tar.NewReader(sr)
	t := &tarFS{r: r, files: map[string]tarEntry{}}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("reading tar: archive truncated: %w", err)
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		if len(t.names) >= maxTarEntries {
			return nil, fmt.Errorf("reading tar: more than %d entries", maxTarEntries)
		}
		name := cleanName(h.Name)
		if name == "" {
			continue
		}
		// The tar reader reads headers block by block and seeks over bodies,
		// so the section's position is now the start of this entry's body.
		off, err := sr.Seek(0, io.SeekCurrent)
		if err != nil {
			return nil, err
		}
		e := tarEntry{off: off, typ: h.Typeflag, link: h.Linkname}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			e.typ = tar.TypeReg
			if h.Size < 0 || off+h.Size > size {
				return nil, fmt.Errorf("reading tar: entry %q: %d bytes declared, archive truncated", h.Name, h.Size)
			}
			e.size = h.Size
		case tar.TypeSymlink, tar.TypeLink, tar.TypeDir:
		default:
			continue
		}
		if _, dup := t.files[name]; !dup {
			t.names = append(t.names, name)
		}
		t.files[name] = e
	}
	t.unterminated = !endsWithZeroBlocks(r, size)
	return t, nil
}

func endsWithZeroBlocks(r io.ReaderAt, size int64) bool {
	if size < 1024 {
		return false
	}
	var b [1024]byte
	if _, err := r.ReadAt(b[:], size-1024); err != nil {
		return false
	}
	return b == [1024]byte{}
}

// cleanName makes a tar entry name an fs.FS name ("./a/b/" -> "a/b"); names
// escaping the root are dropped ("").
func cleanName(n string) string {
	n = path.Clean("/" + strings.TrimPrefix(n, "./"))
	n = strings.TrimPrefix(n, "/")
	if n == "" || !fs.ValidPath(n) {
		return ""
	}
	return n
}

// has reports whether the archive holds a regular file (or link) name.
func (t *tarFS) has(name string) bool {
	_, ok := t.files[name]
	return ok
}

func (t *tarFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	e, err := t.resolve(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if e.typ == tar.TypeDir {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	return &tarFile{name: path.Base(name), size: e.size, SectionReader: io.NewSectionReader(t.r, e.off, e.size)}, nil
}

// resolve follows symlinks and hard links inside the archive (docker save
// links identical layers), at most 16 hops.
func (t *tarFS) resolve(name string) (tarEntry, error) {
	for range 16 {
		e, ok := t.files[name]
		if !ok {
			return tarEntry{}, fs.ErrNotExist
		}
		switch e.typ {
		case tar.TypeSymlink:
			target := e.link
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(name), target)
			}
			name = cleanName(target)
		case tar.TypeLink:
			name = cleanName(e.link)
		default:
			return e, nil
		}
	}
	return tarEntry{}, errors.New("too many links")
}

type tarFile struct {
	*io.SectionReader
	name string
	size int64
}

func (f *tarFile) Stat() (fs.FileInfo, error) { return f, nil }
func (f *tarFile) Close() error               { return nil }
func (f *tarFile) Name() string               { return f.name }
func (f *tarFile) Size() int64                { return f.size }
func (f *tarFile) Mode() fs.FileMode          { return 0o444 }
func (f *tarFile) ModTime() time.Time         { return time.Time{} }
func (f *tarFile) IsDir() bool                { return false }
func (f *tarFile) Sys() any                   { return nil }
