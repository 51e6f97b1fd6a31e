// Package imagegate decides on an image named by a reference at its own
// registry, for the enforcement points that see only a name: the Kubernetes
// admission webhook and the Docker Engine authorization plugin. It resolves
// the reference to a digest, evaluates the policy with policy.Evaluate (the
// call `warden check` and the registry gate make) with facts from
// pkg/policy/facts, and remembers allowed digests for a while.
package imagegate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/singleflight"

	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/layercache"
	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/policy/facts"
	"github.com/wardensec/warden/pkg/walk"
)

// Options configure a Gate.
type Options struct {
	// Policy is the policy; nil denies every image (fail closed).
	Policy *policy.Policy
	// Keys are trusted keys for rules that list none.
	Keys []policy.Key
	// DBPath is the vulnerability database; rules with vulnerability limits
	// deny when it is missing.
	DBPath string
	// LayerCache speeds up inventories; nil: none.
	LayerCache *layercache.Cache
	// Keychain gives registry credentials when a request brings none; nil:
	// anonymous.
	Keychain authn.Keychain
	// Transport reaches registries; nil: remote.DefaultTransport.
	Transport http.RoundTripper
	// Timeout bounds one decision (resolving, signatures, scan); a decision
	// that runs out of time denies. Zero: 10 s.
	Timeout time.Duration
	// CacheTTL is how long an allowed decision is remembered, keyed by the
	// reference's repository and its digest; zero: no cache. Denials are never
	// cached, so a newly signed image is admitted at once.
	CacheTTL time.Duration
	// ResolveTTL is how long a tag's digest is remembered, so that a decision
	// in the cache is answered without asking the registry; zero: every
	// decision resolves the tag at the registry (a moved tag is seen at once).
	// Only resolutions with the gate's own credentials are remembered: a
	// request with credentials of its own (a pod's imagePullSecrets) always
	// asks the registry. It matters with CacheTTL only.
	ResolveTTL time.Duration
	// Platform picks the image of an index whose content is inspected;
	// nil: linux/amd64.
	Platform *v1.Platform
	Now      func() time.Time
	Logger   *slog.Logger
}

// Result is a decision on one reference.
type Result struct {
	policy.Decision
	// Digest is the manifest digest the reference resolved to ("" when it
	// could not be resolved).
	Digest string
	// Pinned is the reference with that digest ("repo:tag@sha256:…").
	Pinned string
	// Cached says the decision came from the cache.
	Cached bool
}

// Message is the one-line form of a denial: the image, its digest, the rule
// and each reason.
func (r Result) Message() string {
	msg := "image " + r.Subject.Ref
	if r.Digest != "" && !strings.Contains(r.Subject.Ref, "@") {
		msg += " (" + r.Digest + ")"
	}
	msg += " denied by policy"
	if r.Rule != "" {
		msg += " (rule " + r.Rule + ")"
	}
	return msg + ": " + strings.Join(r.Failures(), "; ")
}

// Gate decides on images by reference. It is safe for concurrent use.
type Gate struct {
	opt Options

	puller *remote.Puller // with opt.Keychain
	flight singleflight.Group

	mu       sync.Mutex
	pol      *policy.Policy
	cache    map[string]cached
	resolved map[string]resolution // tag reference -> digest (ResolveTTL)
}

type resolution struct {
	digest  string
	expires time.Time
}

type cached struct {
	res     Result
	expires time.Time
}

