// Package storage is the registry's content-addressed blob store, behind the
// small Store interface, with two backends: a local filesystem (FS, here) and
// an S3-compatible object store (S3, s3.go).
//
// On the filesystem every write goes to a temporary file under <root>/uploads, the
// digest is computed while the bytes stream in, and the file is renamed into
// <root>/blobs/<algorithm>/<first two hex>/<hex> only once the digest matches
// what the client claimed. A crash leaves at most a stray temporary file, never
// a partial blob under its digest.
package storage

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// Errors the store returns; callers map them to OCI error codes.
var (
	ErrNotFound       = errors.New("blob not found")
	ErrDigestMismatch = errors.New("digest does not match content")
	ErrInvalidDigest  = errors.New("invalid digest")
	ErrUploadUnknown  = errors.New("upload unknown")
)

// Digest is a parsed "<algorithm>:<hex>" content digest.
type Digest struct {
	Algorithm string // "sha256" or "sha512"
	Hex       string
}

func (d Digest) String() string { return d.Algorithm + ":" + d.Hex }

var (
	reSHA256 = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-f0-9]{64}$`) })
	reSHA512 = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-f0-9]{128}$`) })
)

// ParseDigest parses and validates a digest string. Only sha256 and sha512 are accepted.
func ParseDigest(s string) (Digest, error) {
	alg, hx, ok := strings.Cut(s, ":")
	if !ok {
		return Digest{}, fmt.Errorf("%w: %q has no algorithm", ErrInvalidDigest, s)
	}
	switch alg {
	case "sha256":
		if !reSHA256().MatchString(hx) {
			return Digest{}, fmt.Errorf("%w: %q is not 64 lowercase hex digits", ErrInvalidDigest, s)
		}
	case "sha512":
		if !reSHA512().MatchString(hx) {
			return Digest{}, fmt.Errorf("%w: %q is not 128 lowercase hex digits", ErrInvalidDigest, s)
		}
	default:
		return Digest{}, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidDigest, alg)
	}
	return Digest{Algorithm: alg, Hex: hx}, nil
}

// NewHash returns the hash for a digest algorithm.
func NewHash(alg string) (hash.Hash, error) {
	switch alg {
	case "sha256":
		return sha256.New(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("%w: unsupported algorithm %q", ErrInvalidDigest, alg)
}

// FromBytes computes the digest of b with alg.
func FromBytes(alg string, b []byte) Digest {
	h, err := NewHash(alg)
	if err != nil {
		h = sha256.New()
		alg = "sha256"
	}
	h.Write(b)
	return Digest{Algorithm: alg, Hex: hex.EncodeToString(h.Sum(nil))}
}

var _ Store = (*FS)(nil)

// Describe names the store for logs.
func (s *FS) Describe() string { return s.root }

// FS is a blob store rooted at a directory.
type FS struct {
	root string

	mu      sync.Mutex
	uploads map[string]*fsUpload // live sessions (hash state kept in memory)
}

// Open creates (if needed) and opens a store at root.
func Open(root string) (*FS, error) {
	for _, d := range []string{"blobs", "uploads"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating blob store %s: %w", root, err)
		}
	}
	return &FS{root: root, uploads: map[string]*fsUpload{}}, nil
}

// Root is the store's directory.
func (s *FS) Root() string { return s.root }

func (s *FS) path(d Digest) string {
	return filepath.Join(s.root, "blobs", d.Algorithm, d.Hex[:2], d.Hex)
}

// Stat returns the size of a stored blob, or ErrNotFound.
func (s *FS) Stat(_ context.Context, d Digest) (int64, error) {
	fi, err := os.Stat(s.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, d)
	}
	if err != nil {
		return 0, fmt.Errorf("stat blob %s: %w", d, err)
	}
	return fi.Size(), nil
}

// Open opens a stored blob for reading (an *os.File, so downloads use sendfile).
func (s *FS) Open(_ context.Context, d Digest) (io.ReadSeekCloser, error) {
	f, err := os.Open(s.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, d)
	}
	if err != nil {
		return nil, fmt.Errorf("opening blob %s: %w", d, err)
	}
	return f, nil
}

