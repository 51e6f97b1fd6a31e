package registrygate

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/verify"
)

// SignatureChecker implements registry.SignatureChecker: it verifies an
// image's signatures (cosign .sig tags and Sigstore bundle referrers) with
// pkg/verify, through the registry's own handler in-process (no socket), and
// reports who signed. The trusted keys are those of the policy rule that
// covers the repository (signatures and attestations) plus Keys.
type SignatureChecker struct {
	// Gate supplies the policy and host (nil: only Keys are trusted).
	Gate *Gate
	// Keys are trusted in every repository (`warden serve --trusted-key`).
	Keys []verify.Key
	// Cache remembers positive results (keyed by digest, keys and the
	// registry's signature state); nil: a fresh cache of 1024 entries.
	Cache *verify.Cache

	mu      sync.Mutex
	handler http.Handler
	ropts   []remote.Option // the handler's transport and one Puller kept across checks (no ping per check)
}

// SetHandler gives the checker the registry handler to read through; use
// (*registry.Registry).InternalHandler() so that a denied image's signatures
// can still be shown.
func (c *SignatureChecker) SetHandler(h http.Handler) {
	c.mu.Lock()
	c.handler = h
	ro := []remote.Option{remote.WithTransport(verify.HandlerTransport(h))}
	if p, err := remote.NewPuller(ro...); err == nil {
		ro = append(ro, remote.Reuse(p))
	}
	c.ropts = ro
	if c.Cache == nil {
		c.Cache = verify.NewCache(0)
	}
	c.mu.Unlock()
}

// trust is what the covering rule trusts besides keys: keyless identities
// with their trusted root, and a notation trust store.
type trust struct {
	identities []verify.Identity
	root       *verify.TrustedRoot
	notation   *verify.NotationTrust
}

// trustedKeys are the keys for repo: the covering rule's, the gate's global
// keys and c.Keys, deduplicated by key ID; and the rule's other trust.
func (c *SignatureChecker) trustedKeys(repo string, digest v1.Hash) ([]verify.Key, trust) {
	var keys []verify.Key
	var tr trust
	seen := map[string]bool{}
	add := func(k verify.Key) {
		if k.Public == nil || seen[k.ID] {
			return
		}
		seen[k.ID] = true
		keys = append(keys, k)
	}
	addPolicy := func(ks []policy.Key) {
		for _, k := range ks {
			add(verify.NewKey(keyLabel(k.Path), k.Public))
		}
	}
	if g := c.Gate; g != nil {
		g.mu.Lock()
		pol := g.opt.Policy
		g.mu.Unlock()
		if pol != nil {
			subj := g.Subject(registry.Subject{Repo: repo, Reference: digest.String(), Digest: digest})
			if rule, _ := pol.Select(subj); rule != nil {
				if s := rule.Signatures; s != nil {
					addPolicy(s.Keys)
					for _, id := range s.Keyless {
						tr.identities = append(tr.identities, id.Identity)
					}
					tr.root, tr.notation = s.TrustedRoot, s.Notation
				}
				for _, a := range rule.Attestations {
					addPolicy(a.Keys)
				}
			}
		}
		addPolicy(g.opt.Keys)
	}
	for _, k := range c.Keys {
		add(k)
	}
	return keys, tr
}

// CheckSignatures implements registry.SignatureChecker.
func (c *SignatureChecker) CheckSignatures(ctx context.Context, repo string, digest v1.Hash) (*registry.SignatureReport, error) {
	c.mu.Lock()
	h, cache, ropts := c.handler, c.Cache, c.ropts
	c.mu.Unlock()
	if h == nil {
		return nil, errors.New("registrygate: signature checker has no registry handler (SetHandler)")
	}
	keys, tr := c.trustedKeys(repo, digest)
	rep := &registry.SignatureReport{SignedBy: []string{}, Signers: []registry.SignatureSigner{}, Invalid: []registry.InvalidSignature{}, Keys: []string{}}
	for _, k := range keys {
		rep.Keys = append(rep.Keys, k.Name+" ("+k.ID+")")
	}
	for _, id := range tr.identities {
		rep.Keys = append(rep.Keys, id.String())
	}
	if tr.notation != nil {
		rep.Keys = append(rep.Keys, tr.notation.String())
	}
	sort.Strings(rep.Keys)
	if len(keys) == 0 && len(tr.identities) == 0 && tr.notation == nil {
		rep.Status = registry.SigNoKeys
		return rep, nil
	}
	// The host is never dialled: the transport hands requests to the handler.
	ref, err := name.NewDigest("warden.internal/"+repo+"@"+digest.String(), name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("signatures of %s@%s: %w", repo, digest, err)
	}
	res, err := verify.Image(ctx, ref, verify.Options{
		Keys:          keys,
		Identities:    tr.identities,
		TrustedRoot:   tr.root,
		Notation:      tr.notation,
		Cache:         cache,
		RemoteOptions: ropts,
	})
	if res == nil {
		return nil, fmt.Errorf("verifying signatures of %s@%s: %w", repo, digest, err)
	}
	rep.Cached = res.Cached
	rep.SignedBy = append(rep.SignedBy, res.Keys...)
	for _, s := range res.Signers {
		rep.Signers = append(rep.Signers, registry.SignatureSigner{Key: s.Key, KeyID: s.KeyID, Format: string(s.Format), Location: s.Location, Subject: s.Subject, Issuer: s.Issuer})
	}
	for _, p := range res.Invalid {
		rep.Invalid = append(rep.Invalid, registry.InvalidSignature{Format: string(p.Format), Location: p.Location, Reason: p.Reason})
	}
	switch {
	case len(rep.Signers) > 0:
		rep.Status = registry.SigVerified
	case res.Unsigned:
		rep.Status = registry.SigUnsigned
	default:
		rep.Status = registry.SigInvalid
	}
	return rep, nil
}

// keyLabel is how a key is named in reports: its file name without directories.
func keyLabel(path string) string {
	if i := strings.LastIndex(path, "/"); i >= 0 {
		return path[i+1:]
	}
	return path
}
