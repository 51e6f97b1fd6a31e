package source

import (
	"fmt"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Annotations naming an image in an OCI layout: the OCI one ("3.19.4") and
// containerd's ("docker.io/library/alpine:3.19.4"), written by Docker 25+ and buildx.
const (
	annotationRefName       = "org.opencontainers.image.ref.name"
	annotationContainerdRef = "io.containerd.image.name"
)

// platformReq is the platform to select from an index. explicit is false for
// the default (linux/amd64), which a single-image source does not enforce.
type platformReq struct {
	v1.Platform
	explicit bool
}

func parsePlatform(s string) (platformReq, error) {
	if s == "" {
		return platformReq{Platform: v1.Platform{OS: "linux", Architecture: "amd64"}}, nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil || p.OS == "" || p.Architecture == "" {
		return platformReq{}, fmt.Errorf("platform %q: want os/arch[/variant], e.g. linux/arm64/v8", s)
	}
	return platformReq{Platform: *p, explicit: true}, nil
}

func (r platformReq) matches(p *v1.Platform) bool {
	if p == nil || p.OS != r.OS || p.Architecture != r.Architecture {
		return false
	}
	if r.Variant == "" {
		return true
	}
	v := p.Variant
	if p.Architecture == "arm64" && v == "" {
		v = "v8"
	}
	want := r.Variant
	if r.Architecture == "arm64" && want == "" {
		want = "v8"
	}
	return v == want
}

func platformString(p *v1.Platform) string {
	if p == nil {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// tagOf returns the names an index entry carries.
func tagsOf(d v1.Descriptor) []string {
	var out []string
	if n := d.Annotations[annotationRefName]; n != "" {
		out = append(out, n)
	}
	if n := d.Annotations[annotationContainerdRef]; n != "" {
		out = append(out, n)
	}
	return out
}

func tagMatches(d v1.Descriptor, tag string) bool {
	for _, n := range tagsOf(d) {
		if n == tag || strings.HasSuffix(n, ":"+tag) {
			return true
		}
	}
	return false
}

// isAttestation reports a BuildKit attestation manifest (platform unknown/unknown),
// which is not a runnable image.
func isAttestation(d v1.Descriptor) bool {
	return d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" ||
		(d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown")
}

// pick selects one image from an index: entries named tag (if set), then the
// only entry, or the entry for the platform. The index it came from (a
// multi-platform index), if any, is returned too.
func pick(idx v1.ImageIndex, tag string, plat platformReq) (v1.Image, v1.ImageIndex, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, err
	}
	descs := im.Manifests
	if tag != "" {
		var named []v1.Descriptor
		var all []string
		for _, d := range descs {
			all = append(all, tagsOf(d)...)
			if tagMatches(d, tag) {
				named = append(named, d)
			}
		}
		if len(named) == 0 {
			return nil, nil, fmt.Errorf("%w: no image named %q (names: %s)", ErrNotFound, tag, listOrNone(all))
		}
		descs = named
	}
	descs = slices.DeleteFunc(slices.Clone(descs), isAttestation)
	switch {
	case len(descs) == 0:
		return nil, nil, fmt.Errorf("%w: the index lists no image", ErrNotImage)
	case len(descs) == 1:
		return resolve(idx, descs[0], plat)
	}
	// Several entries: a multi-platform list if every entry has a platform.
	for _, d := range descs {
		if d.Platform == nil {
			var all []string
			for _, d := range descs {
				all = append(all, tagsOf(d)...)
			}
			return nil, nil, fmt.Errorf("%w: %d images and no name given; choose one with :NAME (names: %s)",
				ErrAmbiguous, len(descs), listOrNone(all))
		}
	}
	return byPlatform(idx, descs, plat)
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// resolve opens one index entry: an image, or a nested index to choose from by platform.
func resolve(idx v1.ImageIndex, d v1.Descriptor, plat platformReq) (v1.Image, v1.ImageIndex, error) {
	switch {
	case d.MediaType.IsIndex():
		child, err := idx.ImageIndex(d.Digest)
		if err != nil {
			return nil, nil, err
		}
		cm, err := child.IndexManifest()
		if err != nil {
			return nil, nil, err
		}
		descs := slices.DeleteFunc(slices.Clone(cm.Manifests), isAttestation)
		img, _, err := byPlatform(child, descs, plat)
		return img, child, err
	case d.MediaType.IsImage():
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, nil, err
		}
		if plat.explicit {
			if err := checkPlatform(img, plat); err != nil {
				return nil, nil, err
			}
		}
		return img, nil, nil
	default:
		return nil, nil, fmt.Errorf("%w: entry %s has media type %q", ErrNotImage, d.Digest, d.MediaType)
	}
}

func byPlatform(idx v1.ImageIndex, descs []v1.Descriptor, plat platformReq) (v1.Image, v1.ImageIndex, error) {
	var avail []string
	for _, d := range descs {
		if d.MediaType.IsImage() && plat.matches(d.Platform) {
			img, err := idx.Image(d.Digest)
			return img, idx, err
		}
		avail = append(avail, platformString(d.Platform))
	}
	return nil, nil, fmt.Errorf("%w: no image for platform %s (available: %s)",
		ErrNoPlatform, platformString(&plat.Platform), listOrNone(avail))
}

// checkPlatform compares an image's config with an explicitly asked platform.
func checkPlatform(img v1.Image, plat platformReq) error {
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	p := cf.Platform()
	if p == nil {
		return nil
	}
	if !plat.matches(p) {
		return fmt.Errorf("%w: the image is for %s, not %s", ErrNoPlatform, platformString(p), platformString(&plat.Platform))
	}
	return nil
}
