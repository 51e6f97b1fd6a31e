// Package sigstoretest is a Sigstore of the test's own for keyless tests: a Fulcio-like CA and a
// Rekor-like log key (sigstore-go's test CA), their trusted root written to a file, and helpers
// that sign images the way cosign does — a .sig layer with the certificate, its chain and the
// Rekor bundle annotations — and push them to a registry.
package sigstoretest

import (
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
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
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
