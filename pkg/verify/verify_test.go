package verify_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
)

var ctx = context.Background()

func TestSignThenVerifyEachFormatAndRegistry(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		host := newRegistry(t, referrers)
		for _, f := range []sign.Format{sign.FormatLegacy, sign.FormatBundle, sign.FormatBoth} {
			t.Run(fmt.Sprintf("referrers=%v/%s", referrers, f), func(t *testing.T) {
				tag, dig := pushRandom(t, host, "app/"+string(f), "v1")
				k, key := newKey(t, "k1.pub")
				res := mustSign(t, tag, k, sign.Options{Format: f})
				if !res.FromTag || res.Digest != dig {
					t.Fatalf("sign result %+v, want digest %s from tag", res, dig)
				}
				got, err := verify.Image(ctx, tag, verify.Options{Keys: []verify.Key{key}})
				if err != nil {
					t.Fatalf("verify: %v (invalid: %v)", err, got)
				}
				want := map[sign.Format]int{sign.FormatLegacy: 1, sign.FormatBundle: 1, sign.FormatBoth: 2}[f]
				if len(got.Signers) != want || len(got.Keys) != 1 || got.Keys[0] != "k1.pub" || len(got.Invalid) != 0 {
					t.Fatalf("result %+v, want %d signer(s) with k1.pub", got, want)
				}
				if f == sign.FormatBundle {
					if got.Signers[0].Format != sign.FormatBundle {
						t.Errorf("signer format %s", got.Signers[0].Format)
					}
					// Without the referrers API the fallback tag sha256-<hex> holds the index.
					fallback := dig.Context().Tag(strings.Replace(dig.DigestStr(), ":", "-", 1))
					_, ferr := remote.Index(fallback)
					if referrers && ferr == nil {
						t.Errorf("fallback tag %s written although the registry has the referrers API", fallback)
					}
					if !referrers && ferr != nil {
						t.Errorf("no fallback tag %s: %v", fallback, ferr)
					}
				}
			})
		}
	}
}

func TestUnsigned(t *testing.T) {
	host := newRegistry(t, true)
	tag, _ := pushRandom(t, host, "app", "v1")
	_, key := newKey(t, "k1.pub")
	res, err := verify.Image(ctx, tag, verify.Options{Keys: []verify.Key{key}})
	if !errors.Is(err, verify.ErrUnsigned) || res == nil || !res.Unsigned || res.Verified {
		t.Fatalf("got %+v, %v; want unsigned", res, err)
	}
	if !strings.Contains(err.Error(), "the image is not signed") {
		t.Errorf("message %q", err)
	}
}

func TestOtherKey(t *testing.T) {
	host := newRegistry(t, true)
	tag, _ := pushRandom(t, host, "app", "v1")
	k1, _ := newKey(t, "k1.pub")
	_, k2 := newKey(t, "k2.pub")
	mustSign(t, tag, k1, sign.Options{})
	res, err := verify.Image(ctx, tag, verify.Options{Keys: []verify.Key{k2}})
	if !errors.Is(err, verify.ErrNotVerified) || res.Found != 2 || len(res.Invalid) != 2 {
		t.Fatalf("got %+v, %v; want 2 invalid signatures", res, err)
	}
	if !hasReason(res.Invalid, "does not verify with any of the given keys (k2.pub)") ||
		!hasReason(res.Invalid, "no DSSE signature verifies with the given keys (k2.pub)") {
		t.Errorf("reasons: %v", res.Invalid)
	}
}

