package sign

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Format says where signatures and attestations are written.
type Format string

const (
	FormatLegacy Format = "legacy" // sha256-<hex>.sig / .att tags (cosign ≤ 2, and cosign 3 with --new-bundle-format=false)
	FormatBundle Format = "bundle" // Sigstore bundle v0.3 as an OCI 1.1 referrer (cosign 3 default)
	FormatBoth   Format = "both"
)

// ParseFormat reads a --format value.
func ParseFormat(s string) (Format, error) {
	switch f := Format(s); f {
	case FormatLegacy, FormatBundle, FormatBoth:
		return f, nil
	case "":
		return FormatBoth, nil
	}
	return "", fmt.Errorf("unknown format %q (want legacy, bundle or both)", s)
}

func (f Format) legacy() bool { return f == FormatLegacy || f == FormatBoth || f == "" }
func (f Format) bundle() bool { return f == FormatBundle || f == FormatBoth || f == "" }

// Options control signing and attesting.
type Options struct {
	Format        Format            // default FormatBoth
	Annotations   map[string]string // -a key=value: signed into the payload
	RemoteOptions []remote.Option   // auth, transport, context
	Logger        *slog.Logger      // nil: silent
	Now           func() time.Time  // nil: time.Now
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return o.Logger
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// reuse shares one Puller and one Pusher across the requests of one operation (one registry
// ping and token exchange per repository).
func (o *Options) reuse(ctx context.Context) error {
	ro := append([]remote.Option{remote.WithContext(ctx)}, o.RemoteOptions...)
	pl, err := remote.NewPuller(ro...)
	if err != nil {
		return err
	}
	ps, err := remote.NewPusher(ro...)
	if err != nil {
		return err
	}
	o.RemoteOptions = append(ro, remote.Reuse(pl), remote.Reuse(ps))
	return nil
}

// Result says what was signed and where the signature went.
type Result struct {
	Digest     name.Digest // what was signed
	FromTag    bool        // the reference was a tag, resolved to Digest
	SigTag     name.Tag    // the .sig or .att tag written (legacy format), zero if none
	Referrer   name.Digest // the bundle referrer manifest (bundle format), zero if none
	Duplicated bool        // legacy: an identical signature by this key was already there, nothing appended
}

// Resolve turns a reference into the digest and descriptor of the manifest it names.
func Resolve(ctx context.Context, ref name.Reference, ropts []remote.Option) (name.Digest, *v1.Descriptor, error) {
	ro := append([]remote.Option{remote.WithContext(ctx)}, ropts...)
	desc, err := remote.Head(ref, ro...)
	if err != nil {
		// Some registries do not answer HEAD; fall back to GET.
		d, gerr := remote.Get(ref, ro...)
		if gerr != nil {
			return name.Digest{}, nil, fmt.Errorf("resolving %s: %w", ref, err)
		}
		desc = &d.Descriptor
	}
	if dg, ok := ref.(name.Digest); ok && dg.DigestStr() != desc.Digest.String() {
		return name.Digest{}, nil, fmt.Errorf("resolving %s: registry returned digest %s", ref, desc.Digest)
	}
	return ref.Context().Digest(desc.Digest.String()), desc, nil
}

// resolve gives the options a shared Puller and resolves ref for Image and Attest (verb:
// "signing", "attesting"): the digest, its descriptor, and the result to fill, which notes (with
// a warning) that ref was a tag.
func (o *Options) resolve(ctx context.Context, ref name.Reference, verb string) (name.Digest, *v1.Descriptor, *Result, error) {
	if err := o.reuse(ctx); err != nil {
		return name.Digest{}, nil, nil, err
	}
	d, desc, err := Resolve(ctx, ref, o.RemoteOptions)
	if err != nil {
		return name.Digest{}, nil, nil, err
	}
	res := &Result{Digest: d}
	if _, ok := ref.(name.Tag); ok {
		res.FromTag = true
		o.logger().Warn(verb+" the digest the tag points to now, not the tag", "tag", ref.String(), "digest", d.DigestStr())
	}
	return d, desc, res, nil
}

// TagFor is the cosign tag for a digest and suffix ("sig", "att"): sha256-<hex>.<suffix>.
func TagFor(d name.Digest, suffix string) name.Tag {
	return d.Context().Tag(strings.Replace(d.DigestStr(), ":", "-", 1) + "." + suffix)
}

// Image signs the manifest ref names (a tag is resolved to its digest first) with key and
// writes the signature in the formats opt.Format asks for.
func Image(ctx context.Context, ref name.Reference, key crypto.Signer, opt Options) (*Result, error) {
	d, desc, res, err := opt.resolve(ctx, ref, "signing")
	if err != nil {
		return nil, err
	}
	if opt.Format.legacy() {
		payload, err := json.Marshal(NewSimpleSigning(d.Context().Name(), d.DigestStr(), opt.Annotations))
		if err != nil {
			return nil, err
		}
		sig, err := SignMessage(key, payload)
		if err != nil {
			return nil, fmt.Errorf("signing %s: %w", d, err)
		}
		tag := TagFor(d, "sig")
		dup, err := appendLayer(ctx, tag, payload, MediaTypeSimpleSigning,
			map[string]string{AnnotationSignature: base64.StdEncoding.EncodeToString(sig)}, key.Public(), opt)
		if err != nil {
			return nil, fmt.Errorf("writing signature to %s: %w", tag, err)
		}
		res.SigTag, res.Duplicated = tag, dup
	}
	if opt.Format.bundle() {
		st := newStatement(d, PredicateCosignSign, json.RawMessage(`{}`), opt.Annotations, false)
		rd, err := writeBundle(ctx, d, desc, st, key, opt)
		if err != nil {
			return nil, err
		}
		res.Referrer = rd
	}
	return res, nil
}

// Attest signs an in-toto statement about the image (predicate of predicateType, JSON) and
// attaches it as cosign does.
func Attest(ctx context.Context, ref name.Reference, key crypto.Signer, predicateType string, predicate []byte, opt Options) (*Result, error) {
	if predicateType == "" {
		return nil, errors.New("attest: no predicate type")
	}
	if !json.Valid(predicate) {
		return nil, errors.New("attest: predicate is not JSON")
	}
	d, desc, res, err := opt.resolve(ctx, ref, "attesting")
	if err != nil {
		return nil, err
	}
	st := newStatement(d, predicateType, predicate, opt.Annotations, true)
	if opt.Format.legacy() {
		env, err := signEnvelope(st, key)
		if err != nil {
			return nil, err
		}
		raw, err := json.Marshal(env)
		if err != nil {
			return nil, err
		}
		tag := TagFor(d, "att")
		// cosign writes an empty signature annotation on attestation layers: the signature is in the envelope.
		if _, err := appendLayer(ctx, tag, raw, MediaTypeDSSE,
			map[string]string{AnnotationSignature: "", AnnotationPredicateType: predicateType}, nil, opt); err != nil {
			return nil, fmt.Errorf("writing attestation to %s: %w", tag, err)
		}
		res.SigTag = tag
	}
	if opt.Format.bundle() {
		rd, err := writeBundle(ctx, d, desc, st, key, opt)
		if err != nil {
			return nil, err
		}
		res.Referrer = rd
	}
	return res, nil
}

// CustomPredicate wraps non-JSON or free-form content as cosign's "custom" predicate does.
func CustomPredicate(data []byte, now time.Time) []byte {
	b, _ := json.Marshal(map[string]string{"Data": string(data), "Timestamp": now.UTC().Format(time.RFC3339)})
	return b
}

// PredicateTypeURI maps cosign's short predicate names to their URIs; a URI is returned as is.
func PredicateTypeURI(t string) (string, error) {
	switch t {
	case "cyclonedx":
		return PredicateCycloneDX, nil
	case "spdx", "spdxjson":
		return PredicateSPDX, nil
	case "vuln":
		return PredicateCosignVuln, nil
	case "custom", "":
		return PredicateCosignCustom, nil
	case "slsaprovenance", "slsaprovenance02":
		return "https://slsa.dev/provenance/v0.2", nil
	case "slsaprovenance1":
		return "https://slsa.dev/provenance/v1", nil
	case "openvex":
		return "https://openvex.dev/ns", nil
	case "link":
		return "https://in-toto.io/Link/v1", nil
	}
	if i := strings.Index(t, "://"); i > 0 && !strings.ContainsAny(t, " \t\n") {
		return t, nil
	}
	return "", fmt.Errorf("unknown predicate type %q (want cyclonedx, spdx, vuln, custom or a URI)", t)
}

func newStatement(d name.Digest, predicateType string, predicate json.RawMessage, ann map[string]string, named bool) *Statement {
	alg, hex, _ := strings.Cut(d.DigestStr(), ":")
	sub := ResourceDesc{Digest: map[string]string{alg: hex}}
	if named {
		sub.Name = d.Context().Name()
	}
	if len(ann) > 0 {
		sub.Annotations = map[string]any{}
		for k, v := range ann {
			sub.Annotations[k] = v
		}
	}
	return &Statement{Type: StatementTypeV1, Subject: []ResourceDesc{sub}, PredicateType: predicateType, Predicate: predicate}
}

func signEnvelope(st *Statement, key crypto.Signer) (*Envelope, error) {
	payload, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("encoding statement: %w", err)
	}
	sig, err := SignMessage(key, PAE(PayloadTypeInToto, payload))
	if err != nil {
		return nil, fmt.Errorf("signing statement: %w", err)
	}
	return &Envelope{
		PayloadType: PayloadTypeInToto,
		Payload:     base64.StdEncoding.EncodeToString(payload),
		Signatures:  []EnvSignature{{Sig: base64.StdEncoding.EncodeToString(sig)}},
	}, nil
}

