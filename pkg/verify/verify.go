// Package verify finds the signatures and attestations of an image in both places cosign
// stores them — the sha256-<hex>.sig/.att tags and Sigstore bundles attached as OCI 1.1
// referrers (referrers API, or the referrers tag fallback) — and checks them against public
// keys: the signature, the digest binding, the annotations asked for and a threshold of
// distinct keys. Bad signatures are reported and ignored; they never make an image pass.
package verify

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/wardensec/warden/pkg/sign"
)

// Errors a verification ends with when it does not pass (test with errors.Is).
var (
	// ErrUnsigned: no signature (or attestation) of any kind was found for the image.
	ErrUnsigned = errors.New("the image is not signed")
	// ErrNotVerified: signatures exist, but fewer distinct keys than required signed validly.
	ErrNotVerified = errors.New("no valid signature for the given keys")
)

// Key is a trusted public key.
type Key struct {
	Name   string           // what to call it in messages: usually its file name
	Public crypto.PublicKey // ECDSA, Ed25519 or RSA
	ID     string           // sign.KeyID(Public); filled by NewKey/LoadKeys
	// NotBefore and NotAfter bound when the key may have signed (zero: unbounded): the time a
	// transparency log or timestamp authority vouches for, else the time of verification.
	NotBefore, NotAfter time.Time
}

// NewKey wraps a public key.
func NewKey(name string, pub crypto.PublicKey) Key {
	return Key{Name: name, Public: pub, ID: sign.KeyID(pub)}
}

// LoadKeys reads PKIX PEM public key files.
func LoadKeys(paths ...string) ([]Key, error) {
	var keys []Key
	for _, p := range paths {
		pub, err := sign.LoadPublicKey(p)
		if err != nil {
			return nil, err
		}
		keys = append(keys, NewKey(p, pub))
	}
	return keys, nil
}

// Options control a verification.
type Options struct {
	Keys          []Key             // trusted keys
	Identities    []Identity        // trusted keyless identities (need TrustedRoot); keys + identities ≥ 1
	TrustedRoot   *TrustedRoot      // Fulcio CAs and Rekor/CT logs for keyless and transparency-log checks
	RequireTlog   bool              // key signatures must carry a Rekor entry that verifies (needs TrustedRoot)
	Revoked       []string          // key IDs (sign.KeyID) and certificate serials (hex) that never count
	Notation      *NotationTrust    // Notary Project signatures: trust store and identities (counts as one signer)
	Threshold     int               // distinct keys or identities that must have signed validly; 0 means 1
	Annotations   map[string]string // each must be in the signed payload with this value
	RemoteOptions []remote.Option   // auth, transport
	Cache         *Cache            // nil: no cache
	Logger        *slog.Logger      // nil: silent
}

func (o *Options) threshold() int {
	if o.Threshold <= 0 {
		return 1
	}
	return o.Threshold
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o.Logger
}

func (o *Options) check() error {
	if len(o.Keys) == 0 && len(o.Identities) == 0 && o.Notation == nil {
		return errors.New("verify: no public key, no certificate identity and no notation trust store given")
	}
	if n := len(o.Keys) + len(o.Identities) + o.notationCount(); o.threshold() > n {
		return fmt.Errorf("verify: threshold %d is more than the %d keys and identities given", o.threshold(), n)
	}
	for _, k := range o.Keys {
		if k.Public == nil {
			return fmt.Errorf("verify: key %q has no public key", k.Name)
		}
	}
	for _, id := range o.Identities {
		if err := id.Check(); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	}
	if len(o.Identities) > 0 && o.TrustedRoot == nil {
		return errors.New("verify: keyless identities need a trusted root (--trusted-root)")
	}
	if o.RequireTlog && o.TrustedRoot == nil {
		return errors.New("verify: a required transparency log needs a trusted root with its key (--trusted-root)")
	}
	return nil
}

func (o *Options) notationCount() int {
	if o.Notation == nil {
		return 0
	}
	return 1
}

// cacheable says whether a positive result may be cached: not when a key's window ends, as
// the result would outlive it.
func (o *Options) cacheable() bool {
	for _, k := range o.Keys {
		if !k.NotAfter.IsZero() {
			return false
		}
	}
	return true
}

