package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// maxManifestSize bounds index.json, manifests and configs read into memory.
const maxManifestSize = 16 << 20

// An OCI image layout (https://github.com/opencontainers/image-spec/blob/main/image-layout.md)
// read from any fs.FS: a directory (os.DirFS) or an OCI archive read in place
// (tarFS). index.json is presented as a v1.ImageIndex so that tag and platform
// selection is the same code for layouts and registries.

// openLayout checks the oci-layout marker and returns index.json as an index.
func openLayout(fsys fs.FS) (v1.ImageIndex, error) {
	marker, err := readSmall(fsys, "oci-layout")
	if err != nil {
		return nil, fmt.Errorf("%w: no oci-layout file: %w", ErrNotImage, err)
	}
	var m struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(marker, &m); err != nil || m.Version == "" {
		return nil, fmt.Errorf("%w: oci-layout file is not {\"imageLayoutVersion\": ...}", ErrNotImage)
	}
	raw, err := readSmall(fsys, "index.json")
	if err != nil {
		return nil, fmt.Errorf("%w: reading index.json: %w", ErrNotImage, err)
	}
	return newLayoutIndex(fsys, raw, types.OCIImageIndex)
}

func readSmall(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxManifestSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", name, maxManifestSize)
	}
	return b, nil
}

func blobName(h v1.Hash) (string, error) {
	if _, err := v1.NewHash(h.String()); err != nil || h.Algorithm != "sha256" {
		return "", fmt.Errorf("unsupported digest %q", h.String())
	}
	return "blobs/" + h.Algorithm + "/" + h.Hex, nil
}

// readBlob reads a small blob (manifest, config) and checks its digest.
func readBlob(fsys fs.FS, h v1.Hash) ([]byte, error) {
	n, err := blobName(h)
	if err != nil {
		return nil, err
	}
	b, err := readSmall(fsys, n)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", h, err)
	}
	sum := sha256.Sum256(b)
	if hex.EncodeToString(sum[:]) != h.Hex {
		return nil, fmt.Errorf("blob %s: content does not match its digest", h)
	}
	return b, nil
}

type layoutIndex struct {
	fsys      fs.FS
	raw       []byte
	mediaType types.MediaType
	manifest  *v1.IndexManifest
}

func newLayoutIndex(fsys fs.FS, raw []byte, mt types.MediaType) (*layoutIndex, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: parsing index: %w", ErrNotImage, err)
	}
	if im.MediaType != "" {
		mt = im.MediaType
	}
	return &layoutIndex{fsys: fsys, raw: raw, mediaType: mt, manifest: im}, nil
}

func (i *layoutIndex) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *layoutIndex) Digest() (v1.Hash, error)            { return partial.Digest(i) }
func (i *layoutIndex) Size() (int64, error)                { return int64(len(i.raw)), nil }
func (i *layoutIndex) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *layoutIndex) IndexManifest() (*v1.IndexManifest, error) {
	return i.manifest.DeepCopy(), nil
}

func (i *layoutIndex) find(h v1.Hash) (v1.Descriptor, error) {
	for _, d := range i.manifest.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("manifest %s is not in the index", h)
}

func (i *layoutIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := i.find(h)
	if err != nil {
		return nil, err
	}
	raw, err := readBlob(i.fsys, h)
	if err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("%w: manifest %s: %w", ErrNotImage, h, err)
	}
	mt := d.MediaType
	if m.MediaType != "" {
		mt = m.MediaType
	}
	return partial.CompressedToImage(&layoutImage{fsys: i.fsys, raw: raw, manifest: m, mediaType: mt})
}

func (i *layoutIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := i.find(h)
	if err != nil {
		return nil, err
	}
	raw, err := readBlob(i.fsys, h)
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	return newLayoutIndex(i.fsys, raw, d.MediaType)
}

// layoutImage implements partial.CompressedImageCore.
type layoutImage struct {
	fsys      fs.FS
	raw       []byte
	manifest  *v1.Manifest
	mediaType types.MediaType
}

func (li *layoutImage) MediaType() (types.MediaType, error) { return li.mediaType, nil }
func (li *layoutImage) RawManifest() ([]byte, error)        { return li.raw, nil }
func (li *layoutImage) RawConfigFile() ([]byte, error) {
	b, err := readBlob(li.fsys, li.manifest.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return b, nil
}

func (li *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == li.manifest.Config.Digest {
		return &layoutBlob{fsys: li.fsys, desc: li.manifest.Config}, nil
	}
	for _, d := range li.manifest.Layers {
		if d.Digest == h {
			return &layoutBlob{fsys: li.fsys, desc: d}, nil
		}
	}
	return nil, fmt.Errorf("layer %s is not in the manifest", h)
}

type layoutBlob struct {
	fsys fs.FS
	desc v1.Descriptor
}

func (b *layoutBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *layoutBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *layoutBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *layoutBlob) Descriptor() (*v1.Descriptor, error) { d := b.desc; return &d, nil }
func (b *layoutBlob) Compressed() (io.ReadCloser, error) {
	n, err := blobName(b.desc.Digest)
	if err != nil {
		return nil, err
	}
	f, err := b.fsys.Open(n)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: missing from the layout", b.desc.Digest)
	}
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w", b.desc.Digest, err)
	}
	return verifying(f, b.desc.Digest, "blob "+b.desc.Digest.String()), nil
}