// ReadAll reads a whole (small) blob, such as a manifest or config.
func (s *FS) ReadAll(ctx context.Context, d Digest, limit int64) ([]byte, error) {
	f, err := s.Open(ctx, d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", d, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("blob %s is larger than %d bytes", d, limit)
	}
	return b, nil
}

// Delete removes a stored blob (used by garbage collection only).
func (s *FS) Delete(_ context.Context, d Digest) error {
	err := os.Remove(s.path(d))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %s", ErrNotFound, d)
	}
	return err
}

// Walk calls fn for every stored blob.
func (s *FS) Walk(ctx context.Context, fn func(b BlobInfo) error) error {
	base := filepath.Join(s.root, "blobs")
	return filepath.WalkDir(base, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if de.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(base, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		if len(parts) != 3 {
			return nil
		}
		d, err := ParseDigest(parts[0] + ":" + parts[2])
		if err != nil {
			return nil // not ours
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(BlobInfo{Digest: d, Size: fi.Size(), Modified: fi.ModTime()})
	})
}

// PutBytes stores b after checking it hashes to want.
func (s *FS) PutBytes(ctx context.Context, want Digest, b []byte) error {
	if got := FromBytes(want.Algorithm, b); got != want {
		return fmt.Errorf("%w: computed %s, expected %s", ErrDigestMismatch, got, want)
	}
	if _, err := s.Stat(ctx, want); err == nil {
		return nil
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "uploads"), "put-*")
	if err != nil {
		return fmt.Errorf("storing blob %s: %w", want, err)
	}
	tmp := f.Name()
	_, werr := f.Write(b)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(tmp)
		return fmt.Errorf("storing blob %s: %w", want, werr)
	}
	return s.commitFile(tmp, want)
}

// commitFile renames a verified temporary file into place. Two writers of the
// same blob are both fine: rename is atomic and the content is identical.
func (s *FS) commitFile(tmp string, d Digest) error {
	dst := s.path(d)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("committing blob %s: %w", d, err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("committing blob %s: %w", d, err)
	}
	return nil
}

// Upload is one resumable upload session: a temporary file and the running hashes.
type fsUpload struct {
	id   string
	mu   sync.Mutex
	path string
	size int64
	h256 hash.Hash
	h512 hash.Hash // only computed when asked for (sha512 pushes are rare)
	dead bool
}

func (s *FS) uploadPath(id string) string { return filepath.Join(s.root, "uploads", "session-"+id) }