// New returns a Gate.
func New(opt Options) *Gate {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Platform == nil {
		opt.Platform = &v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	if opt.Transport == nil {
		// remote.DefaultTransport keeps 2 idle connections per host: under
		// hundreds of concurrent reviews of one registry, every other request
		// would open a new connection.
		tr := remote.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		opt.Transport = tr
	}
	g := &Gate{opt: opt, pol: opt.Policy, cache: map[string]cached{}, resolved: map[string]resolution{}}
	kc := opt.Keychain
	if kc == nil {
		kc = authn.NewMultiKeychain() // anonymous
	}
	p, err := remote.NewPuller(g.baseOptions(kc)...)
	if err != nil {
		panic(err) // only option errors, and these options are valid
	}
	g.puller = p
	return g
}

func (g *Gate) baseOptions(kc authn.Keychain) []remote.Option {
	o := []remote.Option{remote.WithAuthFromKeychain(kc), remote.WithPlatform(*g.opt.Platform)}
	if g.opt.Transport != nil {
		o = append(o, remote.WithTransport(g.opt.Transport))
	}
	return o
}

// SetPolicy replaces the policy (a reload) and empties the cache.
func (g *Gate) SetPolicy(p *policy.Policy) {
	g.mu.Lock()
	g.pol = p
	g.cache = map[string]cached{}
	g.resolved = map[string]resolution{}
	g.mu.Unlock()
}

// Decide evaluates the policy on the image ref names, with the registry
// credentials of kc, else those of the gate's keychain. Every failure — a reference
// that does not parse, an unreachable or slow registry, a fact that cannot
// be had — is a denial naming it.
func (g *Gate) Decide(ctx context.Context, ref string, kc authn.Keychain) Result {
	subj := policy.NewSubject(ref, "")
	if kc == nil {
		if res, ok := g.cachedByTag(subj.Ref); ok {
			return res
		}
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		return Result{Decision: policy.Deny(subj, "reference", fmt.Errorf("%q is not an image reference: %w", ref, err))}
	}
	// A Puller keeps each repository's authenticated transport: the tag's
	// HEAD and the signature reads share one /v2/ ping and token. Requests
	// with the gate's own credentials share one across decisions.
	puller := g.puller
	if kc != nil {
		if g.opt.Keychain != nil {
			kc = authn.NewMultiKeychain(kc, g.opt.Keychain) // the first that knows the registry
		}
		p, err := remote.NewPuller(g.baseOptions(kc)...)
		if err != nil {
			return Result{Decision: policy.Deny(subj, "registry", err)}
		}
		puller = p
	}
	run := func(ctx context.Context) Result {
		ctx, cancel := context.WithTimeout(ctx, g.opt.Timeout)
		defer cancel()
		res := g.decide(ctx, r, subj, []remote.Option{remote.WithContext(ctx), remote.Reuse(puller)}, kc == nil)
		if !res.Allow && ctx.Err() != nil {
			res.Decision = policy.Deny(res.Subject, "timeout", fmt.Errorf("deciding on %s took longer than %s (fail closed): %w", ref, g.opt.Timeout, ctx.Err()))
		}
		return res
	}
	var res Result
	if kc == nil {
		// Concurrent decisions on one reference with the gate's credentials
		// (a ReplicaSet creating many pods) share one evaluation, which the
		// caller that started it cannot cancel for the others.
		ch := g.flight.DoChan(ref, func() (any, error) { return run(context.WithoutCancel(ctx)), nil })
		select {
		case v := <-ch:
			res = v.Val.(Result)
		case <-ctx.Done():
			res = Result{Decision: policy.Deny(subj, "timeout", fmt.Errorf("deciding on %s: %w (fail closed)", ref, ctx.Err()))}
		}
	} else {
		res = run(ctx)
	}
	if !res.Allow {
		g.opt.Logger.Info("image denied by policy", "ref", ref, "digest", res.Digest, "rule", res.Rule, "reasons", res.Failures())
	}
	return res
}

// cachedByTag answers from the caches alone, without the registry: the
// tag's remembered digest (ResolveTTL) and that digest's allowed decision
// (CacheTTL).
func (g *Gate) cachedByTag(ref string) (Result, bool) {
	if g.opt.ResolveTTL <= 0 || g.opt.CacheTTL <= 0 {
		return Result{}, false
	}
	now := g.opt.Now()
	g.mu.Lock()
	defer g.mu.Unlock()
	rs, ok := g.resolved[ref]
	if !ok || !now.Before(rs.expires) {
		return Result{}, false
	}
	c, ok := g.cache[ref+"\x00"+rs.digest]
	if !ok || !now.Before(c.expires) {
		return Result{}, false
	}
	c.res.Cached = true
	return c.res, true
}

// decide resolves r and evaluates the policy; remember: the resolution was
// made with the gate's own credentials and may be remembered (ResolveTTL).
func (g *Gate) decide(ctx context.Context, r name.Reference, subj policy.Subject, ropts []remote.Option, remember bool) Result {
	var digest string
	if d, ok := r.(name.Digest); ok {
		digest = d.DigestStr()
	} else {
		desc, err := remote.Head(r, ropts...)
		if err != nil {
			// Some registries refuse HEAD; GET is the fallback.
			gd, gerr := remote.Get(r, ropts...)
			if gerr != nil {
				return Result{Decision: policy.Deny(subj, "registry", fmt.Errorf("resolving %s: %w", r, gerr))}
			}
			desc = &gd.Descriptor
		}
		digest = desc.Digest.String()
		if remember && g.opt.ResolveTTL > 0 {
			now := g.opt.Now()
			g.mu.Lock()
			if len(g.resolved) > 4096 {
				for k, v := range g.resolved {
					if !now.Before(v.expires) {
						delete(g.resolved, k)
					}
				}
			}
			g.resolved[subj.Ref] = resolution{digest: digest, expires: now.Add(g.opt.ResolveTTL)}
			g.mu.Unlock()
		}
	}
	subj = policy.NewSubject(subj.Ref, digest)
	pinned := r.Context().Name() + "@" + digest
	if t, ok := r.(name.Tag); ok && t.TagStr() != "" {
		pinned = r.Context().Name() + ":" + t.TagStr() + "@" + digest
	}
	if d, ok := r.(name.Digest); ok {
		pinned = d.String()
	}
	key := subj.Ref + "\x00" + digest
	now := g.opt.Now()
	g.mu.Lock()
	pol := g.pol
	c, hit := g.cache[key]
	g.mu.Unlock()
	if hit && now.Before(c.expires) {
		c.res.Cached = true
		return c.res
	}
	dg, err := name.NewDigest(r.Context().Name() + "@" + digest)
	if err != nil {
		return Result{Decision: policy.Deny(subj, "reference", err), Digest: digest}
	}
	p := &provider{g: g, ref: dg, ropts: ropts, name: subj.Ref}
	v := &facts.Verifier{RemoteOptions: ropts, Logger: g.opt.Logger}
	d := policy.Evaluate(ctx, pol, subj, policy.Facts{
		Signatures: v, Attestations: v, Vulnerabilities: p, Image: p,
		Keys: g.opt.Keys, Now: now,
	})
	res := Result{Decision: d, Digest: digest, Pinned: pinned}
	if d.Allow && g.opt.CacheTTL > 0 && ctx.Err() == nil {
		g.mu.Lock()
		if len(g.cache) > 4096 {
			for k, v := range g.cache {
				if !now.Before(v.expires) {
					delete(g.cache, k)
				}
			}
		}
		g.cache[key] = cached{res: res, expires: now.Add(g.opt.CacheTTL)}
		g.mu.Unlock()
	}
	return res
}

// provider supplies the content facts of one image at its registry: the
// inventory is walked at most once per decision.
type provider struct {
	g     *Gate
	ref   name.Digest
	ropts []remote.Option
	name  string

	once sync.Once
	img  v1.Image
	inv  *inventory.Inventory
	err  error
}

func (p *provider) inventory(ctx context.Context) (*inventory.Inventory, error) {
	p.once.Do(func() {
		img, err := remote.Image(p.ref, p.ropts...)
		if err != nil {
			p.err = fmt.Errorf("reading %s: %w", p.ref, err)
			return
		}
		p.img = img
		p.inv, p.err = walk.Inventory(ctx, img, walk.Options{Extractors: all.Extractors(), Cache: p.g.opt.LayerCache,
			Logger: p.g.opt.Logger, ImageName: p.name})
	})
	return p.inv, p.err
}

// Vulnerabilities implements policy.VulnerabilitySource.
func (p *provider) Vulnerabilities(ctx context.Context, _ policy.Subject) (*policy.VulnFacts, error) {
	if p.g.opt.DBPath == "" {
		return nil, errors.New("no vulnerability database is configured")
	}
	return facts.Vulnerabilities(ctx, p.g.opt.DBPath, p.name, p.inventory, p.g.opt.Logger)
}

// Inspect implements policy.ImageInspector.
func (p *provider) Inspect(ctx context.Context, _ policy.Subject) (*policy.ImageFacts, error) {
	inv, err := p.inventory(ctx)
	if err != nil {
		return nil, err
	}
	return facts.Inspect(ctx, p.img, inv, facts.InspectOptions{Reference: p.name, Logger: p.g.opt.Logger})
}