// revoked says whether a key ID or certificate serial is in the revoked list.
func (o *Options) revoked(id string) bool {
	for _, r := range o.Revoked {
		if r != "" && strings.EqualFold(r, id) {
			return true
		}
	}
	return false
}

// keyValidAt checks a key's window at t (the logged time, else now).
func keyValidAt(k *Key, t time.Time) error {
	if t.IsZero() {
		t = time.Now()
	}
	if !k.NotBefore.IsZero() && t.Before(k.NotBefore) {
		return fmt.Errorf("key %s is not valid before %s (signature time %s)", k.Name, k.NotBefore.Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	if !k.NotAfter.IsZero() && t.After(k.NotAfter) {
		return fmt.Errorf("key %s expired at %s (signature time %s)", k.Name, k.NotAfter.Format(time.RFC3339), t.UTC().Format(time.RFC3339))
	}
	return nil
}

// Signer is one valid signature: which key made it and where it was found.
type Signer struct {
	Key      string      `json:"key"`               // Key.Name, or the keyless Identity as configured
	KeyID    string      `json:"keyId"`             // sign.KeyID, or "identity:" and the Identity
	Subject  string      `json:"subject,omitempty"` // keyless: the certificate's SAN
	Issuer   string      `json:"issuer,omitempty"`  // keyless: its OIDC issuer
	Logged   time.Time   `json:"logged,omitzero"`   // when a verified log entry or timestamp says it was signed
	Format   sign.Format `json:"format"`            // legacy, bundle or notation
	Location string      `json:"location"`
}

// Problem is a signature that was found but does not count, and why.
type Problem struct {
	Format   sign.Format `json:"format"`
	Location string      `json:"location"` // tag and layer, or referrer manifest
	Reason   string      `json:"reason"`
}

func (p Problem) String() string { return p.Location + ": " + p.Reason }

// Result is the outcome of Image.
type Result struct {
	Digest   name.Digest `json:"digest"`
	Signers  []Signer    `json:"signers"`  // valid signatures
	Keys     []string    `json:"keys"`     // distinct Key.Names among Signers, sorted
	Invalid  []Problem   `json:"invalid"`  // signatures present but not valid
	Found    int         `json:"found"`    // signatures found in all (valid + invalid)
	Unsigned bool        `json:"unsigned"` // no signature at all
	Verified bool        `json:"verified"` // len(Keys) >= threshold
	Cached   bool        `json:"cached"`   // the result came from the cache
}

// Image verifies the signatures of the image ref names (a tag is resolved to its digest). It
// returns the result and, when the image does not pass, an error wrapping ErrUnsigned or
// ErrNotVerified; other errors (unreachable registry, bad options) come with a nil result.
func Image(ctx context.Context, ref name.Reference, opt Options) (*Result, error) {
	d, f, key, err := prepare(ctx, ref, "sig", &opt, "")
	if err != nil {
		return nil, err
	}
	if r, ok := opt.Cache.get(key); ok {
		r.Cached = true
		return r, nil
	}
	res := &Result{Digest: d}
	var mu sync.Mutex
	ev := func(c candidate) {
		s, p, counts := checkSignature(c, d, opt)
		mu.Lock()
		defer mu.Unlock()
		if !counts {
			return
		}
		res.Found++
		if p != nil {
			res.Invalid = append(res.Invalid, *p)
		} else {
			res.Signers = append(res.Signers, *s)
		}
	}
	f.each(ctx, opt.RemoteOptions, ev)
	finish(res, opt)
	log := opt.logger()
	for _, s := range res.Signers {
		log.Debug("valid signature", "image", d.String(), "key", s.Key, "format", s.Format, "location", s.Location)
	}
	for _, p := range res.Invalid {
		log.Debug("signature not counted", "image", d.String(), "location", p.Location, "reason", p.Reason)
	}
	if res.Verified {
		if opt.cacheable() {
			opt.Cache.put(key, res)
		}
		return res, nil
	}
	if res.Unsigned {
		return res, fmt.Errorf("no signature found for %s: %w", d, ErrUnsigned)
	}
	return res, fmt.Errorf("%s: %w (%d signature(s) found, %d distinct valid key(s), %d required)", d, ErrNotVerified, res.Found, len(res.Keys), opt.threshold())
}

// prepare checks the options, gives them a shared Puller (reuse), resolves ref to its digest and
// reads what the registry holds for it at the .sig or .att tag (kind) and among its referrers.
// key is the cache key of that state.
func prepare(ctx context.Context, ref name.Reference, kind string, opt *Options, predicateType string) (d name.Digest, f *fetched, key string, err error) {
	if err = opt.check(); err != nil {
		return d, nil, "", err
	}
	if opt.RemoteOptions, err = reuse(ctx, opt.RemoteOptions); err != nil {
		return d, nil, "", err
	}
	if dg, ok := ref.(name.Digest); ok {
		// A digest names itself: no HEAD. The signatures' state is read below either way, and
		// a digest the registry does not hold has nothing there to be trusted by.
		d = dg
	} else if d, _, err = sign.Resolve(ctx, ref, opt.RemoteOptions); err != nil {
		return d, nil, "", err
	}
	if f, err = fetchAll(ctx, d, kind, opt.RemoteOptions); err != nil {
		return d, nil, "", err
	}
	return d, f, cacheKey(kind, d, *opt, predicateType, f.state()), nil
}

// reuse adds a shared Puller to the remote options, so that every request of one verification
// goes over one set of connections with one registry ping and token exchange per repository.
func reuse(ctx context.Context, ropts []remote.Option) ([]remote.Option, error) {
	ro := append([]remote.Option{remote.WithContext(ctx)}, ropts...)
	p, err := remote.NewPuller(ro...)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return append(ro, remote.Reuse(p)), nil
}

func finish(res *Result, opt Options) {
	sort.Slice(res.Signers, func(i, j int) bool {
		a, b := res.Signers[i], res.Signers[j]
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if a.Format != b.Format {
			return a.Format < b.Format
		}
		return a.Location < b.Location
	})
	res.Keys, res.Unsigned, res.Verified = tally(res.Signers, func(s Signer) Signer { return s }, res.Invalid, res.Found, opt)
}

// tally sorts the problems by location and judges the valid signatures (or attestations): keys
// are the distinct key names among them (one per key ID, sorted), unsigned says nothing at all
// was found, verified that at least the threshold of distinct keys signed.
func tally[T any](valid []T, signer func(T) Signer, invalid []Problem, found int, opt Options) (keys []string, unsigned, verified bool) {
	sort.Slice(invalid, func(i, j int) bool { return invalid[i].Location < invalid[j].Location })
	seen := map[string]bool{}
	for _, v := range valid {
		if s := signer(v); !seen[s.KeyID] {
			seen[s.KeyID] = true
			keys = append(keys, s.Key)
		}
	}
	sort.Strings(keys)
	return keys, found == 0, len(keys) >= opt.threshold()
}

// candidate is one signature-bearing item found in the registry: a layer of the .sig/.att image,
// or a bundle referrer. Its content is fetched lazily by load.
type candidate struct {
	format   sign.Format
	location string
	desc     v1.Descriptor // the layer (legacy) or the bundle blob (bundle)
	load     func() ([]byte, error)
	loadErr  error // set when the referrer manifest itself could not be read
	ctx      context.Context
	target   func() (v1.Descriptor, error) // the image's descriptor (notation compares it)
}

// read returns the candidate's content, or why it could not be had.
func (c candidate) read() ([]byte, error) {
	if c.loadErr != nil {
		return nil, c.loadErr
	}
	return c.load()
}

// fetched is what one look at the registry found.
type fetched struct {
	legacyDigest   string // digest of the .sig/.att manifest, "" when absent
	referrersState string // digest of the referrers index
	legacy         []candidate
	referrers      []v1.Descriptor
	repo           name.Repository
	subject        name.Digest

	targetOnce sync.Once
	targetDesc v1.Descriptor
	targetErr  error
}

// target reads the signed image's descriptor (media type, digest, size) once.
func (f *fetched) target(ro []remote.Option) func() (v1.Descriptor, error) {
	return func() (v1.Descriptor, error) {
		f.targetOnce.Do(func() {
			d, err := remote.Head(f.subject, ro...)
			if err != nil {
				f.targetErr = fmt.Errorf("reading %s: %w", f.subject, err)
				return
			}
			if d.Digest.String() != f.subject.DigestStr() {
				f.targetErr = fmt.Errorf("registry answered %s for %s", d.Digest, f.subject)
				return
			}
			f.targetDesc = *d
		})
		return f.targetDesc, f.targetErr
	}
}

func (f *fetched) state() string { return f.legacyDigest + "|" + f.referrersState }

const maxBlob = 16 << 20

func isNotFound(err error) bool {
	var terr *transport.Error
	return errors.As(err, &terr) && (terr.StatusCode == http.StatusNotFound)
}

// fetchAll reads the .sig (or .att) manifest and the referrers index of d.
func fetchAll(ctx context.Context, d name.Digest, suffix string, ropts []remote.Option) (*fetched, error) {
	ro := append([]remote.Option{remote.WithContext(ctx)}, ropts...)
	f := &fetched{repo: d.Context(), subject: d}
	tag := sign.TagFor(d, suffix)
	desc, err := remote.Get(tag, ro...)
	switch {
	case err == nil:
		f.legacyDigest = desc.Digest.String()
		var m v1.Manifest
		if jerr := json.Unmarshal(desc.Manifest, &m); jerr != nil || !desc.MediaType.IsImage() {
			// Something that is not a signature image sits at the tag: report it, and still
			// look at the referrers.
			f.legacy = append(f.legacy, candidate{
				format:   sign.FormatLegacy,
				location: tag.TagStr(),
				loadErr:  fmt.Errorf("not a signature image manifest (media type %q)", desc.MediaType),
			})
			break
		}
		for i, l := range m.Layers {
			f.legacy = append(f.legacy, candidate{
				format:   sign.FormatLegacy,
				location: fmt.Sprintf("%s layer %d (%s)", tag.TagStr(), i, l.Digest),
				desc:     l,
				load:     blobLoader(ctx, d.Context(), l, ro),
			})
		}
	case isNotFound(err):
	default:
		return nil, fmt.Errorf("reading signatures at %s: %w", tag, err)
	}
	idx, err := remote.Referrers(d, ro...)
	if err != nil {
		if !isNotFound(err) {
			return nil, fmt.Errorf("listing referrers of %s: %w", d, err)
		}
	} else {
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, fmt.Errorf("listing referrers of %s: %w", d, err)
		}
		// The state is the set of referrer manifest digests: registries may list them in any
		// order, and each manifest is content-addressed.
		ds := make([]string, 0, len(im.Manifests))
		for _, m := range im.Manifests {
			ds = append(ds, m.Digest.String())
		}
		sort.Strings(ds)
		f.referrersState = strings.Join(ds, ",")
		f.referrers = im.Manifests
	}
	return f, nil
}

func blobLoader(ctx context.Context, repo name.Repository, desc v1.Descriptor, ro []remote.Option) func() ([]byte, error) {
	return func() ([]byte, error) {
		if desc.Size > maxBlob {
			return nil, fmt.Errorf("blob %s of %d bytes is too large", desc.Digest, desc.Size)
		}
		l, err := remote.Layer(repo.Digest(desc.Digest.String()), ro...)
		if err != nil {
			return nil, fmt.Errorf("fetching blob %s: %w", desc.Digest, err)
		}
		rc, err := l.Compressed() // the blob as stored; ggcr checks its digest while reading
		if err != nil {
			return nil, fmt.Errorf("fetching blob %s: %w", desc.Digest, err)
		}
		defer rc.Close()
		b, err := io.ReadAll(io.LimitReader(rc, maxBlob+1))
		if err != nil {
			return nil, fmt.Errorf("reading blob %s: %w", desc.Digest, err)
		}
		if len(b) > maxBlob {
			return nil, fmt.Errorf("blob %s is too large", desc.Digest)
		}
		return b, nil
	}
}

// each resolves referrers to bundle candidates and calls fn for every candidate, in parallel.
func (f *fetched) each(ctx context.Context, ropts []remote.Option, fn func(candidate)) {
	ro := append([]remote.Option{remote.WithContext(ctx)}, ropts...)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	run := func(g func()) {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer func() { <-sem; wg.Done() }(); g() }()
	}
	for _, c := range f.legacy {
		c.ctx = ctx
		run(func() { fn(c) })
	}
	for _, r := range f.referrers {
		run(func() {
			c, ok := f.bundleCandidate(ctx, r, ro)
			c.ctx, c.target = ctx, f.target(ro)
			if ok {
				fn(c)
			}
		})
	}
	wg.Wait()
}