var reUploadID = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`) })

// StartUpload creates an empty upload session with the given id.
func (s *FS) StartUpload(_ context.Context, id string) (Upload, error) {
	if !reUploadID().MatchString(id) {
		return nil, fmt.Errorf("%w: bad id %q", ErrUploadUnknown, id)
	}
	p := s.uploadPath(id)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("starting upload %s: %w", id, err)
	}
	f.Close()
	u := &fsUpload{id: id, path: p, h256: sha256.New()}
	s.mu.Lock()
	s.uploads[id] = u
	s.mu.Unlock()
	return u, nil
}

// GetUpload returns a session, rebuilding its hash state from the temporary file
// after a restart.
func (s *FS) GetUpload(_ context.Context, id string) (Upload, error) {
	if !reUploadID().MatchString(id) {
		return nil, fmt.Errorf("%w: %q", ErrUploadUnknown, id)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if u, ok := s.uploads[id]; ok {
		return u, nil
	}
	p := s.uploadPath(id)
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %q", ErrUploadUnknown, id)
	}
	if err != nil {
		return nil, fmt.Errorf("opening upload %s: %w", id, err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return nil, fmt.Errorf("rehashing upload %s: %w", id, err)
	}
	u := &fsUpload{id: id, path: p, size: n, h256: h}
	s.uploads[id] = u
	return u, nil
}

// ID is the session id.
func (u *fsUpload) ID() string { return u.id }

// Size is the number of bytes received so far.
func (u *fsUpload) Size() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.size
}

// ErrRange is returned when a chunk does not start where the upload ends.
var ErrRange = errors.New("chunk out of order")

// Append writes r at offset start (-1: wherever the upload ends) and returns the new size.
// On a write error the file is truncated back so the session stays consistent.
func (u *fsUpload) Append(_ context.Context, r io.Reader, start, _ int64) (int64, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.dead {
		return 0, ErrUploadUnknown
	}
	if start >= 0 && start != u.size {
		return u.size, fmt.Errorf("%w: upload has %d bytes, chunk starts at %d", ErrRange, u.size, start)
	}
	f, err := os.OpenFile(u.path, os.O_WRONLY, 0)
	if err != nil {
		return u.size, fmt.Errorf("opening upload %s: %w", u.id, err)
	}
	defer f.Close()
	if _, err := f.Seek(u.size, io.SeekStart); err != nil {
		return u.size, fmt.Errorf("seeking upload %s: %w", u.id, err)
	}
	// Hash state is saved so a failed write can be rolled back.
	saved, _ := u.h256.(encoding.BinaryMarshaler).MarshalBinary()
	var saved512 []byte
	if u.h512 != nil {
		saved512, _ = u.h512.(encoding.BinaryMarshaler).MarshalBinary()
	}
	ws := []io.Writer{f, u.h256}
	if u.h512 != nil {
		ws = append(ws, u.h512)
	}
	buf := bufPool.Get().(*[]byte)
	n, err := io.CopyBuffer(io.MultiWriter(ws...), r, *buf)
	bufPool.Put(buf)
	if err != nil {
		// Roll back: the bytes of a failed request are not part of the upload.
		_ = f.Truncate(u.size)
		_ = u.h256.(encoding.BinaryUnmarshaler).UnmarshalBinary(saved)
		if u.h512 != nil {
			_ = u.h512.(encoding.BinaryUnmarshaler).UnmarshalBinary(saved512)
		}
		return u.size, fmt.Errorf("writing upload %s: %w", u.id, err)
	}
	u.size += n
	return u.size, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// Commit verifies the upload against want and moves it into the store.
func (s *FS) Commit(_ context.Context, up Upload, want Digest) error {
	u, ok := up.(*fsUpload)
	if !ok {
		return fmt.Errorf("%w: not a filesystem upload", ErrUploadUnknown)
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.dead {
		return ErrUploadUnknown
	}
	var got string
	switch want.Algorithm {
	case "sha256":
		got = hex.EncodeToString(u.h256.Sum(nil))
	default:
		h, err := NewHash(want.Algorithm)
		if err != nil {
			return err
		}
		f, err := os.Open(u.path)
		if err != nil {
			return fmt.Errorf("reading upload %s: %w", u.id, err)
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("reading upload %s: %w", u.id, err)
		}
		got = hex.EncodeToString(h.Sum(nil))
	}
	if got != want.Hex {
		return fmt.Errorf("%w: upload %s computed %s:%s, client claimed %s", ErrDigestMismatch, u.id, want.Algorithm, got, want)
	}
	f, err := os.OpenFile(u.path, os.O_WRONLY, 0)
	if err == nil {
		err = f.Sync()
		f.Close()
	}
	if err != nil {
		return fmt.Errorf("syncing upload %s: %w", u.id, err)
	}
	if err := s.commitFile(u.path, want); err != nil {
		return err
	}
	u.dead = true
	s.mu.Lock()
	delete(s.uploads, u.id)
	s.mu.Unlock()
	return nil
}

// Cancel discards an upload session and its temporary file.
func (s *FS) Cancel(_ context.Context, id string) error {
	s.mu.Lock()
	u := s.uploads[id]
	delete(s.uploads, id)
	s.mu.Unlock()
	if u != nil {
		u.mu.Lock()
		u.dead = true
		u.mu.Unlock()
	}
	err := os.Remove(s.uploadPath(id))
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %q", ErrUploadUnknown, id)
	}
	return err
}

// Forget drops the in-memory state of a session whose temporary file stays
// (used when a commit fails so the next attempt rehashes from disk).
func (s *FS) Forget(id string) {
	s.mu.Lock()
	delete(s.uploads, id)
	s.mu.Unlock()
}

// CleanTemp removes temporary files of one-shot writes left by a crash.
func (s *FS) CleanTemp() error {
	ents, err := os.ReadDir(filepath.Join(s.root, "uploads"))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "put-") {
			os.Remove(filepath.Join(s.root, "uploads", e.Name()))
		}
	}
	return nil
}
