package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// A docker-archive (`docker save`, `crane pull --format tarball|legacy`) read
// in place through the tar index. Unlike go-containerregistry's tarball
// package, the manifest is cheap: an uncompressed layer (what `docker save`
// writes) is described as an uncompressed blob whose digest is its diff ID
// from the config, so asking for the image digest never compresses layers.
// Layer streams are checked against the config's diff IDs as they are read.

type dockerArchiveEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

type archiveImage struct {
	fsys   *tarFS
	config []byte
	layers []*archiveLayer

	once     sync.Once
	manifest []byte
	err      error
}

func newArchiveImage(t *tarFS, d dockerArchiveEntry) (v1.Image, error) {
	config, err := readSmall(t, cleanName(d.Config))
	if err != nil {
		return nil, fmt.Errorf("%w: config %q (listed in manifest.json): %w%s", ErrNotImage, d.Config, err, t.truncatedHint())
	}
	cf, err := v1.ParseConfigFile(bytes.NewReader(config))
	if err != nil {
		return nil, fmt.Errorf("%w: config %q: %w", ErrNotImage, d.Config, err)
	}
	if len(d.Layers) != len(cf.RootFS.DiffIDs) {
		return nil, fmt.Errorf("%w: manifest.json lists %d layers, the config %d diff IDs", ErrNotImage, len(d.Layers), len(cf.RootFS.DiffIDs))
	}
	if len(d.Layers) == 0 {
		return nil, fmt.Errorf("%w: the image has no layers", ErrNotImage)
	}
	img := &archiveImage{fsys: t, config: config}
	for i, p := range d.Layers {
		e, err := t.resolve(cleanName(p))
		if err != nil {
			return nil, fmt.Errorf("%w: layer %q (listed in manifest.json): %w%s", ErrNotImage, p, err, t.truncatedHint())
		}
		var magic [4]byte
		n, _ := t.r.ReadAt(magic[:min(4, e.size)], e.off)
		l := &archiveLayer{fsys: t, name: p, entry: e, diffID: cf.RootFS.DiffIDs[i], mediaType: types.DockerUncompressedLayer}
		switch {
		case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
			l.mediaType = types.DockerLayer
		case n == 4 && bytes.Equal(magic[:], []byte{0x28, 0xb5, 0x2f, 0xfd}):
			l.mediaType = types.OCILayerZStd
		}
		img.layers = append(img.layers, l)
	}
	ext, err := partial.CompressedToImage(img)
	if err != nil {
		return nil, err
	}
	return archiveV1{Image: ext, a: img}, nil
}

// archiveV1 is go-containerregistry's image over archiveImage, except that
// Layers lists the archive's layers directly: partial's Layers goes through
// the manifest, which needs every compressed layer's digest, so hashing
// them all before the walk reads them (and hashes them as it reads).
type archiveV1 struct {
	v1.Image
	a *archiveImage
}

func (i archiveV1) Layers() ([]v1.Layer, error) {
	out := make([]v1.Layer, len(i.a.layers))
	for k, l := range i.a.layers {
		out[k] = l
	}
	return out, nil
}

func (a *archiveImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }
func (a *archiveImage) RawConfigFile() ([]byte, error)      { return a.config, nil }

func (a *archiveImage) RawManifest() ([]byte, error) {
	a.once.Do(func() {
		sum := sha256.Sum256(a.config)
		m := v1.Manifest{
			SchemaVersion: 2,
			MediaType:     types.DockerManifestSchema2,
			Config: v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(a.config)),
				Digest: v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}},
		}
		for _, l := range a.layers {
			d, err := l.Digest()
			if err != nil {
				a.err = err
				return
			}
			m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.mediaType, Size: l.entry.size, Digest: d})
		}
		a.manifest, a.err = json.Marshal(m)
	})
	return a.manifest, a.err
}

func (a *archiveImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range a.layers {
		if d, err := l.Digest(); err == nil && d == h {
			return l, nil
		}
	}
	return nil, fmt.Errorf("no layer %s in the archive", h)
}

// archiveLayer implements v1.Layer.
type archiveLayer struct {
	fsys      *tarFS
	name      string
	entry     tarEntry
	diffID    v1.Hash
	mediaType types.MediaType

	mu     sync.Mutex
	digest v1.Hash // of the compressed bytes, once known
}

func (l *archiveLayer) raw() io.Reader {
	return io.NewSectionReader(l.fsys.r, l.entry.off, l.entry.size)
}

func (l *archiveLayer) uncompressed() bool { return l.mediaType == types.DockerUncompressedLayer }

func (l *archiveLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *archiveLayer) Size() (int64, error)                { return l.entry.size, nil }
func (l *archiveLayer) MediaType() (types.MediaType, error) { return l.mediaType, nil }

