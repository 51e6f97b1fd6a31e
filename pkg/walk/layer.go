package walk

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/zstd"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/os/distro"
	"github.com/wardensec/warden/pkg/inflate"
	"github.com/wardensec/warden/pkg/inventory"
)

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// source is how a layer's bytes are read: open gives them as stored, id is
// their sha256 (checked while reading, so that a cached result always belongs
// to the bytes it was made from).
type source struct {
	open func() (io.ReadCloser, error)
	id   v1.Hash
}

// layerSource picks how to read a layer without a round of recompression:
// layers that go-containerregistry holds uncompressed (docker save, the Docker
// Engine) are read through Uncompressed, which for them is a plain read, and
// identified by their diff ID; the others through Compressed, identified by
// their blob digest, and inflated by readLayer with a faster inflater than
// go-containerregistry's.
//
// Unless the digest is needed first (lookup: for a cache lookup), a layer
// that can say its digest is not yet known (knownDigest: pkg/source's
// docker-archive layers) is read without one: its stream learns the digest
// as the walk reads it, so nothing hashes the layer beforehand; and when the
// digest is not needed at all (keep false: no cache to store the result
// under, and Options.LearnDigests unset), through a stream that does not hash
// (unhashedStream).
func layerSource(l v1.Layer, diffID v1.Hash, lookup, keep bool) (source, error) {
	mt, _ := l.MediaType()
	if mt == types.OCIUncompressedLayer || mt == types.DockerUncompressedLayer || mt == types.OCIUncompressedRestrictedLayer ||
		strings.Contains(strings.ToLower(reflect.TypeOf(l).String()), "uncompressed") {
		return source{open: l.Uncompressed, id: diffID}, nil
	}
	if k, ok := l.(knownDigest); ok && !lookup {
		if _, known := k.KnownDigest(); !known {
			if u, ok := l.(unhashedStream); ok && !keep {
				return source{open: u.CompressedUnhashed}, nil
			}
			return source{open: l.Compressed}, nil
		}
	}
	d, err := l.Digest()
	if err != nil {
		return source{}, fmt.Errorf("reading digest: %w", err)
	}
	return source{open: l.Compressed, id: d}, nil
}

// knownDigest is implemented by layers whose Digest may cost a read of the
// whole layer: KnownDigest says whether it is known without one.
type knownDigest interface {
	KnownDigest() (v1.Hash, bool)
}

// unhashedStream is implemented by layers whose Compressed hashes the bytes
// only to learn a digest nobody listed (pkg/source's docker-archive layers):
// CompressedUnhashed reads them without.
type unhashedStream interface {
	CompressedUnhashed() (io.ReadCloser, error)
}

// verifiedStream is implemented by a layer stream (what a v1.Layer's
// Compressed or Uncompressed returns) that checks by itself that its bytes
// hash to VerifiedDigest and fails its last read (at EOF) when they do not, as
// pkg/source's streams do: the walk then does not hash them a second time.
type verifiedStream interface {
	VerifiedDigest() v1.Hash
}

// scanLayer streams one layer, extracts what the extractors ask for, and
// checks that the bytes read hash to the layer's content ID. When igzip's
// result is not certain (inflate.ErrRetry), the layer is read once more
// with the in-process inflater.
func scanLayer(ctx context.Context, src source, idx int, diffID string, opt *Options) (*layerResult, error) {
	res, err := scanLayerOnce(ctx, src, idx, diffID, opt)
	if errors.Is(err, inflate.ErrRetry) && ctx.Err() == nil {
		opt.Logger.Debug("reading the layer again with the in-process inflater", "layer", diffID, "why", err)
		o := *opt
		o.Gzip = &inflate.Gzip{}
		res, err = scanLayerOnce(ctx, src, idx, diffID, &o)
	}
	return res, err
}