// A re-pointed tag names another image: that image is unsigned. A signature copied from the
// signed image to the other image's .sig tag is found but names the wrong digest.
func TestRepointedTagAndCopiedSignature(t *testing.T) {
	host := newRegistry(t, false)
	tag, good := pushRandom(t, host, "app", "v1")
	k, key := newKey(t, "k.pub")
	mustSign(t, good, k, sign.Options{})
	_, evil := pushRandom(t, host, "app", "v1") // the tag now points at another image
	opt := verify.Options{Keys: []verify.Key{key}}
	if res, err := verify.Image(ctx, tag, opt); !errors.Is(err, verify.ErrUnsigned) || res.Digest != evil {
		t.Fatalf("re-pointed tag: got %+v, %v; want unsigned %s", res, err, evil)
	}
	// Copy the legacy signature manifest.
	sigImg, err := remote.Image(sign.TagFor(good, "sig"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(sign.TagFor(evil, "sig"), sigImg); err != nil {
		t.Fatal(err)
	}
	res, err := verify.Image(ctx, tag, opt)
	if !errors.Is(err, verify.ErrNotVerified) || !hasReason(res.Invalid, "not for this image "+evil.DigestStr()) {
		t.Fatalf("copied signature: got %+v, %v", res, err)
	}
}

// sigLayers returns the .sig image for d, rebuilt with layers edited by fn.
func rewriteSig(t *testing.T, d name.Digest, fn func(payload []byte, ann map[string]string) ([]byte, map[string]string)) {
	t.Helper()
	tag := sign.TagFor(d, "sig")
	img, err := remote.Image(tag)
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	out := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	for _, l := range m.Layers {
		rl, err := remote.Layer(d.Context().Digest(l.Digest.String()))
		if err != nil {
			t.Fatal(err)
		}
		rc, _ := rl.Compressed()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := rc.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		rc.Close()
		p, a := fn([]byte(b.String()), l.Annotations)
		if out, err = mutate.Append(out, mutate.Addendum{Layer: static.NewLayer(p, l.MediaType), Annotations: a}); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.Write(tag, out); err != nil {
		t.Fatal(err)
	}
}

func TestEditedPayload(t *testing.T) {
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "app", "v1")
	k, key := newKey(t, "k.pub")
	mustSign(t, d, k, sign.Options{Format: sign.FormatLegacy, Annotations: map[string]string{"env": "staging"}})
	rewriteSig(t, d, func(p []byte, a map[string]string) ([]byte, map[string]string) {
		return []byte(strings.Replace(string(p), "staging", "prod", 1)), a
	})
	res, err := verify.Image(ctx, d, verify.Options{Keys: []verify.Key{key}})
	if !errors.Is(err, verify.ErrNotVerified) || !hasReason(res.Invalid, "signature does not verify") {
		t.Fatalf("got %+v, %v", res, err)
	}
}

func TestGarbageNextToValid(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(fmt.Sprint("referrers=", referrers), func(t *testing.T) {
			host := newRegistry(t, referrers)
			_, d := pushRandom(t, host, "app", "v1")
			k, key := newKey(t, "k.pub")
			mustSign(t, d, k, sign.Options{})
			// A garbage layer appended to the .sig manifest.
			tag := sign.TagFor(d, "sig")
			img, err := remote.Image(tag)
			if err != nil {
				t.Fatal(err)
			}
			img, err = mutate.Append(img, mutate.Addendum{
				Layer:       static.NewLayer([]byte("\x00garbage{"), sign.MediaTypeSimpleSigning),
				Annotations: map[string]string{sign.AnnotationSignature: "!!not base64!!"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := remote.Write(tag, img); err != nil {
				t.Fatal(err)
			}
			// A garbage bundle referrer.
			pushReferrer(t, d, []byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","dsseEnvelope":`))
			res, err := verify.Image(ctx, d, verify.Options{Keys: []verify.Key{key}})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if len(res.Signers) != 2 || len(res.Invalid) != 2 || res.Found != 4 {
				t.Fatalf("got %+v; want 2 valid and 2 garbage", res)
			}
			if !hasReason(res.Invalid, "signature annotation is not base64") || !hasReason(res.Invalid, "reading Sigstore bundle") {
				t.Errorf("reasons %v", res.Invalid)
			}
		})
	}
}

// pushReferrer attaches a raw bundle blob to d as a referrer, the way cosign does.
func pushReferrer(t *testing.T, d name.Digest, bundle []byte) {
	t.Helper()
	subj, err := remote.Head(d)
	if err != nil {
		t.Fatal(err)
	}
	cfg := static.NewLayer([]byte("{}"), sign.MediaTypeEmptyConfig)
	bl := static.NewLayer(bundle, sign.MediaTypeBundle)
	for _, l := range []v1.Layer{cfg, bl} {
		if err := remote.WriteLayer(d.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	desc := func(l v1.Layer) v1.Descriptor {
		dg, _ := l.Digest()
		sz, _ := l.Size()
		mt, _ := l.MediaType()
		return v1.Descriptor{MediaType: mt, Digest: dg, Size: sz}
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: sign.MediaTypeBundle,
		Config: desc(cfg), Layers: []v1.Descriptor{desc(bl)}, Subject: &v1.Descriptor{MediaType: subj.MediaType, Digest: subj.Digest, Size: subj.Size}}
	raw, _ := json.Marshal(&m)
	if err := remote.Put(d.Context().Digest(digestOf(t, raw).String()), rawManifest(raw)); err != nil {
		t.Fatal(err)
	}
}

type rawManifest []byte

func (r rawManifest) RawManifest() ([]byte, error)        { return r, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

func TestThreshold(t *testing.T) {
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "app", "v1")
	k1, key1 := newKey(t, "a.pub")
	k2, key2 := newKey(t, "b.pub")
	opt := verify.Options{Keys: []verify.Key{key1, key2}, Threshold: 2}
	mustSign(t, d, k1, sign.Options{})
	mustSign(t, d, k1, sign.Options{}) // the same key twice is still one key (legacy: deduplicated)
	res, err := verify.Image(ctx, d, opt)
	if !errors.Is(err, verify.ErrNotVerified) || len(res.Keys) != 1 || len(res.Signers) != 3 {
		t.Fatalf("one key of two: got %+v, %v", res, err)
	}
	mustSign(t, d, k2, sign.Options{Format: sign.FormatLegacy})
	res, err = verify.Image(ctx, d, opt)
	if err != nil || strings.Join(res.Keys, ",") != "a.pub,b.pub" {
		t.Fatalf("two keys: got %+v, %v", res, err)
	}
	if _, err := verify.Image(ctx, d, verify.Options{Keys: []verify.Key{key1}, Threshold: 2}); err == nil || errors.Is(err, verify.ErrNotVerified) {
		t.Errorf("threshold above the number of keys must be an argument error, got %v", err)
	}
}

func TestAnnotations(t *testing.T) {
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "app", "v1")
	k, key := newKey(t, "k.pub")
	mustSign(t, d, k, sign.Options{Annotations: map[string]string{"env": "prod", "team": "core"}})
	if _, err := verify.Image(ctx, d, verify.Options{Keys: []verify.Key{key}, Annotations: map[string]string{"env": "prod"}}); err != nil {
		t.Fatalf("matching annotation: %v", err)
	}
	res, err := verify.Image(ctx, d, verify.Options{Keys: []verify.Key{key}, Annotations: map[string]string{"env": "dev"}})
	if !errors.Is(err, verify.ErrNotVerified) || !hasReason(res.Invalid, `annotation "env" is "prod", want "dev"`) {
		t.Fatalf("wrong annotation: got %+v, %v", res, err)
	}
	res, err = verify.Image(ctx, d, verify.Options{Keys: []verify.Key{key}, Annotations: map[string]string{"owner": "x"}})
	if !errors.Is(err, verify.ErrNotVerified) || !hasReason(res.Invalid, `annotation "owner" is missing`) {
		t.Fatalf("missing annotation: got %+v, %v", res, err)
	}
}

func TestAttestations(t *testing.T) {
	for _, referrers := range []bool{true, false} {
		t.Run(fmt.Sprint("referrers=", referrers), func(t *testing.T) {
			host := newRegistry(t, referrers)
			tag, d := pushRandom(t, host, "app", "v1")
			k, key := newKey(t, "k.pub")
			bom := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[]}`)
			if _, err := sign.Attest(ctx, tag, k, sign.PredicateCycloneDX, bom, sign.Options{}); err != nil {
				t.Fatal(err)
			}
			mustSign(t, d, k, sign.Options{}) // signatures are not attestations, and the reverse
			opt := verify.AttestationOptions{Options: verify.Options{Keys: []verify.Key{key}}, PredicateType: sign.PredicateCycloneDX}
			res, err := verify.Attestations(ctx, tag, opt)
			if err != nil {
				t.Fatalf("verify attestations: %v (%+v)", err, res)
			}
			if len(res.Attestations) != 2 || res.Found != 2 {
				t.Fatalf("got %+v, want the .att and the bundle", res)
			}
			for _, a := range res.Attestations {
				var p map[string]any
				if err := json.Unmarshal(a.Predicate, &p); err != nil || p["bomFormat"] != "CycloneDX" {
					t.Errorf("predicate %s", a.Predicate)
				}
			}
			if sres, err := verify.Image(ctx, d, opt.Options); err != nil || len(sres.Signers) != 2 || sres.Found != 2 {
				t.Fatalf("signatures beside attestations: %+v, %v", sres, err)
			}
			opt.PredicateType = sign.PredicateSPDX
			res, err = verify.Attestations(ctx, tag, opt)
			if !errors.Is(err, verify.ErrNotVerified) || res.Skipped != 2 {
				t.Fatalf("other predicate type: %+v, %v", res, err)
			}
		})
	}
}

func TestAttestationUnsignedAndWrongSubject(t *testing.T) {
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "app", "v1")
	_, other := pushRandom(t, host, "app", "v2")
	k, key := newKey(t, "k.pub")
	opt := verify.AttestationOptions{Options: verify.Options{Keys: []verify.Key{key}}}
	if _, err := verify.Attestations(ctx, d, opt); !errors.Is(err, verify.ErrUnsigned) {
		t.Fatalf("unattested: %v", err)
	}
	if _, err := sign.Attest(ctx, other, k, sign.PredicateCosignVuln, []byte(`{}`), sign.Options{Format: sign.FormatLegacy}); err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(sign.TagFor(other, "att"))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(sign.TagFor(d, "att"), img); err != nil {
		t.Fatal(err)
	}
	res, err := verify.Attestations(ctx, d, opt)
	if !errors.Is(err, verify.ErrNotVerified) || !hasReason(res.Invalid, "no statement subject is "+d.DigestStr()) {
		t.Fatalf("copied attestation: %+v, %v", res, err)
	}
}

func TestEditedBundle(t *testing.T) {
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "app", "v1")
	k, key := newKey(t, "k.pub")
	mustSign(t, d, k, sign.Options{Format: sign.FormatBundle, Annotations: map[string]string{"env": "staging"}})
	// Re-push the bundle with the statement's annotation changed but the signature kept.
	idx, err := remote.Referrers(d)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	man, err := remote.Image(d.Context().Digest(im.Manifests[0].Digest.String()))
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := man.Layers()
	rc, _ := ls[0].Compressed()
	var b sign.Bundle
	if err := json.NewDecoder(rc).Decode(&b); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	payload, _ := b.DSSEEnvelope.DecodedPayload()
	b.DSSEEnvelope.Payload = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(payload), "staging", "prod", 1)))
	raw, _ := json.Marshal(&b)
	pushReferrer(t, d, raw)
	res, err := verify.Image(ctx, d, verify.Options{Keys: []verify.Key{key}, Annotations: map[string]string{"env": "prod"}})
	if !errors.Is(err, verify.ErrNotVerified) || !hasReason(res.Invalid, "no DSSE signature verifies") {
		t.Fatalf("edited bundle: %+v, %v", res, err)
	}
}

func TestCache(t *testing.T) {
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "app", "v1")
	k, key := newKey(t, "k.pub")
	_, other := newKey(t, "other.pub")
	c := verify.NewCache(8)
	opt := verify.Options{Keys: []verify.Key{key}, Cache: c}
	if _, err := verify.Image(ctx, d, opt); !errors.Is(err, verify.ErrUnsigned) || c.Len() != 0 {
		t.Fatalf("unsigned result must not be cached: %v, len %d", err, c.Len())
	}
	mustSign(t, d, k, sign.Options{Format: sign.FormatLegacy})
	r1, err := verify.Image(ctx, d, opt)
	if err != nil || r1.Cached {
		t.Fatalf("first: %+v, %v", r1, err)
	}
	r2, err := verify.Image(ctx, d, opt)
	if err != nil || !r2.Cached || len(r2.Signers) != 1 {
		t.Fatalf("second must come from the cache: %+v, %v", r2, err)
	}
	// Another key set is another entry; failures are not stored.
	if _, err := verify.Image(ctx, d, verify.Options{Keys: []verify.Key{other}, Cache: c}); !errors.Is(err, verify.ErrNotVerified) {
		t.Fatalf("other key: %v", err)
	}
	// A new signature changes the registry state: the entry is not used.
	mustSign(t, d, k, sign.Options{Format: sign.FormatBundle})
	r3, err := verify.Image(ctx, d, opt)
	if err != nil || r3.Cached || len(r3.Signers) != 2 {
		t.Fatalf("after a new signature: %+v, %v", r3, err)
	}
}

// A caller may keep one Puller across verifications (remote.Reuse): the cache still reads the
// registry's signature state every time, so a signature added after caching is seen at once.
func TestCacheSharedPuller(t *testing.T) {
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "app", "v1")
	k, key := newKey(t, "k.pub")
	p, err := remote.NewPuller()
	if err != nil {
		t.Fatal(err)
	}
	opt := verify.Options{Keys: []verify.Key{key}, Cache: verify.NewCache(8), RemoteOptions: []remote.Option{remote.Reuse(p)}}
	if _, err := verify.Image(ctx, d, opt); !errors.Is(err, verify.ErrUnsigned) {
		t.Fatalf("unsigned: %v", err)
	}
	mustSign(t, d, k, sign.Options{Format: sign.FormatLegacy})
	if r, err := verify.Image(ctx, d, opt); err != nil || r.Cached || len(r.Signers) != 1 {
		t.Fatalf("signed after an unsigned verification: %+v, %v", r, err)
	}
	if r, err := verify.Image(ctx, d, opt); err != nil || !r.Cached {
		t.Fatalf("second must come from the cache: %+v, %v", r, err)
	}
	mustSign(t, d, k, sign.Options{Format: sign.FormatBundle})
	if r, err := verify.Image(ctx, d, opt); err != nil || r.Cached || len(r.Signers) != 2 {
		t.Fatalf("after a new signature: %+v, %v", r, err)
	}
}

func TestDuplicateLegacySignatureNotAppended(t *testing.T) {
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "app", "v1")
	k, _ := newKey(t, "k.pub")
	mustSign(t, d, k, sign.Options{Format: sign.FormatLegacy})
	res := mustSign(t, d, k, sign.Options{Format: sign.FormatLegacy})
	if !res.Duplicated {
		t.Fatal("second identical signing should be detected as a duplicate")
	}
	img, _ := remote.Image(sign.TagFor(d, "sig"))
	ls, _ := img.Layers()
	if len(ls) != 1 {
		t.Fatalf("%d layers, want 1", len(ls))
	}
}

// The registry can verify in-process through its own handler.
func TestHandlerTransport(t *testing.T) {
	h := registryHandler(t)
	rt := verify.HandlerTransport(h)
	ro := []remote.Option{remote.WithTransport(rt)}
	ref, err := name.ParseReference("registry.invalid/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	img := randomImage(t)
	if err := remote.Write(ref, img, ro...); err != nil {
		t.Fatal(err)
	}
	k, key := newKey(t, "k.pub")
	if _, err := sign.Image(ctx, ref, k, sign.Options{RemoteOptions: ro}); err != nil {
		t.Fatal(err)
	}
	res, err := verify.Image(ctx, ref, verify.Options{Keys: []verify.Key{key}, RemoteOptions: ro})
	if err != nil || len(res.Signers) != 2 {
		t.Fatalf("%+v, %v", res, err)
	}
}

// An index (or anything but an image) pushed at the .sig tag is reported; bundle signatures still count.
func TestNonImageAtSigTag(t *testing.T) {
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "app", "v1")
	k, key := newKey(t, "k.pub")
	mustSign(t, d, k, sign.Options{Format: sign.FormatBundle})
	if err := remote.WriteIndex(sign.TagFor(d, "sig"), empty.Index); err != nil {
		t.Fatal(err)
	}
	res, err := verify.Image(ctx, d, verify.Options{Keys: []verify.Key{key}})
	if err != nil || len(res.Signers) != 1 || !hasReason(res.Invalid, "not a signature image manifest") {
		t.Fatalf("%+v, %v", res, err)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	host := newRegistry(t, true)
	k, key := newKey(t, "k.pub")
	c := verify.NewCache(2)
	opt := verify.Options{Keys: []verify.Key{key}, Cache: c}
	var ds []name.Digest
	for i := 0; i < 3; i++ {
		_, d := pushRandom(t, host, fmt.Sprint("app", i), "v1")
		mustSign(t, d, k, sign.Options{Format: sign.FormatLegacy})
		ds = append(ds, d)
	}
	for _, d := range ds[:2] {
		if _, err := verify.Image(ctx, d, opt); err != nil {
			t.Fatal(err)
		}
	}
	if r, _ := verify.Image(ctx, ds[0], opt); !r.Cached { // ds[0] is now the most recent
		t.Fatal("ds[0] should be cached")
	}
	if _, err := verify.Image(ctx, ds[2], opt); err != nil { // evicts ds[1]
		t.Fatal(err)
	}
	if c.Len() != 2 {
		t.Fatalf("len %d", c.Len())
	}
	if r, _ := verify.Image(ctx, ds[1], opt); r.Cached {
		t.Error("ds[1] should have been evicted")
	}
	if r, _ := verify.Image(ctx, ds[2], opt); !r.Cached {
		t.Error("ds[2] should be cached")
	}
}
