package source

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A dir: source is an unpacked root filesystem presented as a one-layer image
// whose layer is a tar of the directory, streamed on demand (never written to
// disk). The directory is opened as an os.Root: symbolic links are recorded as
// links and never followed, and no file outside the directory is ever read.
// The tar is deterministic (sorted names, no user names or access times), so
// the diff ID is stable while the directory does not change; computing it
// takes one pass over the files, made once, the first time the config, the
// manifest or the layer list is asked for (a scan then reads the tree twice).

func openDir(ctx context.Context, p string, plat platformReq, opt Options) (*Image, error) {
	root, err := os.OpenRoot(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	core := &dirImage{layer: &dirLayer{ctx: ctx, root: root, path: p, log: opt.Logger}, plat: plat.Platform}
	img, err := partial.CompressedToImage(core)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("dir: %w", err)
	}
	out := &Image{Image: img, Kind: KindDir}
	out.onClose(root.Close)
	return out, nil
}

// dirImage implements partial.CompressedImageCore. Its one layer blob is the
// uncompressed tar (media type OCI uncompressed layer), so its digest is its
// diff ID and nothing is ever compressed.
type dirImage struct {
	layer *dirLayer
	plat  v1.Platform

	once          sync.Once
	config, manif []byte
	err           error
}

func (d *dirImage) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func (d *dirImage) build() error {
	d.once.Do(func() {
		diffID, err := d.layer.DiffID()
		if err != nil {
			d.err = err
			return
		}
		cf := v1.ConfigFile{
			OS: d.plat.OS, Architecture: d.plat.Architecture, Variant: d.plat.Variant,
			RootFS:  v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
			History: []v1.History{{CreatedBy: "warden: directory " + d.layer.path}},
		}
		if d.config, d.err = json.Marshal(cf); d.err != nil {
			return
		}
		ch, _, _ := v1.SHA256(bytes.NewReader(d.config))
		m := v1.Manifest{
			SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
			Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Size: int64(len(d.config)), Digest: ch},
			Layers: []v1.Descriptor{{MediaType: types.OCIUncompressedLayer, Size: d.layer.size, Digest: diffID}},
		}
		d.manif, d.err = json.Marshal(m)
	})
	return d.err
}

func (d *dirImage) RawConfigFile() ([]byte, error) { return d.config, d.build() }
func (d *dirImage) RawManifest() ([]byte, error)   { return d.manif, d.build() }

func (d *dirImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	diffID, err := d.layer.DiffID()
	if err != nil {
		return nil, err
	}
	if h != diffID {
		return nil, fmt.Errorf("dir: no layer %s", h)
	}
	return d.layer, nil
}

// dirLayer implements v1.Layer: blob and uncompressed stream are the same tar.
type dirLayer struct {
	ctx  context.Context
	root *os.Root
	path string
	log  *slog.Logger

	once   sync.Once
	diffID v1.Hash
	size   int64
	err    error
}

func (l *dirLayer) MediaType() (types.MediaType, error) { return types.OCIUncompressedLayer, nil }

// DiffID is the sha256 of the tar, computed (with its size) in one pass the
// first time it is asked for.
func (l *dirLayer) DiffID() (v1.Hash, error) {
	l.once.Do(func() {
		rc, err := l.Uncompressed()
		if err != nil {
			l.err = err
			return
		}
		defer rc.Close()
		l.diffID, l.size, l.err = v1.SHA256(rc)
		if l.err != nil {
			l.err = fmt.Errorf("dir %s: %w", l.path, l.err)
		}
	})
	return l.diffID, l.err
}

func (l *dirLayer) Digest() (v1.Hash, error) { return l.DiffID() }

func (l *dirLayer) Size() (int64, error) {
	_, err := l.DiffID()
	return l.size, err
}

func (l *dirLayer) Compressed() (io.ReadCloser, error) { return l.Uncompressed() }

func (l *dirLayer) Uncompressed() (io.ReadCloser, error) {
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(writeDirTar(l.ctx, l.root, pw, l.log))
	}()
	return pr, nil
}

// writeDirTar writes the tree under root as a tar to w. Files and
// directories that cannot be read for lack of permission are left out, with a
// warning; any other error stops it.
func writeDirTar(ctx context.Context, root *os.Root, w io.Writer, log *slog.Logger) error {
	fsys := root.FS()
	tw := tar.NewWriter(w)
	seen := map[[2]uint64]string{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrPermission) {
			log.Warn("dir: skipping unreadable directory", "path", p, "err", err)
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		fi, err := d.Info() // lstat: links are not followed
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSocket != 0 {
			return nil // sockets have no tar form
		}
		var link string
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = fs.ReadLink(fsys, p); err != nil {
				return err
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = p
		if fi.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uname, hdr.Gname = "", ""
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if fi.Mode().IsRegular() {
			if key, linked := inode(fi); linked {
				if first, ok := seen[key]; ok {
					hdr.Typeflag, hdr.Linkname, hdr.Size = tar.TypeLink, first, 0
				}
			}
		}
		var f *os.File
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			f, err = root.Open(p)
			if errors.Is(err, fs.ErrPermission) {
				log.Warn("dir: skipping unreadable file", "path", p, "err", err)
				return nil
			}
			if err != nil {
				return err
			}
			defer f.Close()
		}
		if key, linked := inode(fi); linked && hdr.Typeflag == tar.TypeReg {
			seen[key] = p // the first readable name of a multiply linked file
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if f == nil {
			return nil
		}
		if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
			return fmt.Errorf("%s: changed while being read: %w", p, err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dir: %w", err)
	}
	return tw.Close()
}