func scanLayerOnce(ctx context.Context, src source, idx int, diffID string, opt *Options) (*layerResult, error) {
	rc, err := src.open()
	if err != nil {
		return nil, fmt.Errorf("image %s: layer %d (%s): opening: %w", opt.ImageName, idx, diffID, err)
	}
	defer rc.Close()
	var h hash.Hash
	var r io.Reader = rc
	verified := false
	if v, ok := rc.(verifiedStream); ok && v.VerifiedDigest() == src.id {
		verified = true // the stream fails its last read on a mismatch
	} else if src.id.Algorithm == "sha256" {
		h = sha256.New()
		r = io.TeeReader(rc, h)
	}
	// Reading and hashing the stored bytes runs ahead in its own goroutine.
	ar := newAheadReader(r)
	defer ar.Close()
	res, err := readLayer(ctx, ar, diffID, opt)
	if err != nil {
		return nil, fmt.Errorf("image %s: layer %d (%s): %w", opt.ImageName, idx, diffID, err)
	}
	if verified || src.id.Hex == "" {
		// Read to the end, where the stream checks (or learns) its digest.
		n, err := io.Copy(io.Discard, io.LimitReader(ar, 1<<20+1))
		if err != nil {
			return nil, fmt.Errorf("image %s: layer %d (%s): %w", opt.ImageName, idx, diffID, err)
		}
		if n > 1<<20 {
			what := "over 1 MiB of data after the layer's end"
			if src.id.Hex != "" {
				what += ", not checked against " + src.id.String()
			}
			return nil, fmt.Errorf("image %s: layer %d (%s): %s: %w", opt.ImageName, idx, diffID, what, ErrDigestMismatch)
		}
	}
	if h != nil {
		// Whatever follows the compressed stream counts too.
		if _, err := io.Copy(io.Discard, io.LimitReader(ar, 1<<20)); err != nil {
			return nil, fmt.Errorf("image %s: layer %d (%s): %w", opt.ImageName, idx, diffID, err)
		}
		ar.Close() // h is complete once the goroutine is gone
		if got := hex.EncodeToString(h.Sum(nil)); got != src.id.Hex {
			return nil, fmt.Errorf("image %s: layer %d (%s): content is sha256:%s, not %s as the image says: %w", opt.ImageName, idx, diffID, got, src.id, ErrDigestMismatch)
		}
	}
	return res, nil
}

// readLayer reads one layer's bytes (gzip, zstd or plain tar, detected by
// magic) and returns the per-layer result. It is exported for the fuzz target
// and for tools; most callers use Inventory.
func readLayer(ctx context.Context, r io.Reader, diffID string, opt *Options) (*layerResult, error) {
	if opt == nil {
		opt = &Options{}
	}
	o := *opt
	o.defaults()
	br := bufio.NewReaderSize(r, 256<<10)
	magic, _ := br.Peek(4)
	var stream io.Reader = br
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		gz, err := o.gzip().NewReader(ctx, br)
		if err != nil {
			return nil, err
		}
		defer gz.Close()
		stream = gz
	case len(magic) == 4 && bytes.Equal(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(256<<20))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		defer zr.Close()
		stream = zr
	}
	lim := &limitReader{r: stream, left: o.MaxLayerSize}
	var ar io.Reader = lim
	if stream != io.Reader(br) {
		// Inflating runs ahead of the tar parsing and the extractors.
		a := newAheadReader(lim)
		defer a.Close() // before the inflater's Close (deferred above)
		ar = a
	}
	res := &layerResult{DiffID: diffID, Files: map[string]*fileResult{}}
	tr := tar.NewReader(ar)
	var spool spooler
	defer spool.close()
	for n := 0; ; n++ {
		if n&255 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar entry %d: %w", n, layerErr(err, lim, o.MaxLayerSize))
		}
		p := cleanPath(hdr.Name)
		if p == "" {
			continue
		}
		dir, base := path.Split(p)
		dir = strings.TrimSuffix(dir, "/")
		if strings.HasPrefix(base, whiteoutPrefix) {
			switch {
			case base == opaqueMarker:
				res.Opaque = append(res.Opaque, dir)
			case strings.HasPrefix(base, whiteoutPrefix+whiteoutPrefix):
				// other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not files
			default:
				res.Whiteouts = append(res.Whiteouts, path.Join(dir, base[len(whiteoutPrefix):]))
			}
			continue
		}
		if err := scanEntry(ctx, tr, hdr, p, res, &o, &spool, lim); err != nil {
			return nil, err
		}
	}
	// Read to the end so that a truncated or corrupt compressed stream is
	// noticed even when the tar's end-of-archive blocks came through.
	if _, err := io.Copy(io.Discard, ar); err != nil {
		return nil, fmt.Errorf("reading past the end of the tar: %w", layerErr(err, lim, o.MaxLayerSize))
	}
	return res, nil
}