// appendLayer adds one layer to the cosign signature image at tag (creating it if missing).
// With dupKey set, a layer with the same payload whose signature verifies with dupKey makes
// the append a no-op (as cosign's duplicate detector does).
func appendLayer(ctx context.Context, tag name.Tag, payload []byte, mt types.MediaType, ann map[string]string, dupKey crypto.PublicKey, opt Options) (bool, error) {
	ro := append([]remote.Option{remote.WithContext(ctx)}, opt.RemoteOptions...)
	base, err := remote.Image(tag, ro...)
	if err != nil {
		var terr *transport.Error
		if !errors.As(err, &terr) || terr.StatusCode != http.StatusNotFound {
			return false, fmt.Errorf("reading %s: %w", tag, err)
		}
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	} else if dupKey != nil {
		if dup, err := hasDuplicate(base, payload, dupKey); err != nil {
			return false, err
		} else if dup {
			return true, nil
		}
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: static.NewLayer(payload, mt), Annotations: ann})
	if err != nil {
		return false, err
	}
	return false, remote.Write(tag, img, ro...)
}

func hasDuplicate(img v1.Image, payload []byte, pub crypto.PublicKey) (bool, error) {
	m, err := img.Manifest()
	if err != nil {
		return false, err
	}
	want, _, err := v1.SHA256(strings.NewReader(string(payload)))
	if err != nil {
		return false, err
	}
	for _, l := range m.Layers {
		if l.Digest != want {
			continue
		}
		sig, err := decodeB64(l.Annotations[AnnotationSignature])
		if err == nil && VerifyMessage(pub, payload, sig) == nil {
			return true, nil
		}
	}
	return false, nil
}

