package source

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// RemoteOptions returns the go-containerregistry remote options Open uses for a
// registry (context, credentials, TLS), for callers that talk to the same
// registry (signatures, referrers).
func RemoteOptions(ctx context.Context, opt Options) []remote.Option {
	kc := opt.Keychain
	if kc == nil {
		kc = DockerConfigKeychain(opt.DockerConfig)
	}
	ro := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc), remote.WithUserAgent("warden")}
	if opt.Insecure {
		tr := remote.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with Options.Insecure
		ro = append(ro, remote.WithTransport(tr))
	}
	return ro
}

// ParseReference parses a registry reference as Open does: plain HTTP is
// allowed for localhost and loopback addresses, and for any host with Insecure.
func ParseReference(ref string, opt Options) (name.Reference, error) {
	var nopts []name.Option
	if opt.Insecure {
		nopts = append(nopts, name.Insecure)
	}
	return name.ParseReference(ref, nopts...)
}

func openRegistry(ctx context.Context, ref string, plat platformReq, opt Options) (*Image, error) {
	r, err := ParseReference(ref, opt)
	if err != nil {
		return nil, fmt.Errorf("%w: registry: %w", ErrNotFound, err)
	}
	img, err := fetchRegistry(ctx, r, plat, opt)
	if err != nil {
		return nil, fmt.Errorf("registry: %s: %w", r, err)
	}
	return img, nil
}

// fetchRegistry opens r from its registry; its errors do not name r.
func fetchRegistry(ctx context.Context, r name.Reference, plat platformReq, opt Options) (*Image, error) {
	opt.Logger.Debug("fetching manifest", "ref", r.String())
	desc, err := remote.Get(r, RemoteOptions(ctx, opt)...)
	if err != nil {
		return nil, registryError(err)
	}
	out := &Image{Kind: KindRegistry, Ref: r}
	if t, ok := r.(name.Tag); ok {
		out.RepoTags = []string{t.String()}
	}
	switch {
	case desc.MediaType.IsIndex():
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		img, _, err := pick(idx, "", plat)
		if err != nil {
			return nil, err
		}
		out.Image, out.Index = img, idx
	case desc.MediaType.IsImage():
		img, err := desc.Image()
		if err != nil {
			return nil, err
		}
		if plat.explicit {
			if err := checkPlatform(img, plat); err != nil {
				return nil, err
			}
		}
		out.Image = img
	default:
		return nil, fmt.Errorf("%w: media type %q", ErrNotImage, desc.MediaType)
	}
	return out, nil
}

// registryError marks "no such manifest/repository" as ErrNotFound, keeping
// the registry's own words ("MANIFEST_UNKNOWN: manifest unknown").
func registryError(err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		switch te.StatusCode {
		case http.StatusNotFound:
			return fmt.Errorf("%w: %w", ErrNotFound, err)
		case http.StatusUnauthorized, http.StatusForbidden:
			return fmt.Errorf("%w (credentials come from the Docker config: docker login): %w", ErrUnauthorized, err)
		}
		for _, d := range te.Errors {
			if d.Code == transport.ManifestUnknownErrorCode || d.Code == transport.NameUnknownErrorCode {
				return fmt.Errorf("%w: %w", ErrNotFound, err)
			}
		}
	}
	return err
}