func layerErr(err error, lim *limitReader, max int64) error {
	if lim.exceeded.Load() {
		return fmt.Errorf("layer is larger than %d bytes uncompressed: %w", max, ErrTooLarge)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("truncated layer (unexpected end of data): %w", err)
	}
	return err
}

// scanEntry handles one tar entry: it records paths that matter and runs the
// extractors that want the file.
func scanEntry(ctx context.Context, tr *tar.Reader, hdr *tar.Header, p string, res *layerResult, o *Options, spool *spooler, lim *limitReader) error {
	mode := hdr.FileInfo().Mode()
	regular := hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA //nolint:staticcheck // old tars use TypeRegA
	var wanted []extract.Extractor
	touched := false
	for _, e := range o.Extractors {
		if regular {
			if e.Required(p, mode, hdr.Size) {
				wanted = append(wanted, e)
			}
		} else if e.Required(p, mode.Perm(), hdr.Size) { // asked as if it were a regular file
			// A symlink, directory or hard link where a wanted file could be:
			// it replaces whatever an earlier layer had there.
			touched = true
		}
	}
	wantDistro := distro.Required(p)
	marker := distro.Marker(p)
	if len(wanted) == 0 && !wantDistro && !marker && !touched {
		return nil
	}
	fr := &fileResult{}
	res.Files[p] = fr // a later entry for the same path in the same layer wins
	if !regular || (len(wanted) == 0 && !wantDistro) {
		return nil
	}
	if hdr.Size > o.MaxFileSize && len(wanted) > 0 {
		return fmt.Errorf("file %q is %d bytes, over the %d-byte limit for a file an extractor reads: %w", "/"+p, hdr.Size, o.MaxFileSize, ErrTooLarge)
	}
	if len(wanted) == 0 && hdr.Size > distro.MaxFileSize {
		return nil // an os-release of megabytes is not one
	}
	content, err := spool.read(tr, hdr.Size, o)
	if err != nil {
		return fmt.Errorf("reading %q: %w", "/"+p, layerErr(err, lim, o.MaxLayerSize))
	}
	if wantDistro && hdr.Size <= distro.MaxFileSize {
		fr.Distro = content.bytes()
	}
	for _, e := range wanted {
		in := &extract.Input{
			Path:   p,
			Mode:   mode,
			Size:   hdr.Size,
			Layer:  res.DiffID,
			Reader: content.reader(),
			At:     content.at(),
		}
		var warns []string
		in.Warn = func(msg string) { warns = append(warns, msg) }
		pkgs, err := runExtractor(ctx, e, in)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			warns = append(warns, fmt.Sprintf("%s: %v", e.Name(), err))
			pkgs = nil
		}
		if fr.Results == nil {
			fr.Results = map[string][]inventory.Package{}
		}
		fr.Results[e.Name()] = pkgs
		fr.Warnings = append(fr.Warnings, warns...)
	}
	return nil
}

// runExtractor calls an extractor, turning a panic on hostile input into an error.
func runExtractor(ctx context.Context, e extract.Extractor, in *extract.Input) (pkgs []inventory.Package, err error) {
	defer func() {
		if r := recover(); r != nil {
			pkgs, err = nil, fmt.Errorf("extractor panicked: %v", r)
		}
	}()
	return e.Extract(ctx, in)
}