// rawManifest is a manifest pushed byte for byte.
type rawManifest struct {
	raw []byte
	mt  types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// writeBundle signs st into a DSSE envelope, wraps it in a Sigstore bundle v0.3 and pushes it as a
// referrer of subject (go-containerregistry keeps the referrers tag fallback index up to date when
// the registry has no referrers API).
func writeBundle(ctx context.Context, d name.Digest, subject *v1.Descriptor, st *Statement, key crypto.Signer, opt Options) (name.Digest, error) {
	env, err := signEnvelope(st, key)
	if err != nil {
		return name.Digest{}, err
	}
	b := Bundle{
		MediaType:            MediaTypeBundle,
		VerificationMaterial: &VerificationMaterial{PublicKey: &PublicKeyID{Hint: KeyID(key.Public())}},
		DSSEEnvelope:         env,
	}
	raw, err := json.Marshal(&b)
	if err != nil {
		return name.Digest{}, err
	}
	ro := append([]remote.Option{remote.WithContext(ctx)}, opt.RemoteOptions...)
	repo := d.Context()
	bl := static.NewLayer(raw, MediaTypeBundle)
	cl := static.NewLayer([]byte("{}"), MediaTypeEmptyConfig)
	for _, l := range []v1.Layer{cl, bl} {
		if err := remote.WriteLayer(repo, l, ro...); err != nil {
			return name.Digest{}, fmt.Errorf("uploading bundle blob to %s: %w", repo, err)
		}
	}
	desc := func(l v1.Layer) v1.Descriptor {
		dg, _ := l.Digest()
		sz, _ := l.Size()
		mt, _ := l.MediaType()
		return v1.Descriptor{MediaType: mt, Digest: dg, Size: sz}
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.OCIManifestSchema1,
		ArtifactType:  MediaTypeBundle,
		Config:        desc(cl),
		Layers:        []v1.Descriptor{desc(bl)},
		Subject:       &v1.Descriptor{MediaType: subject.MediaType, Digest: subject.Digest, Size: subject.Size},
		Annotations: map[string]string{
			AnnotationBundleContent:   "dsse-envelope",
			AnnotationBundlePredicate: st.PredicateType,
			AnnotationCreated:         opt.now().UTC().Format(time.RFC3339),
		},
	}
	mraw, err := json.Marshal(&m)
	if err != nil {
		return name.Digest{}, err
	}
	h, _, err := v1.SHA256(strings.NewReader(string(mraw)))
	if err != nil {
		return name.Digest{}, err
	}
	target := repo.Digest(h.String())
	if err := remote.Put(target, rawManifest{raw: mraw, mt: types.OCIManifestSchema1}, ro...); err != nil {
		return name.Digest{}, fmt.Errorf("pushing bundle referrer for %s: %w", d, err)
	}
	return target, nil
}