// bundleCandidate reads a referrer manifest; ok is false when it is not a Sigstore bundle.
func (f *fetched) bundleCandidate(ctx context.Context, r v1.Descriptor, ro []remote.Option) (candidate, bool) {
	c := candidate{format: sign.FormatBundle, location: "referrer " + r.Digest.String()}
	if isNotationType(r.ArtifactType) {
		c.format = FormatNotation
	}
	if r.ArtifactType != "" && r.ArtifactType != sign.MediaTypeEmptyConfig && !isBundleType(r.ArtifactType) && !isNotationType(r.ArtifactType) {
		return c, false // another kind of artifact (SBOM, ...): not ours to judge
	}
	if r.Size > maxBlob {
		c.loadErr = fmt.Errorf("referrer manifest of %d bytes is too large", r.Size)
		return c, true
	}
	desc, err := remote.Get(f.repo.Digest(r.Digest.String()), ro...)
	if err != nil {
		c.loadErr = fmt.Errorf("fetching referrer manifest: %w", err)
		return c, true
	}
	var m v1.Manifest
	if err := json.Unmarshal(desc.Manifest, &m); err != nil {
		c.loadErr = fmt.Errorf("reading referrer manifest: %w", err)
		return c, true
	}
	isBundle := isBundleType(m.ArtifactType) || (len(m.Layers) > 0 && isBundleType(string(m.Layers[0].MediaType)))
	isNotation := isNotationType(m.ArtifactType) || (m.ArtifactType == "" && isNotationType(string(m.Config.MediaType)))
	switch {
	case isNotation:
		c.format = FormatNotation
	case !isBundle:
		return c, false
	}
	if m.Subject == nil || m.Subject.Digest.String() != f.subject.DigestStr() {
		c.loadErr = errors.New("referrer's subject is not this image")
		return c, true
	}
	if len(m.Layers) != 1 {
		c.loadErr = fmt.Errorf("%s referrer has %d layers, want 1", c.format, len(m.Layers))
		return c, true
	}
	if c.format == FormatNotation && !isNotationEnvelope(string(m.Layers[0].MediaType)) {
		c.loadErr = fmt.Errorf("notation signature layer media type is %q, want %q or %q", m.Layers[0].MediaType, MediaTypeNotationJWS, MediaTypeCOSE)
		return c, true
	}
	if c.format == FormatNotation {
		c.location += " (" + envelopeName(string(m.Layers[0].MediaType)) + ")"
	}
	c.desc = m.Layers[0]
	c.load = blobLoader(ctx, f.repo, m.Layers[0], ro)
	return c, true
}

