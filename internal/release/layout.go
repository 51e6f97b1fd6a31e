package release

import (
	"context"
	"fmt"
	"os"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// RefName is the OCI annotation that names a tag in an image layout's index.
const RefName = "org.opencontainers.image.ref.name"

// ExportLayout writes a new OCI image layout at dir with every tag of repo (the
// image's and cosign's sha256-….sig and .att tags) and the referrers of the
// image tagged tag (Sigstore bundles), so that the layout carries the image
// with its signatures and attestations. Each tag is named by RefName.
func ExportLayout(ctx context.Context, repo name.Repository, tag, dir string, opts ...remote.Option) error {
	opts = append(opts, remote.WithContext(ctx))
	tags, err := remote.List(repo, opts...)
	if err != nil {
		return fmt.Errorf("layout: listing %s: %w", repo, err)
	}
	sort.Strings(tags)
	found := false
	for _, t := range tags {
		found = found || t == tag
	}
	if !found {
		return fmt.Errorf("layout: %s has no tag %q", repo, tag)
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("layout %s: %w", dir, err)
	}
	for _, t := range tags {
		if err := appendRef(p, repo.Tag(t), map[string]string{RefName: t}, opts); err != nil {
			return err
		}
	}
	desc, err := remote.Head(repo.Tag(tag), opts...)
	if err != nil {
		return fmt.Errorf("layout: %s:%s: %w", repo, tag, err)
	}
	idx, err := remote.Referrers(repo.Digest(desc.Digest.String()), opts...)
	if err != nil {
		return fmt.Errorf("layout: referrers of %s@%s: %w", repo, desc.Digest, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	for _, d := range im.Manifests {
		ann := map[string]string{}
		if d.ArtifactType != "" {
			ann["org.opencontainers.image.artifactType"] = d.ArtifactType
		}
		if err := appendRef(p, repo.Digest(d.Digest.String()), ann, opts); err != nil {
			return err
		}
	}
	return nil
}

func appendRef(p layout.Path, ref name.Reference, ann map[string]string, opts []remote.Option) error {
	d, err := remote.Get(ref, opts...)
	if err != nil {
		return fmt.Errorf("layout: %s: %w", ref, err)
	}
	var lopts []layout.Option
	if len(ann) > 0 {
		lopts = append(lopts, layout.WithAnnotations(ann))
	}
	switch d.MediaType {
	case types.OCIImageIndex, types.DockerManifestList:
		idx, err := d.ImageIndex()
		if err != nil {
			return fmt.Errorf("layout: %s: %w", ref, err)
		}
		err = p.AppendIndex(idx, lopts...)
		if err != nil {
			return fmt.Errorf("layout: %s: %w", ref, err)
		}
	default:
		img, err := d.Image()
		if err != nil {
			return fmt.Errorf("layout: %s: %w", ref, err)
		}
		if err := p.AppendImage(img, lopts...); err != nil {
			return fmt.Errorf("layout: %s: %w", ref, err)
		}
	}
	return nil
}

// Push writes img to ref (a registry the release script runs on 127.0.0.1).
func Push(ctx context.Context, ref name.Reference, img v1.Image, opts ...remote.Option) error {
	if err := remote.Write(ref, img, append(opts, remote.WithContext(ctx))...); err != nil {
		return fmt.Errorf("pushing %s: %w", ref, err)
	}
	return nil
}
