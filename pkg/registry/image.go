package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/wardensec/warden/pkg/registry/storage"
)

// maxManifestSize bounds manifests and configs read into memory (the spec's
// recommended limit for manifests is 4 MiB).
const maxManifestSize = 4 << 20

// localImage is a v1.Image read from the registry's own storage.
type localImage struct {
	r         *Registry
	repo      string
	raw       []byte
	mediaType types.MediaType
	manifest  *v1.Manifest
}

func toHash(d storage.Digest) v1.Hash { return v1.Hash{Algorithm: d.Algorithm, Hex: d.Hex} }

func fromHash(h v1.Hash) (storage.Digest, error) { return storage.ParseDigest(h.String()) }

// Image returns a stored image manifest (raw bytes already read) as a v1.Image.
func (r *Registry) image(repo string, raw []byte, mt types.MediaType) (v1.Image, error) {
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing image manifest: %w", err)
	}
	return partial.CompressedToImage(&localImage{r: r, repo: repo, raw: raw, mediaType: mt, manifest: m})
}

func (i *localImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *localImage) MediaType() (types.MediaType, error) { return i.mediaType, nil }
func (i *localImage) RawConfigFile() ([]byte, error) {
	return i.r.readHash(context.Background(), i.repo, i.manifest.Config.Digest)
}

func (i *localImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	d := findDesc(i.manifest.Layers, h)
	if d == nil {
		if i.manifest.Config.Digest == h {
			d = &i.manifest.Config
		} else {
			return nil, fmt.Errorf("layer %s is not in the manifest", h)
		}
	}
	return &localLayer{r: i.r, repo: i.repo, desc: *d}, nil
}

// readHash reads a small blob (config, manifest), from the upstream in gateway mode when missing.
func (r *Registry) readHash(ctx context.Context, repo string, h v1.Hash) ([]byte, error) {
	d, err := fromHash(h)
	if err != nil {
		return nil, err
	}
	if err := r.ensureBlob(ctx, repo, d); err != nil {
		return nil, err
	}
	return r.store.ReadAll(ctx, d, maxManifestSize)
}

func findDesc(ds []v1.Descriptor, h v1.Hash) *v1.Descriptor {
	for i := range ds {
		if ds[i].Digest == h {
			return &ds[i]
		}
	}
	return nil
}

// localLayer is a compressed layer stored as a local blob file.
type localLayer struct {
	r    *Registry
	repo string
	desc v1.Descriptor
}

func (l *localLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *localLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *localLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *localLayer) Compressed() (io.ReadCloser, error) {
	d, err := fromHash(l.desc.Digest)
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	if err := l.r.ensureBlob(ctx, l.repo, d); err != nil {
		return nil, err
	}
	return l.r.store.Open(ctx, d)
}

// localIndex is a stored index / manifest list as a v1.ImageIndex.
type localIndex struct {
	r         *Registry
	repo      string
	raw       []byte
	mediaType types.MediaType
	index     *v1.IndexManifest
}

func (r *Registry) imageIndex(repo string, raw []byte, mt types.MediaType) (v1.ImageIndex, error) {
	im, err := v1.ParseIndexManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing index: %w", err)
	}
	return &localIndex{r: r, repo: repo, raw: raw, mediaType: mt, index: im}, nil
}

func (x *localIndex) MediaType() (types.MediaType, error)       { return x.mediaType, nil }
func (x *localIndex) Digest() (v1.Hash, error)                  { return partial.Digest(x) }
func (x *localIndex) Size() (int64, error)                      { return int64(len(x.raw)), nil }
func (x *localIndex) IndexManifest() (*v1.IndexManifest, error) { return x.index, nil }
func (x *localIndex) RawManifest() ([]byte, error)              { return x.raw, nil }
func (x *localIndex) Image(h v1.Hash) (v1.Image, error) {
	d := findDesc(x.index.Manifests, h)
	if d == nil {
		return nil, fmt.Errorf("manifest %s is not in the index", h)
	}
	raw, err := x.r.readHash(context.Background(), x.repo, h)
	if err != nil {
		return nil, err
	}
	return x.r.image(x.repo, raw, d.MediaType)
}
func (x *localIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d := findDesc(x.index.Manifests, h)
	if d == nil {
		return nil, fmt.Errorf("manifest %s is not in the index", h)
	}
	raw, err := x.r.readHash(context.Background(), x.repo, h)
	if err != nil {
		return nil, err
	}
	return x.r.imageIndex(x.repo, raw, d.MediaType)
}