// cleanPath normalises a tar entry name inside the layer root: "./a/../b",
// "/b" and "../../b" all become "b". "" means the root itself.
func cleanPath(name string) string {
	p := path.Clean("/" + strings.ReplaceAll(name, "\\", "/"))
	return strings.TrimPrefix(p, "/")
}

// limitReader fails once more than left bytes have been read.
type limitReader struct {
	r        io.Reader
	left     int64
	exceeded atomic.Bool // set by the read-ahead goroutine
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Allow a probe to see EOF exactly at the limit.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			l.exceeded.Store(true)
			return 0, ErrTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// content is one wanted file, in memory or spooled to a temp file.
type content struct {
	mem  []byte
	file *os.File
	size int64
}

func (c *content) reader() io.Reader {
	if c.file != nil {
		return io.NewSectionReader(c.file, 0, c.size)
	}
	return bytes.NewReader(c.mem)
}

func (c *content) at() io.ReaderAt {
	if c.file != nil {
		return io.NewSectionReader(c.file, 0, c.size)
	}
	return memReaderAt(c.mem)
}

// memReaderAt is a file held in memory. Its Bytes method lets an extractor
// slice what it needs (an executable's sections) instead of copying it; the
// bytes must not be modified nor kept after Extract returns.
type memReaderAt []byte

func (m memReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("walk: negative offset")
	}
	if off >= int64(len(m)) {
		return 0, io.EOF
	}
	n := copy(p, m[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Bytes returns the whole file, without a copy.
func (m memReaderAt) Bytes() []byte { return m }

// bytes returns a copy of the content (the buffer is reused for the next file).
func (c *content) bytes() []byte {
	b := make([]byte, c.size)
	if c.file != nil {
		if _, err := c.file.ReadAt(b, 0); err != nil {
			return nil
		}
		return b
	}
	copy(b, c.mem)
	return b
}

// spooler holds the wanted file being extracted: in memory, or, past
// SpoolThreshold, in one temp file reused from file to file. Files up to
// spoolKeep share one buffer (no garbage per file); a larger one gets a
// buffer of its own, garbage once extracted, so that a layer does not hold
// a SpoolThreshold buffer to its end for one large file. Extractors must not
// keep Input's bytes after Extract returns.
type spooler struct {
	buf     []byte
	copyBuf []byte
	f       *os.File
}

// spoolKeep is the largest buffer a spooler keeps between files.
const spoolKeep = 1 << 20

func (s *spooler) read(r io.Reader, size int64, o *Options) (*content, error) {
	if size <= o.SpoolThreshold {
		var b []byte
		if size > spoolKeep {
			b = make([]byte, size)
		} else {
			if int64(cap(s.buf)) < size {
				s.buf = make([]byte, min(max(size, 2*int64(cap(s.buf)), 64<<10), spoolKeep))
			}
			b = s.buf[:size]
		}
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		return &content{mem: b, size: size}, nil
	}
	if s.f == nil {
		f, err := os.CreateTemp(o.TempDir, "warden-spool-")
		if err != nil {
			return nil, fmt.Errorf("spooling: %w", err)
		}
		os.Remove(f.Name()) // unlinked: gone when closed, even on a crash
		s.f = f
	}
	// The file is overwritten from the start, not truncated (freeing and
	// allocating its pages again cost more than writing): content reads only
	// its first size bytes.
	if s.copyBuf == nil {
		s.copyBuf = make([]byte, 1<<20) // fewer, larger writes than io.Copy's 32 KiB
	}
	n, err := io.CopyBuffer(io.NewOffsetWriter(s.f, 0), io.LimitReader(r, size), s.copyBuf)
	if err != nil {
		return nil, err
	}
	if n != size {
		return nil, io.ErrUnexpectedEOF
	}
	return &content{file: s.f, size: size}, nil
}

func (s *spooler) close() {
	if s.f != nil {
		s.f.Close()
	}
}
