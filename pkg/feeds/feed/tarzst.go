package feed

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// MaxArchiveSize bounds how much a tar.zst archive may decompress to in all
// (Red Hat's CSAF VEX archive: about 260 MB compressed, a few GB of JSON).
const MaxArchiveSize = 32 << 30

// maxZstdWindow bounds the decoder's window (and so its memory); zstd's
// default levels use at most 8 MiB, --long=27 128 MiB.
const maxZstdWindow = 256 << 20

const zstdMagic = "\x28\xb5\x2f\xfd"

// IsZstd reports whether the file at path starts with a zstd frame.
func IsZstd(path string) bool { return magic(path) == zstdMagic }

// WalkTarZst calls fn for every regular file of the zstd-compressed tar at
// path, in the archive's order, streaming: one member is held in memory at a
// time (at most MaxFileSize), the whole archive may decompress to at most
// MaxArchiveSize. A member's Entry is valid only during its fn call. A
// truncated or damaged archive is an error naming the archive and the member.
func WalkTarZst(ctx context.Context, path string, fn func(e *Entry) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("feed source %s: %w", path, err)
	}
	defer f.Close()
	return walkTarZst(ctx, path, f, MaxArchiveSize, fn)
}

func walkTarZst(ctx context.Context, name string, r io.Reader, limit int64, fn func(e *Entry) error) error {
	zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxWindow(maxZstdWindow), zstd.WithDecoderLowmem(true))
	if err != nil {
		return fmt.Errorf("opening tar.zst %s: %w", name, err)
	}
	defer zr.Close()
	lr := &archiveLimit{r: zr, left: limit, max: limit, name: name}
	tr := tar.NewReader(lr)
	last := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			if last == "" {
				return fmt.Errorf("tar.zst %s holds no file", name)
			}
			return nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				if last == "" {
					return fmt.Errorf("tar.zst %s is truncated: %w", name, err)
				}
				return fmt.Errorf("tar.zst %s is truncated after %s: %w", name, last, err)
			}
			if last == "" {
				return fmt.Errorf("%s is not a zstd-compressed tar (or is damaged at its start): %w", name, err)
			}
			return fmt.Errorf("tar.zst %s is damaged after %s: %w", name, last, err)
		}
		last = h.Name
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if h.Size > MaxFileSize {
			return fmt.Errorf("tar.zst %s: %s is %d bytes, more than the %d allowed", name, h.Name, h.Size, MaxFileSize)
		}
		// The member is read once, here: readers open an entry more than
		// once (sniffing, then reading), which a stream cannot.
		// Grown as the bytes come, not as the header claims.
		var buf bytes.Buffer
		buf.Grow(int(min(h.Size, 1<<20)))
		if _, err := buf.ReadFrom(io.LimitReader(tr, h.Size)); err != nil {
			return fmt.Errorf("tar.zst %s is damaged at %s: %w", name, h.Name, err)
		}
		if int64(buf.Len()) != h.Size {
			return fmt.Errorf("tar.zst %s is truncated at %s: %w", name, h.Name, io.ErrUnexpectedEOF)
		}
		data := buf.Bytes()
		e := NewEntry(strings.TrimPrefix(path.Clean(h.Name), "./"), data)
		e.Source, e.ModTime = name, h.ModTime
		if err := fn(e); err != nil {
			return err
		}
	}
}

// archiveLimit fails a read past the archive's decompression bound.
type archiveLimit struct {
	r    io.Reader
	left int64
	max  int64
	name string
}

func (l *archiveLimit) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, fmt.Errorf("tar.zst %s decompresses to more than %d bytes", l.name, l.max)
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}