func isBundleType(s string) bool { return strings.HasPrefix(s, "application/vnd.dev.sigstore.bundle") }

// verifyEnvelope checks the envelope's signatures over PAE with the keys and returns the first
// key that verifies.
func verifyEnvelope(env *sign.Envelope, keys []Key, hint string) (*Key, []byte, error) {
	if hint != "" {
		// Try the key the bundle names first; the hint is not trusted, only used for speed.
		ordered := make([]Key, 0, len(keys))
		for _, k := range keys {
			if k.ID == hint {
				ordered = append(ordered, k)
			}
		}
		for _, k := range keys {
			if k.ID != hint {
				ordered = append(ordered, k)
			}
		}
		keys = ordered
	}
	if env.PayloadType != sign.PayloadTypeInToto {
		return nil, nil, fmt.Errorf("DSSE payloadType is %q, want %q", env.PayloadType, sign.PayloadTypeInToto)
	}
	payload, err := env.DecodedPayload()
	if err != nil {
		return nil, nil, err
	}
	pae := sign.PAE(env.PayloadType, payload)
	for _, s := range env.Signatures {
		sig, err := decodeSig(s.Sig)
		if err != nil {
			continue
		}
		for i := range keys {
			if sign.VerifyMessage(keys[i].Public, pae, sig) == nil {
				k := keys[i]
				return &k, payload, nil
			}
		}
	}
	return nil, payload, errors.New("no DSSE signature verifies with the given keys")
}

