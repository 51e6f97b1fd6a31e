package source

import (
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// openPath opens a file or directory source of the given kind, or of the
// kind its content shows when kind is "".
func openPath(ctx context.Context, kind, p, tag string, plat platformReq, opt Options) (*Image, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if kind == "" && fi.IsDir() {
		kind = KindDir
		if _, err := os.Stat(filepath.Join(p, "oci-layout")); err == nil {
			kind = KindOCILayout
		}
		opt.Logger.Debug("detected source", "path", p, "kind", kind)
	}
	wantDir := kind == KindOCILayout || kind == KindDir
	if fi.IsDir() != wantDir {
		if wantDir {
			return nil, fmt.Errorf("%w: %s: %s is not a directory", ErrNotImage, kind, p)
		}
		return nil, fmt.Errorf("%w: %s: %s is a directory", ErrNotImage, orArchive(kind), p)
	}
	switch kind {
	case KindOCILayout:
		return openOCILayout(p, tag, plat)
	case KindDir:
		return openDir(ctx, p, plat, opt)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	size := fi.Size()
	var memo *archiveMemo
	if id := fileIdentity(f); id != "" && opt.Digests != nil {
		// Taken before any byte is read: a write during the scan changes the
		// identity, so what is remembered is never stored under a newer one.
		memo = &archiveMemo{ident: id, m: opt.Digests}
	}
	if isGzip(f) {
		opt.Logger.Debug("decompressing a gzip-compressed archive", "path", p)
		tmp, n, err := gunzipToTemp(ctx, f, opt)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrNotImage, orArchive(kind), err)
		}
		f, size, memo = tmp, n, nil // a fresh temporary file each time
	}
	img, err := openArchive(f, size, kind, tag, plat, memo)
	if err != nil {
		f.Close()
		return nil, err
	}
	img.onClose(f.Close)
	return img, nil
}

func orArchive(kind string) string {
	if kind == "" {
		return "archive"
	}
	return kind
}

func isGzip(r io.ReaderAt) bool {
	var magic [2]byte
	n, _ := r.ReadAt(magic[:], 0)
	return n == 2 && magic[0] == 0x1f && magic[1] == 0x8b
}

// gunzipToTemp decompresses r into an unlinked temporary file (so it goes
// away with the process even if Close is never called), at most
// opt.MaxDecompressed bytes.
func gunzipToTemp(ctx context.Context, r io.Reader, opt Options) (*os.File, int64, error) {
	limit := opt.MaxDecompressed
	if limit <= 0 {
		limit = 64 << 30
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, 0, fmt.Errorf("gzip: %w", err)
	}
	tmp, err := os.CreateTemp(opt.TempDir, "warden-archive-*.tar")
	if err != nil {
		return nil, 0, err
	}
	os.Remove(tmp.Name())
	n, err := io.Copy(tmp, io.LimitReader(ctxReader{ctx, zr}, limit+1))
	if err == nil && n > limit {
		err = fmt.Errorf("larger than %d bytes once decompressed (Options.MaxDecompressed)", limit)
	}
	if err != nil {
		tmp.Close()
		return nil, 0, fmt.Errorf("decompressing: %w", err)
	}
	return tmp, n, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func openOCILayout(dir, tag string, plat platformReq) (*Image, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	img, err := fromLayout(root.FS(), KindOCILayout, tag, plat)
	if err != nil {
		root.Close()
		return nil, err
	}
	img.onClose(root.Close)
	return img, nil
}

// fromLayout opens the image named tag (or the only one, or the one for the
// platform) in an OCI layout.
func fromLayout(fsys fs.FS, kind, tag string, plat platformReq) (*Image, error) {
	idx, err := openLayout(fsys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	img, index, err := pick(idx, tag, plat)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	out := &Image{Image: img, Kind: kind, Index: index}
	if tag != "" {
		out.RepoTags = []string{tag}
	} else if im, err := idx.IndexManifest(); err == nil && len(im.Manifests) == 1 {
		out.RepoTags = tagsOf(im.Manifests[0])
	}
	return out, nil
}

// openArchive reads an uncompressed image tarball of the given kind (""
// means the kind its files show) in place.
// memo (nil for none) remembers the digests of compressed docker-archive layers.
func openArchive(r io.ReaderAt, size int64, kind, tag string, plat platformReq, memo *archiveMemo) (*Image, error) {
	if isGzip(r) {
		return nil, fmt.Errorf("%w: %s: a gzip-compressed file inside", ErrNotImage, orArchive(kind))
	}
	t, err := indexTar(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNotImage, orArchive(kind), err)
	}
	t.memo = memo
	found, err := t.kind()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", orArchive(kind), err)
	}
	if kind == "" {
		kind = found
	}
	switch kind {
	case KindOCIArchive:
		if !t.has("oci-layout") {
			return nil, fmt.Errorf("%w: %s: no oci-layout file in the tar (it looks like a %s)", ErrNotImage, kind, found)
		}
		return fromLayout(t, KindOCIArchive, tag, plat)
	case KindDockerArchive:
		if found != KindDockerArchive {
			return nil, fmt.Errorf("%w: %s: no manifest.json in the tar (it looks like a %s)", ErrNotImage, kind, found)
		}
		img, err := fromDockerArchive(t, tag)
		if err == nil && plat.explicit {
			if err = checkPlatform(img, plat); err != nil {
				err = fmt.Errorf("%s: %w", kind, err)
			}
		}
		return img, err
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownScheme, kind)
}

// fromDockerArchive reads a `docker save` tarball: manifest.json, the image
// named tag (or the only one), its config and layers.
func fromDockerArchive(t *tarFS, tag string) (*Image, error) {
	raw, err := readSmall(t, "manifest.json")
	if err != nil {
		return nil, fmt.Errorf("%w: docker-archive: manifest.json: %w", ErrNotImage, err)
	}
	var m []dockerArchiveEntry
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w: docker-archive: manifest.json: %w", ErrNotImage, err)
	}
	var chosen *dockerArchiveEntry
	var all []string
	for i, d := range m {
		all = append(all, d.RepoTags...)
		if tag != "" && repoTagMatches(d.RepoTags, tag) {
			chosen = &m[i]
			break
		}
	}
	switch {
	case len(m) == 0:
		return nil, fmt.Errorf("%w: docker-archive: manifest.json lists no image", ErrNotImage)
	case tag != "" && chosen == nil:
		return nil, fmt.Errorf("%w: docker-archive: no image named %q (names: %s)", ErrNotFound, tag, listOrNone(all))
	case tag == "" && len(m) > 1:
		return nil, fmt.Errorf("%w: docker-archive: %d images; choose one with :NAME (names: %s)", ErrAmbiguous, len(m), listOrNone(all))
	case chosen == nil:
		chosen = &m[0]
	}
	img, err := newArchiveImage(t, *chosen)
	if err != nil {
		return nil, fmt.Errorf("docker-archive: %w", err)
	}
	return &Image{Image: img, Kind: KindDockerArchive, RepoTags: chosen.RepoTags}, nil
}

// repoTagMatches compares a user's name with an archive's repo tags, exactly
// or as references ("alpine:3" matches "docker.io/library/alpine:3").
func repoTagMatches(tags []string, want string) bool {
	wt, werr := name.NewTag(want)
	for _, t := range tags {
		if t == want || strings.HasSuffix(t, "/"+want) {
			return true
		}
		if tt, err := name.NewTag(t); err == nil && werr == nil && tt.Name() == wt.Name() {
			return true
		}
	}
	return false
}
