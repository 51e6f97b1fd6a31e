package registry

import (
	"context"

	"github.com/wardensec/warden/pkg/registry/storage"
)

// Verdict is the gate's decision on a pull of repo at ref (a tag) whose
// manifest is digest, as the image page shows it; nil when no gate is
// configured. The tag list calls it per tag (Image would also read every
// tag and referrer of the repository for each).
func (r *Registry) Verdict(ctx context.Context, repo, ref, digest string) (*Verdict, error) {
	if r.gate == nil {
		return nil, nil
	}
	d, err := storage.ParseDigest(digest)
	if err != nil {
		return nil, err
	}
	man, err := r.meta.GetManifest(ctx, repo, digest)
	if err != nil {
		return nil, err
	}
	return r.verdict(ctx, repo, ref, d, man), nil
}