func hintOf(b *sign.Bundle) string {
	if b.VerificationMaterial != nil && b.VerificationMaterial.PublicKey != nil {
		return b.VerificationMaterial.PublicKey.Hint
	}
	return ""
}

func decodeSig(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty signature")
	}
	// Reuse the envelope decoder's tolerance of base64 variants.
	e := sign.Envelope{Payload: s}
	return e.DecodedPayload()
}

// checkSignature judges one candidate for Image. counts is false when the candidate is not an
// image signature at all (an attestation bundle among the referrers).
func checkSignature(c candidate, d name.Digest, opt Options) (*Signer, *Problem, bool) {
	bad := func(format string, a ...any) (*Signer, *Problem, bool) {
		return nil, &Problem{Format: c.format, Location: c.location, Reason: fmt.Sprintf(format, a...)}, true
	}
	if c.format == FormatNotation {
		return checkNotation(c, d, opt)
	}
	data, err := c.read()
	if err != nil {
		return bad("%v", err)
	}
	switch c.format {
	case sign.FormatLegacy:
		if string(c.desc.MediaType) != sign.MediaTypeSimpleSigning {
			return bad("layer media type is %q, want %q", c.desc.MediaType, sign.MediaTypeSimpleSigning)
		}
		b64, ok := c.desc.Annotations[sign.AnnotationSignature]
		if !ok {
			return bad("layer has no %s annotation", sign.AnnotationSignature)
		}
		if _, keyless := c.desc.Annotations[AnnotationCertificate]; keyless {
			return checkLegacyKeyless(c, data, b64, d, opt)
		}
		sig, err := decodeSig(b64)
		if err != nil {
			return bad("signature annotation is not base64: %v", err)
		}
		var key *Key
		for i := range opt.Keys {
			if sign.VerifyMessage(opt.Keys[i].Public, data, sig) == nil {
				key = &opt.Keys[i]
				break
			}
		}
		if key == nil {
			return bad("signature does not verify with any of the given keys (%s)", keyNames(opt.Keys))
		}
		logged, reason := keyExtras(key, opt, func() (*bundle.Bundle, sgverify.ArtifactPolicyOption, error) {
			if _, ok := c.desc.Annotations[AnnotationRekorBundle]; !ok {
				return nil, nil, fmt.Errorf("no transparency-log entry (%s annotation)", AnnotationRekorBundle)
			}
			b, err := legacyBundle(data, b64, c.desc.Annotations, key.ID)
			return b, sgverify.WithArtifact(bytes.NewReader(data)), err
		})
		if reason != "" {
			return bad("%s", reason)
		}
		p, err := sign.ParseSimpleSigning(data)
		if err != nil {
			return bad("signed by %s, but: %v", key.Name, err)
		}
		if got := p.Critical.Image.DockerManifestDigest; got != d.DigestStr() {
			return bad("signed by %s for %s, not for this image %s (re-pointed tag or copied signature)", key.Name, got, d.DigestStr())
		}
		if err := checkAnnotations(opt.Annotations, p.Annotations()); err != nil {
			return bad("signed by %s, but %v", key.Name, err)
		}
		return &Signer{Key: key.Name, KeyID: key.ID, Format: c.format, Location: c.location, Logged: logged}, nil, true
	default:
		b, err := sign.ParseBundle(data)
		if err != nil {
			return bad("%v", err)
		}
		if b.DSSEEnvelope == nil {
			return bad("bundle holds a messageSignature, not a DSSE-wrapped image signature")
		}
		st, err := statementOf(b.DSSEEnvelope)
		if err != nil {
			return bad("%v", err)
		}
		if st.PredicateType != sign.PredicateCosignSign {
			return nil, nil, false // an attestation, not a signature
		}
		if isKeyless(b) {
			return checkBundleKeyless(c, data, b, st, d, opt)
		}
		key, reason := checkStatement(b.DSSEEnvelope, hintOf(b), st, d, opt, "signature")
		if key == nil {
			return bad("%s", reason)
		}
		logged, reason := keyExtras(key, opt, func() (*bundle.Bundle, sgverify.ArtifactPolicyOption, error) {
			sb, err := parseSigstoreBundle(data)
			if err != nil {
				return nil, nil, err
			}
			return sb, digestArtifact(d), nil
		})
		if reason != "" {
			return bad("%s", reason)
		}
		return &Signer{Key: key.Name, KeyID: key.ID, Format: c.format, Location: c.location, Logged: logged}, nil, true
	}
}

