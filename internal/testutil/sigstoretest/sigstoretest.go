// Package sigstoretest is a Sigstore of the test's own for keyless tests: a Fulcio-like CA and a
// Rekor-like log key (sigstore-go's test CA), their trusted root written to a file, and helpers
// that sign images the way cosign does — a .sig layer with the certificate, its chain and the
// Rekor bundle annotations — and push them to a registry.
package sigstoretest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"

	"github.com/wardensec/warden/pkg/sign"
)

// Sigstore is a test CA and log.
type Sigstore struct {
	VS   *ca.VirtualSigstore
	Root string // path of the trusted_root.json naming the CA and the log (no CT log)
}

// New makes a test Sigstore and writes its trusted root under t.TempDir().
func New(t testing.TB) *Sigstore {
	t.Helper()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	// The test CA gives its log's ID as hex text; a trusted root holds the raw key ID.
	logs := map[string]*root.TransparencyLog{}
	for id, l := range vs.RekorLogs() {
		raw, err := hex.DecodeString(id)
		if err != nil {
			t.Fatal(err)
		}
		cp := *l
		cp.ID = raw
		logs[id] = &cp
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), nil, nil, logs)
	if err != nil {
		t.Fatal(err)
	}
	data, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return &Sigstore{VS: vs, Root: p}
}

// Legacy is a signed .sig layer: the payload and its annotations.
type Legacy struct {
	Payload     []byte
	Annotations map[string]string
	Leaf        *x509.Certificate // keyless: the certificate that signed
}

// SignKeyless signs the simple-signing payload for d as identity/issuer with a fresh Fulcio-like
// certificate and logs it in the Rekor-like log.
func (s *Sigstore) SignKeyless(t testing.TB, d name.Digest, identity, issuer string, ann map[string]string) *Legacy {
	t.Helper()
	leaf, priv, err := s.VS.GenerateLeafCert(identity, issuer)
	if err != nil {
		t.Fatal(err)
	}
	payload := simpleSigning(t, d, ann)
	sig := signECDSA(t, priv.(*ecdsa.PrivateKey), payload)
	leafPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leaf.Raw})
	fca := s.VS.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority)
	var chain []byte
	for _, c := range append(append([]*x509.Certificate{}, fca.Intermediates...), fca.Root) {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return &Legacy{Payload: payload, Leaf: leaf, Annotations: map[string]string{
		sign.AnnotationSignature:          base64.StdEncoding.EncodeToString(sig),
		"dev.sigstore.cosign/certificate": string(leafPEM),
		"dev.sigstore.cosign/chain":       string(chain),
		"dev.sigstore.cosign/bundle":      s.rekorBundle(t, payload, sig, leafPEM, time.Now()),
	}}
}

// SignKey signs the simple-signing payload for d with key and logs it (the public key in the
// entry) in the Rekor-like log at time at.
func (s *Sigstore) SignKey(t testing.TB, d name.Digest, key *ecdsa.PrivateKey, at time.Time) *Legacy {
	t.Helper()
	payload := simpleSigning(t, d, nil)
	sig := signECDSA(t, key, payload)
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	return &Legacy{Payload: payload, Annotations: map[string]string{
		sign.AnnotationSignature:     base64.StdEncoding.EncodeToString(sig),
		"dev.sigstore.cosign/bundle": s.rekorBundle(t, payload, sig, pubPEM, at),
	}}
}

