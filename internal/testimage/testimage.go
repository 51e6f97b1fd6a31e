// Package testimage builds container images for tests on top of
// go-containerregistry: layers from a list of files (including whiteouts and
// hostile entries), images from layers, and writers for every form Warden reads
// (docker-archive, OCI layout, OCI archive, a registry on 127.0.0.1, the Docker
// Engine).
//
// Hostile layers: File paths are written verbatim ("../x", "/abs"), symlinks
// may point anywhere, Zeros and SparseZeros make decompression and tar bombs,
// HeaderSize makes an entry lie about its size, and RawLayer with Truncate or
// Gzip gives a layer whose blob is any bytes (e.g. truncated gzip).
//
// Layers are gzip tars with OCI media types; tar headers are deterministic
// (fixed time, uid/gid 0), so the same files give the same digests. Parent
// directories are NOT added implicitly: a layer holds exactly the entries given,
// which is what tests of hostile layers need.
package testimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path"
	"strconv"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ModTime is the modification time written on every tar entry.
var ModTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// File is one tar entry of a layer.
type File struct {
	Path     string // written as given: "etc/passwd", "../x" and "/abs" are all kept verbatim
	Content  []byte // for regular files
	Mode     int64  // permission bits; 0 means 0644 (file), 0755 (dir), 0777 (symlink)
	Type     byte   // tar.TypeReg (default), tar.TypeDir, tar.TypeSymlink, tar.TypeLink, ...
	Linkname string // target of a symlink or hard link

	// Size, when Content is nil and Type is a regular file, writes Size zero
	// bytes without holding them in memory (decompression-bomb tests: 1 GiB of
	// zeros compresses to about 1 MiB).
	Size int64
	// HeaderSize, when non-zero, is the size declared in the tar header in place
	// of the real one; the entry is then malformed (a truncated or over-long body).
	HeaderSize int64
	// Sparse, when non-zero, makes a regular file a GNU sparse file (PAX format
	// 1.0) of Sparse bytes that are all a hole: a few hundred bytes in the tar
	// that a tar reader expands to Sparse zero bytes, without any compression.
	Sparse int64
}

// Reg is a regular file.
func Reg(p, content string) File { return File{Path: p, Content: []byte(content)} }

// Dir is a directory entry.
func Dir(p string) File { return File{Path: p, Type: tar.TypeDir} }

// Symlink is a symbolic link p -> target.
func Symlink(p, target string) File { return File{Path: p, Type: tar.TypeSymlink, Linkname: target} }

// Hardlink is a hard link p -> target (a path inside the layer).
func Hardlink(p, target string) File { return File{Path: p, Type: tar.TypeLink, Linkname: target} }

// SparseZeros is a sparse file of size bytes, all hole (a tar bomb without gzip).
func SparseZeros(p string, size int64) File { return File{Path: p, Sparse: size} }

// Zeros is a regular file of size zero bytes, streamed (for decompression bombs).
func Zeros(p string, size int64) File { return File{Path: p, Size: size} }

// Whiteout is the OCI whiteout entry that deletes p in lower layers: "dir/.wh.name".
func Whiteout(p string) File {
	dir, base := path.Split(p)
	return File{Path: dir + ".wh." + base}
}

// Opaque is the OCI opaque-directory marker "dir/.wh..wh..opq": lower layers'
// contents of dir are hidden.
func Opaque(dir string) File {
	return File{Path: path.Join(dir, ".wh..wh..opq")}
}

// TarBytes returns the uncompressed tar of files.
func TarBytes(t testing.TB, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteTar(&buf, files...); err != nil {
		t.Fatalf("testimage: writing tar: %v", err)
	}
	return buf.Bytes()
}