// KnownDigest is the layer's digest when it costs nothing: an uncompressed
// layer's diff ID, a compressed layer's sha256 once computed, learned from a
// complete read, or remembered for this unchanged archive file. pkg/walk
// asks before it reads a layer without a cache: an unknown digest is then
// learned from the walk's own read instead of a read of its own.
func (l *archiveLayer) KnownDigest() (v1.Hash, bool) {
	if l.uncompressed() {
		return l.diffID, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.digest.Hex == "" {
		if d, ok := l.fsys.memo.lookup(l.entry); ok {
			l.digest = d
		}
	}
	return l.digest, l.digest.Hex != ""
}

// Digest is the diff ID for an uncompressed layer (the blob is the tar), else
// the sha256 of the compressed file, computed once (or remembered).
func (l *archiveLayer) Digest() (v1.Hash, error) {
	if d, ok := l.KnownDigest(); ok {
		return d, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.digest.Hex != "" {
		return l.digest, nil
	}
	d, _, err := v1.SHA256(l.raw())
	if err != nil {
		return v1.Hash{}, fmt.Errorf("layer %q: %w", l.name, err)
	}
	l.digest = d
	l.fsys.memo.store(l.entry, d)
	return d, nil
}

// Compressed reads the stored bytes, checking them against the digest when
// it is known, else learning it when the read reaches the end.
func (l *archiveLayer) Compressed() (io.ReadCloser, error) {
	if l.uncompressed() {
		return verifying(io.NopCloser(l.raw()), l.diffID, "layer "+l.name), nil
	}
	if d, ok := l.KnownDigest(); ok {
		return verifying(io.NopCloser(l.raw()), d, "layer "+l.name), nil
	}
	return &learningReader{r: l.raw(), h: sha256.New(), l: l}, nil
}

// CompressedUnhashed is Compressed for a reader that needs neither the
// digest nor a check of it (pkg/walk without a layer cache): a
// docker-archive lists no digest for a compressed layer, so until one is
// known there is nothing to check its bytes against, and hashing them would
// only learn it. A known digest (or an uncompressed layer's diff ID) is
// still checked.
func (l *archiveLayer) CompressedUnhashed() (io.ReadCloser, error) {
	if _, ok := l.KnownDigest(); ok || l.uncompressed() {
		return l.Compressed()
	}
	return io.NopCloser(l.raw()), nil
}

// learningReader hashes a compressed layer as it is read and, at the end,
// makes that the layer's digest (or fails when another complete read found
// other bytes: the file changed while it was read).
type learningReader struct {
	r io.Reader
	h hash.Hash
	l *archiveLayer
}

func (lr *learningReader) Read(p []byte) (int, error) {
	n, err := lr.r.Read(p)
	lr.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(lr.h.Sum(nil))}
		l := lr.l
		l.mu.Lock()
		defer l.mu.Unlock()
		switch l.digest.Hex {
		case "":
			l.digest = got
			l.fsys.memo.store(l.entry, got)
		case got.Hex:
		default:
			return n, fmt.Errorf("layer %s: %w: read as %s, earlier as %s (the file changed while it was read)", l.name, ErrDigestMismatch, got, l.digest)
		}
	}
	return n, err
}

func (lr *learningReader) Close() error { return nil }

func (l *archiveLayer) Uncompressed() (io.ReadCloser, error) {
	if l.uncompressed() {
		return l.Compressed()
	}
	rc, err := partial.CompressedToLayer(rawBlob{l})
	if err != nil {
		return nil, err
	}
	u, err := rc.Uncompressed()
	if err != nil {
		return nil, fmt.Errorf("layer %q: %w", l.name, err)
	}
	return verifying(u, l.diffID, "layer "+l.name), nil
}

// archiveMemo is a DigestMemo bound to one archive file as it was opened.
type archiveMemo struct {
	ident string
	m     DigestMemo
}

func (a *archiveMemo) key(e tarEntry) string {
	return fmt.Sprintf("%s@%d+%d", a.ident, e.off, e.size)
}

func (a *archiveMemo) lookup(e tarEntry) (v1.Hash, bool) {
	if a == nil {
		return v1.Hash{}, false
	}
	d, ok := a.m.LookupDigest(a.key(e))
	return d, ok && d.Algorithm == "sha256" && len(d.Hex) == 64
}

func (a *archiveMemo) store(e tarEntry, d v1.Hash) {
	if a != nil {
		a.m.StoreDigest(a.key(e), d)
	}
}

// rawBlob hides archiveLayer's own Uncompressed from partial.
type rawBlob struct{ l *archiveLayer }

func (b rawBlob) Digest() (v1.Hash, error)            { return b.l.Digest() }
func (b rawBlob) Compressed() (io.ReadCloser, error)  { return io.NopCloser(b.l.raw()), nil }
func (b rawBlob) Size() (int64, error)                { return b.l.Size() }
func (b rawBlob) MediaType() (types.MediaType, error) { return b.l.MediaType() }

// ErrDigestMismatch is returned by a layer or blob stream whose content does
// not hash to the digest (or diff ID) it was listed with.
var ErrDigestMismatch = errors.New("content does not match its digest")

// verifying returns rc, failing at EOF when what was read does not hash to want.
func verifying(rc io.ReadCloser, want v1.Hash, what string) io.ReadCloser {
	if want.Algorithm != "sha256" {
		return rc
	}
	return &verifyReader{rc: rc, h: sha256.New(), want: want, what: what}
}

type verifyReader struct {
	rc   io.ReadCloser
	h    hash.Hash
	want v1.Hash
	what string
}

func (v *verifyReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	if errors.Is(err, io.EOF) {
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
			return n, fmt.Errorf("%s: %w: sha256:%s, want %s", v.what, ErrDigestMismatch, got, v.want)
		}
	}
	return n, err
}

func (v *verifyReader) Close() error { return v.rc.Close() }

// VerifiedDigest tells a reader (pkg/walk) that this stream checks by itself
// that its bytes hash to the digest: it fails its last read (at EOF) when they
// do not, so the reader need not hash them a second time.
func (v *verifyReader) VerifiedDigest() v1.Hash { return v.want }
