package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/wardensec/warden/pkg/registry/meta"
	"github.com/wardensec/warden/pkg/registry/storage"
)

// Upstream is the registry behind a gateway (`warden serve --upstream URL`):
// manifests and blobs missing here are fetched from it, verified, stored, then
// served — and scanned and gated like pushed ones. The policy thus applies to
// images pulled through Warden with no client change.
type Upstream struct {
	reg  name.Registry
	opts []remote.Option

	mu       sync.Mutex
	inflight map[string]*sync.Mutex // one fetch per blob at a time
}

// NewUpstream parses the upstream URL ("https://registry.example.com",
// "http://127.0.0.1:5000"); opts (auth, transport) are passed to ggcr's remote.
func NewUpstream(rawURL string, opts ...remote.Option) (*Upstream, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("upstream %q: want http(s)://HOST[:PORT]", rawURL)
	}
	var nopts []name.Option
	if u.Scheme == "http" {
		nopts = append(nopts, name.Insecure)
	}
	reg, err := name.NewRegistry(u.Host, nopts...)
	if err != nil {
		return nil, fmt.Errorf("upstream %q: %w", rawURL, err)
	}
	return &Upstream{reg: reg, opts: opts, inflight: map[string]*sync.Mutex{}}, nil
}

// String is the upstream registry's name.
func (u *Upstream) String() string { return u.reg.Scheme() + "://" + u.reg.RegistryStr() }

func (u *Upstream) options(ctx context.Context) []remote.Option {
	return append([]remote.Option{remote.WithContext(ctx)}, u.opts...)
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// errUpstreamNotFound: the upstream does not have it either.
var errUpstreamNotFound = errors.New("not found upstream")

// fetchManifest gets a manifest by tag or digest from upstream, stores it,
// records it (and the tag) here and queues its scan.
func (r *Registry) fetchManifest(ctx context.Context, repo, ref string) error {
	u := r.upstream
	sep := ":"
	if strings.Contains(ref, ":") {
		sep = "@"
	}
	nref, err := name.ParseReference(u.reg.Name()+"/"+repo+sep+ref, name.WithDefaultRegistry(u.reg.Name()), insecureOpt(u))
	if err != nil {
		return fmt.Errorf("upstream reference %s/%s%s%s: %w", u, repo, sep, ref, err)
	}
	desc, err := remote.Get(nref, u.options(ctx)...)
	if isNotFound(err) {
		return fmt.Errorf("%w: %s", errUpstreamNotFound, nref)
	}
	if err != nil {
		return fmt.Errorf("fetching %s from upstream: %w", nref, err)
	}
	body := desc.Manifest
	doc, mt, err := parseManifest(body, string(desc.MediaType))
	if err != nil {
		return fmt.Errorf("upstream manifest %s: %w", nref, err)
	}
	alg := "sha256"
	if sep == "@" {
		alg, _, _ = strings.Cut(ref, ":")
	}
	d := storage.FromBytes(alg, body)
	if sep == "@" && d.String() != ref {
		return fmt.Errorf("upstream manifest %s has digest %s", nref, d)
	}
	var refs, tags []string
	if doc.Config != nil {
		refs = append(refs, doc.Config.Digest)
	}
	for _, l := range doc.Layers {
		refs = append(refs, l.Digest)
	}
	for _, m := range doc.Manifests {
		refs = append(refs, m.Digest)
	}
	if sep == ":" {
		tags = []string{ref}
	}
	if err := r.store.PutBytes(ctx, d, body); err != nil {
		return err
	}
	artifactType := doc.ArtifactType
	if artifactType == "" && mt == mtOCIManifest && doc.Config != nil {
		artifactType = doc.Config.MediaType
	}
	man := meta.Manifest{Repo: repo, Digest: d.String(), MediaType: mt, Size: int64(len(body)), ArtifactType: artifactType}
	if doc.Subject != nil {
		man.Subject = doc.Subject.Digest
	}
	if err := r.meta.PutManifest(ctx, man, refs, tags); err != nil {
		return err
	}
	if r.scanner != nil && scannable(doc, mt) {
		if err := r.meta.Enqueue(ctx, repo, d.String()); err == nil {
			r.kick()
		}
	}
	return nil
}

func insecureOpt(u *Upstream) name.Option {
	if u.reg.Scheme() == "http" {
		return name.Insecure
	}
	return name.StrictValidation
}

// ensureBlob makes sure blob d is stored and linked to repo, fetching it from
// upstream (digest verified while it streams to disk) in gateway mode.
func (r *Registry) ensureBlob(ctx context.Context, repo string, d storage.Digest) error {
	if _, err := r.store.Stat(ctx, d); err == nil {
		return nil
	}
	if r.upstream == nil {
		return fmt.Errorf("%w: %s", storage.ErrNotFound, d)
	}
	return r.fetchBlob(ctx, repo, d)
}

func (r *Registry) fetchBlob(ctx context.Context, repo string, d storage.Digest) error {
	u := r.upstream
	u.mu.Lock()
	m := u.inflight[d.String()]
	if m == nil {
		m = &sync.Mutex{}
		u.inflight[d.String()] = m
	}
	u.mu.Unlock()
	m.Lock()
	defer func() {
		m.Unlock()
		u.mu.Lock()
		delete(u.inflight, d.String())
		u.mu.Unlock()
	}()
	// Stored already (another repository, or a concurrent fetch). Without
	// repository-scoped auth that is enough; with it, the upstream must show
	// that this repository has the blob, so fetch it again.
	if size, err := r.store.Stat(ctx, d); err == nil && r.anonMnt {
		return r.meta.LinkBlob(ctx, repo, d.String(), size)
	}
	nd, err := name.NewDigest(u.reg.Name()+"/"+repo+"@"+d.String(), insecureOpt(u))
	if err != nil {
		return fmt.Errorf("upstream blob %s: %w", d, err)
	}
	layer, err := remote.Layer(nd, u.options(ctx)...)
	if err != nil {
		return fmt.Errorf("fetching %s from upstream: %w", nd, err)
	}
	rc, err := layer.Compressed()
	if isNotFound(err) {
		return fmt.Errorf("%w: %s", errUpstreamNotFound, nd)
	}
	if err != nil {
		return fmt.Errorf("fetching %s from upstream: %w", nd, err)
	}
	defer rc.Close()
	up, err := r.store.StartUpload(ctx, newID())
	if err != nil {
		return err
	}
	if _, err := up.Append(ctx, rc, 0, -1); err != nil {
		_ = r.store.Cancel(ctx, up.ID())
		if isNotFound(err) {
			return fmt.Errorf("%w: %s", errUpstreamNotFound, nd)
		}
		return fmt.Errorf("fetching %s from upstream: %w", nd, err)
	}
	size := up.Size()
	if err := r.store.Commit(ctx, up, d); err != nil {
		_ = r.store.Cancel(ctx, up.ID())
		return fmt.Errorf("upstream blob %s: %w", nd, err)
	}
	return r.meta.LinkBlob(ctx, repo, d.String(), size)
}