// WriteTar writes files as a tar stream to w. Entries with HeaderSize set are
// written raw (the tar writer would refuse them), so the stream may be malformed
// on purpose.
func WriteTar(w io.Writer, files ...File) error {
	tw := tar.NewWriter(w)
	for _, f := range files {
		typ := f.Type
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := f.Mode
		if mode == 0 {
			switch typ {
			case tar.TypeDir:
				mode = 0o755
			case tar.TypeSymlink:
				mode = 0o777
			default:
				mode = 0o644
			}
		}
		size := int64(len(f.Content))
		if f.Content == nil && f.Size > 0 {
			size = f.Size
		}
		if typ != tar.TypeReg {
			size = 0
		}
		hdr := &tar.Header{
			Typeflag: typ, Name: f.Path, Linkname: f.Linkname, Mode: mode, Size: size,
			ModTime: ModTime, Uname: "root", Gname: "root", Format: tar.FormatPAX,
		}
		if f.Sparse > 0 {
			if err := writeSparse(w, tw, hdr, f.Sparse); err != nil {
				return err
			}
			continue
		}
		if f.HeaderSize != 0 {
			if err := writeRawEntry(w, tw, hdr, f.HeaderSize, f.Content); err != nil {
				return err
			}
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if size == 0 {
			continue
		}
		var body io.Reader = bytes.NewReader(f.Content)
		if f.Content == nil {
			body = io.LimitReader(zeroReader{}, size)
		}
		if _, err := io.Copy(tw, body); err != nil {
			return err
		}
	}
	return tw.Close()
}

// writeRawEntry writes a header declaring declared bytes followed by content
// (padded to 512), bypassing the tar writer's size check.
func writeRawEntry(w io.Writer, tw *tar.Writer, hdr *tar.Header, declared int64, content []byte) error {
	if err := tw.Flush(); err != nil {
		return err
	}
	var hb bytes.Buffer
	h := *hdr
	h.Size = declared
	h.Format = tar.FormatUSTAR
	htw := tar.NewWriter(&hb)
	if err := htw.WriteHeader(&h); err != nil {
		return err
	}
	// Only the 512-byte header block; the body is ours.
	if _, err := w.Write(hb.Bytes()[:512]); err != nil {
		return err
	}
	body := append([]byte(nil), content...)
	if pad := len(body) % 512; pad != 0 {
		body = append(body, make([]byte, 512-pad)...)
	}
	_, err := w.Write(body)
	return err
}

// writeSparse writes a PAX 1.0 GNU sparse entry whose only content is the
// sparse map "0 fragments". Go's tar writer drops GNU.sparse.* records, so they
// are written under a same-length placeholder key and renamed in the bytes
// (PAX record data is not covered by the header checksum).
func writeSparse(w io.Writer, tw *tar.Writer, hdr *tar.Header, size int64) error {
	if err := tw.Flush(); err != nil {
		return err
	}
	h := *hdr
	h.Size = 512
	h.Name = path.Join(path.Dir(hdr.Name), "GNUSparseFile.0", path.Base(hdr.Name))
	h.PAXRecords = map[string]string{
		"GNU_sparse.major": "1", "GNU_sparse.minor": "0",
		"GNU_sparse.name": hdr.Name, "GNU_sparse.realsize": strconv.FormatInt(size, 10),
	}
	var buf bytes.Buffer
	stw := tar.NewWriter(&buf)
	if err := stw.WriteHeader(&h); err != nil {
		return err
	}
	block := make([]byte, 512)
	copy(block, "0\n") // no data fragments: the whole file is a hole
	if _, err := stw.Write(block); err != nil {
		return err
	}
	if err := stw.Flush(); err != nil {
		return err
	}
	_, err := w.Write(bytes.ReplaceAll(buf.Bytes(), []byte("GNU_sparse."), []byte("GNU.sparse.")))
	return err
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Gzip compresses b.
func Gzip(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatalf("testimage: gzip: %v", err)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("testimage: gzip: %v", err)
	}
	return buf.Bytes()
}

// TarGz returns the gzip-compressed tar of files, streaming (Zeros entries are
// never held uncompressed in memory).
func TarGz(t testing.TB, files ...File) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := WriteTar(zw, files...); err != nil {
		t.Fatalf("testimage: writing tar: %v", err)
	}
	if err := zw.Close(); err != nil {
		t.Fatalf("testimage: gzip: %v", err)
	}
	return buf.Bytes()
}

// Layer returns a gzip tar layer (media type OCI layer) holding exactly files.
func Layer(t testing.TB, files ...File) v1.Layer {
	t.Helper()
	return LayerFromBytes(t, TarGz(t, files...))
}

// LayerFromBytes returns a layer whose blob is exactly compressed (a valid gzip
// tar). For deliberately broken blobs use RawLayer.
func LayerFromBytes(t testing.TB, compressed []byte) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(compressed)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatalf("testimage: layer from bytes: %v", err)
	}
	return l
}