// bundleEnvelope parses a Sigstore bundle and returns its DSSE envelope and key hint; what names
// the envelope expected, for the error when the bundle holds a messageSignature instead.
func bundleEnvelope(data []byte, what string) (*sign.Envelope, string, error) {
	b, err := sign.ParseBundle(data)
	if err != nil {
		return nil, "", err
	}
	if b.DSSEEnvelope == nil {
		return nil, "", errors.New("bundle holds a messageSignature, not " + what)
	}
	return b.DSSEEnvelope, hintOf(b), nil
}

// statementOf decodes the in-toto statement a DSSE envelope carries (its signatures unchecked).
func statementOf(env *sign.Envelope) (*sign.Statement, error) {
	payload, err := env.DecodedPayload()
	if err != nil {
		return nil, err
	}
	return sign.ParseStatement(payload)
}

// checkStatement checks a DSSE envelope and the statement it carries against the options: a
// signature over PAE by one of the keys, a subject that is d, and the annotations asked for on
// that subject. It returns the key that signed, or nil and why the envelope does not count;
// what ("signature", "attestation") names the envelope in that reason.
func checkStatement(env *sign.Envelope, hint string, st *sign.Statement, d name.Digest, opt Options, what string) (*Key, string) {
	key, _, err := verifyEnvelope(env, opt.Keys, hint)
	if err != nil {
		return nil, fmt.Sprintf("%v (%s)", err, keyNames(opt.Keys))
	}
	alg, hex, _ := strings.Cut(d.DigestStr(), ":")
	sub := st.SubjectFor(alg, hex)
	if sub == nil {
		return nil, fmt.Sprintf("signed by %s, but no statement subject is %s (re-pointed tag or copied %s)", key.Name, d.DigestStr(), what)
	}
	if err := checkAnnotations(opt.Annotations, stringifyAny(sub.Annotations)); err != nil {
		return nil, fmt.Sprintf("signed by %s, but %v", key.Name, err)
	}
	return key, ""
}

func stringifyAny(m map[string]any) map[string]string {
	p := sign.SimpleSigning{Optional: m}
	return p.Annotations()
}

func checkAnnotations(want, got map[string]string) error {
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, ok := got[k]
		if !ok {
			return fmt.Errorf("annotation %q is missing", k)
		}
		if v != want[k] {
			return fmt.Errorf("annotation %q is %q, want %q", k, v, want[k])
		}
	}
	return nil
}

func keyNames(keys []Key) string {
	n := make([]string, len(keys))
	for i, k := range keys {
		n[i] = k.Name
	}
	return strings.Join(n, ", ")
}

// KeyFromFile is LoadKeys for one file, for callers that name keys one at a time.
func KeyFromFile(path string) (Key, error) {
	if _, err := os.Stat(path); err != nil {
		return Key{}, fmt.Errorf("public key: %w", err)
	}
	ks, err := LoadKeys(path)
	if err != nil {
		return Key{}, err
	}
	return ks[0], nil
}