// rekorBundle makes a hashedrekord entry for the signature and the log's SET over it, as
// cosign's bundle annotation.
func (s *Sigstore) rekorBundle(t testing.TB, payload, sig, pubPEM []byte, at time.Time) string {
	t.Helper()
	sum := sha256.Sum256(payload)
	body := map[string]any{
		"apiVersion": "0.0.1",
		"kind":       "hashedrekord",
		"spec": map[string]any{
			"data":      map[string]any{"hash": map[string]any{"algorithm": "sha256", "value": hex.EncodeToString(sum[:])}},
			"signature": map[string]any{"content": base64.StdEncoding.EncodeToString(sig), "publicKey": map[string]any{"content": base64.StdEncoding.EncodeToString(pubPEM)}},
		},
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	logID, err := s.VS.RekorLogID()
	if err != nil {
		t.Fatal(err)
	}
	p := tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(raw), IntegratedTime: at.Unix(), LogIndex: 4242, LogID: logID}
	set, err := s.VS.RekorSignPayload(p)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(map[string]any{"SignedEntryTimestamp": base64.StdEncoding.EncodeToString(set), "Payload": p})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func simpleSigning(t testing.TB, d name.Digest, ann map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(sign.NewSimpleSigning(d.Context().Name(), d.DigestStr(), ann))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func signECDSA(t testing.TB, k *ecdsa.PrivateKey, msg []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(msg)
	sig, err := k.Sign(rand.Reader, sum[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// Push writes the layers as the .sig image of d (replacing what was there).
func Push(t testing.TB, d name.Digest, ropts []remote.Option, layers ...*Legacy) {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, l := range layers {
		var err error
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:       static.NewLayer(l.Payload, sign.MediaTypeSimpleSigning),
			Annotations: l.Annotations,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	ro := append([]remote.Option{remote.WithContext(context.Background())}, ropts...)
	if err := remote.Write(sign.TagFor(d, "sig"), img, ro...); err != nil {
		t.Fatal(err)
	}
}

// BundleKeyless makes a Sigstore bundle (v0.1 media type, DSSE) holding a cosign image-signature
// statement about d (subject digest: forDigest), signed keyless as identity/issuer and logged
// (a dsse Rekor entry with its SET).
func (s *Sigstore) BundleKeyless(t testing.TB, d, forDigest name.Digest, identity, issuer string) []byte {
	t.Helper()
	return s.AttestKeyless(t, d, forDigest, identity, issuer, sign.PredicateCosignSign, map[string]any{})
}

// AttestKeyless is BundleKeyless for any predicate: a keyless attestation bundle.
func (s *Sigstore) AttestKeyless(t testing.TB, d, forDigest name.Digest, identity, issuer, predicateType string, predicate any) []byte {
	t.Helper()
	alg, hx, _ := strings.Cut(forDigest.DigestStr(), ":")
	st, err := json.Marshal(map[string]any{
		"_type":         sign.StatementTypeV1,
		"subject":       []map[string]any{{"name": d.Context().Name(), "digest": map[string]string{alg: hx}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
	if err != nil {
		t.Fatal(err)
	}
	ent, err := s.VS.AttestAtTime(identity, issuer, st, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	vc, err := ent.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ent.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	env := sc.EnvelopeContent().RawEnvelope()
	entries, err := ent.TlogEntries()
	if err != nil {
		t.Fatal(err)
	}
	fca := s.VS.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority)
	chain := &protocommon.X509CertificateChain{Certificates: []*protocommon.X509Certificate{{RawBytes: vc.Certificate().Raw}}}
	for _, c := range fca.Intermediates {
		chain.Certificates = append(chain.Certificates, &protocommon.X509Certificate{RawBytes: c.Raw})
	}
	pe := &protodsse.Envelope{PayloadType: env.PayloadType}
	if pe.Payload, err = base64.StdEncoding.DecodeString(env.Payload); err != nil {
		t.Fatal(err)
	}
	for _, sg := range env.Signatures {
		raw, err := base64.StdEncoding.DecodeString(sg.Sig)
		if err != nil {
			t.Fatal(err)
		}
		pe.Signatures = append(pe.Signatures, &protodsse.Signature{Sig: raw, Keyid: sg.KeyID})
	}
	pb := &protobundle.Bundle{
		MediaType: "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:     &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: chain},
			TlogEntries: []*protorekor.TransparencyLogEntry{s.withSET(t, entries[0].TransparencyLogEntry())},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: pe},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// PushBundle attaches a Sigstore bundle to d as an OCI 1.1 referrer, as cosign does.
func PushBundle(t testing.TB, d name.Digest, ropts []remote.Option, bundleJSON []byte) {
	t.Helper()
	ro := append([]remote.Option{remote.WithContext(context.Background())}, ropts...)
	desc, err := remote.Head(d, ro...)
	if err != nil {
		t.Fatal(err)
	}
	repo := d.Context()
	bl := static.NewLayer(bundleJSON, sign.MediaTypeBundle)
	cl := static.NewLayer([]byte("{}"), sign.MediaTypeEmptyConfig)
	descOf := func(l v1.Layer) v1.Descriptor {
		dg, _ := l.Digest()
		sz, _ := l.Size()
		mt, _ := l.MediaType()
		return v1.Descriptor{MediaType: mt, Digest: dg, Size: sz}
	}
	for _, l := range []v1.Layer{cl, bl} {
		if err := remote.WriteLayer(repo, l, ro...); err != nil {
			t.Fatal(err)
		}
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, ArtifactType: sign.MediaTypeBundle,
		Config: descOf(cl), Layers: []v1.Descriptor{descOf(bl)},
		Subject: &v1.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size}}
	raw, err := json.Marshal(&m)
	if err != nil {
		t.Fatal(err)
	}
	h, _, err := v1.SHA256(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Put(repo.Digest(h.String()), rawManifest{raw}, ro...); err != nil {
		t.Fatal(err)
	}
}

type rawManifest struct{ raw []byte }

func (r rawManifest) RawManifest() ([]byte, error)        { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return types.OCIManifestSchema1, nil }

// withSET completes a log entry of the test CA with its kind and version and an inclusion
// promise: the log's SET over the entry.
func (s *Sigstore) withSET(t testing.TB, tle *protorekor.TransparencyLogEntry) *protorekor.TransparencyLogEntry {
	t.Helper()
	var kv struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(tle.CanonicalizedBody, &kv); err != nil {
		t.Fatal(err)
	}
	p := tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: tle.IntegratedTime,
		LogIndex: tle.LogIndex, LogID: hex.EncodeToString(tle.LogId.KeyId)}
	set, err := s.VS.RekorSignPayload(p)
	if err != nil {
		t.Fatal(err)
	}
	tle.KindVersion = &protorekor.KindVersion{Kind: kv.Kind, Version: kv.APIVersion}
	tle.InclusionPromise = &protorekor.InclusionPromise{SignedEntryTimestamp: set}
	return tle
}