// LayerFromTarGz returns the existing .tar.gz at path as a layer; its blob is
// the file, unchanged.
func LayerFromTarGz(t testing.TB, p string) v1.Layer {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("testimage: %v", err)
	}
	l, err := tarball.LayerFromFile(p, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		t.Fatalf("testimage: layer from %s: %v", p, err)
	}
	return l
}

// RawLayer returns a layer whose blob is exactly blob, which may be anything:
// truncated gzip, not gzip at all, a gzip of a broken tar. Its digest is the
// blob's sha256; its diff ID is the sha256 of the decompressed stream when blob
// decompresses cleanly, else the sha256 of the blob itself (such an image is
// invalid on purpose). Uncompressed returns the decompression error, if any, when
// it is read.
func RawLayer(blob []byte) v1.Layer {
	return &rawLayer{blob: blob}
}

type rawLayer struct{ blob []byte }

func (l *rawLayer) Digest() (v1.Hash, error) { return sha(bytes.NewReader(l.blob)) }
func (l *rawLayer) DiffID() (v1.Hash, error) {
	zr, err := gzip.NewReader(bytes.NewReader(l.blob))
	if err == nil {
		if h, err := sha(zr); err == nil {
			return h, nil
		}
	}
	return l.Digest()
}
func (l *rawLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.blob)), nil
}
func (l *rawLayer) Uncompressed() (io.ReadCloser, error) {
	zr, err := gzip.NewReader(bytes.NewReader(l.blob))
	if err != nil {
		return nil, err
	}
	return zr, nil
}
func (l *rawLayer) Size() (int64, error)                { return int64(len(l.blob)), nil }
func (l *rawLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }

func sha(r io.Reader) (v1.Hash, error) {
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return v1.Hash{}, err
	}
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}, nil
}

// Truncate returns the first n bytes of b (n < 0: drop -n bytes from the end).
func Truncate(b []byte, n int) []byte {
	if n < 0 {
		n = len(b) + n
	}
	n = max(0, min(n, len(b)))
	return append([]byte(nil), b[:n]...)
}

// DefaultConfig is the config used when Image gets nil: linux/amd64, Cmd /bin/sh.
func DefaultConfig() *v1.ConfigFile {
	return &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Created:      v1.Time{Time: ModTime},
		Config:       v1.Config{Cmd: []string{"/bin/sh"}, Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
	}
}

// Image returns an OCI image (OCI manifest and config media types) of layers,
// bottom first, with cfg (nil: DefaultConfig). The rootfs diff IDs and history
// are filled in from the layers.
func Image(t testing.TB, cfg *v1.ConfigFile, layers ...v1.Layer) v1.Image {
	t.Helper()
	if cfg == nil {
		cfg = DefaultConfig()
	}
	cfg = cfg.DeepCopy()
	cfg.RootFS = v1.RootFS{Type: "layers"}
	cfg.History = nil
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	img, err := mutate.ConfigFile(base, cfg)
	if err != nil {
		t.Fatalf("testimage: config: %v", err)
	}
	adds := make([]mutate.Addendum, len(layers))
	for i, l := range layers {
		// plainLayer hides tarball's Descriptor(), whose empty annotation map
		// would not survive a manifest round trip (validate.Image rejects that).
		adds[i] = mutate.Addendum{Layer: plainLayer{l}, History: v1.History{Created: v1.Time{Time: ModTime}, CreatedBy: "testimage"}}
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		t.Fatalf("testimage: appending layers: %v", err)
	}
	return img
}

type plainLayer struct{ v1.Layer }

// Platform returns a copy of DefaultConfig for os/arch[/variant].
func Platform(os, arch, variant string) *v1.ConfigFile {
	c := DefaultConfig()
	c.OS, c.Architecture, c.Variant = os, arch, variant
	return c
}

// Index returns an OCI image index of images; each manifest's platform is taken
// from the image's config (os, architecture, variant).
func Index(t testing.TB, imgs ...v1.Image) v1.ImageIndex {
	t.Helper()
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	var adds []mutate.IndexAddendum
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatalf("testimage: config: %v", err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{
			Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant},
		}})
	}
	return mutate.AppendManifests(idx, adds...)
}
