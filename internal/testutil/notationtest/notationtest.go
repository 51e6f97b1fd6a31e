// Package notationtest signs images in the Notary Project format with notation-go's own signer
// (an implementation independent of Warden) and pushes the signatures as OCI referrers with
// notation-go's registry client, for Warden's verification tests.
package notationtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/notaryproject/notation-core-go/signature"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/dir"
	nregistry "github.com/notaryproject/notation-go/registry"
	"github.com/notaryproject/notation-go/signer"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"oras.land/oras-go/v2/registry/remote"
	"oras.land/oras-go/v2/registry/remote/auth"
)

// Media types of the two envelope formats.
const (
	JWS  = "application/jose+json"
	COSE = "application/cose"
)

// Subject is the distinguished name of the signing certificates New makes; Identity is it as a
// notation trusted identity.
const (
	Subject  = "CN=release,O=Acme,ST=WA,C=US"
	Identity = "x509.subject: C=US, ST=WA, O=Acme, CN=release"
)

// PKI is a root CA with a code-signing leaf.
type PKI struct {
	CAKey  *ecdsa.PrivateKey
	CA     *x509.Certificate
	Key    *ecdsa.PrivateKey
	Leaf   *x509.Certificate
	CAFile string // the CA certificate, PEM
	// Username and Password, when set, authenticate to the registry (basic auth).
	Username, Password string
}

// New makes a CA named caName and a leaf valid from notBefore to notAfter (zero: an hour ago to
// a day from now), and writes the CA to a PEM file.
func New(t testing.TB, caName string, notBefore, notAfter time.Time) *PKI {
	t.Helper()
	if notBefore.IsZero() {
		notBefore, notAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: caName, Organization: []string{"Acme"}, Province: []string{"WA"}, Country: []string{"US"}},
		NotBefore:             notBefore.Add(-time.Hour),
		NotAfter:              notAfter.Add(365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "release", Organization: []string{"Acme"}, Province: []string{"WA"}, Country: []string{"US"}},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, key.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		t.Fatal(err)
	}
	p := &PKI{CAKey: caKey, CA: ca, Key: key, Leaf: leaf}
	p.CAFile = filepath.Join(t.TempDir(), caName+".pem")
	if err := os.WriteFile(p.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TrustStore writes a trust store directory holding the CA certificate and returns it.
func (p *PKI) TrustStore(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	data, err := os.ReadFile(p.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func (p *PKI) repository(t testing.TB, d name.Digest) nregistry.Repository {
	t.Helper()
	repo, err := remote.NewRepository(d.Context().String())
	if err != nil {
		t.Fatal(err)
	}
	repo.PlainHTTP = true
	if p != nil && p.Username != "" {
		repo.Client = &auth.Client{Credential: auth.StaticCredential(d.RegistryStr(), auth.Credential{Username: p.Username, Password: p.Password})}
	}
	return nregistry.NewRepository(repo)
}

// Sign signs the image d with notation.Sign and notation-go's generic signer in the envelope
// format mediaType (JWS or COSE), pushing the signature as a referrer of d, with user metadata.
func (p *PKI) Sign(t testing.TB, d name.Digest, mediaType string, metadata map[string]string) {
	t.Helper()
	s, err := signer.NewGenericSigner(p.Key, []*x509.Certificate{p.Leaf, p.CA})
	if err != nil {
		t.Fatal(err)
	}
	_, err = notation.Sign(context.Background(), s, p.repository(t, d), notation.SignOptions{
		SignerSignOptions: notation.SignerSignOptions{SignatureMediaType: mediaType},
		ArtifactReference: d.String(),
		UserMetadata:      metadata,
	})
	if err != nil {
		t.Fatalf("notation sign %s (%s): %v", d, mediaType, err)
	}
}

// Envelope builds a signature envelope with notation-core-go for target (the descriptor the
// payload names), signed at signingTime: a signature made while the certificate was valid.
func (p *PKI) Envelope(t testing.TB, mediaType string, target ocispec.Descriptor, signingTime time.Time) []byte {
	t.Helper()
	ls, err := signature.NewLocalSigner([]*x509.Certificate{p.Leaf, p.CA}, p.Key)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(map[string]any{"targetArtifact": ocispec.Descriptor{MediaType: target.MediaType, Digest: target.Digest, Size: target.Size}})
	if err != nil {
		t.Fatal(err)
	}
	env, err := signature.NewEnvelope(mediaType)
	if err != nil {
		t.Fatal(err)
	}
	blob, err := env.Sign(&signature.SignRequest{
		Payload:       signature.Payload{ContentType: "application/vnd.cncf.notary.payload.v1+json", Content: payload},
		Signer:        ls,
		SigningTime:   signingTime,
		SigningScheme: signature.SigningSchemeX509,
		SigningAgent:  "notationtest",
	})
	if err != nil {
		t.Fatalf("notation envelope: %v", err)
	}
	return blob
}

// Push attaches an envelope to subject d with notation-go's registry client, as notation does.
func (p *PKI) Push(t testing.TB, d name.Digest, mediaType string, blob []byte) {
	t.Helper()
	repo := p.repository(t, d)
	desc, err := repo.Resolve(context.Background(), d.DigestStr())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := repo.PushSignature(context.Background(), mediaType, blob, desc, nil); err != nil {
		t.Fatalf("pushing the notation signature of %s: %v", d, err)
	}
}

// Target is the descriptor of d as the registry serves it.
func (p *PKI) Target(t testing.TB, d name.Digest) ocispec.Descriptor {
	t.Helper()
	desc, err := p.repository(t, d).Resolve(context.Background(), d.DigestStr())
	if err != nil {
		t.Fatal(err)
	}
	return desc
}

// Verifier is notation-go's own verifier for this CA (a trust store "ca:test" holding it) and
// identity, with revocation checks skipped.
func (p *PKI) Verifier(t testing.TB, identity string) notation.Verifier {
	t.Helper()
	root := t.TempDir()
	store := filepath.Join(root, "truststore", "x509", "ca", "test")
	if err := os.MkdirAll(store, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(store, "ca.pem"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	doc := &trustpolicy.Document{Version: "1.0", TrustPolicies: []trustpolicy.TrustPolicy{{
		Name: "test", RegistryScopes: []string{"*"},
		SignatureVerification: trustpolicy.SignatureVerification{VerificationLevel: "strict",
			Override: map[trustpolicy.ValidationType]trustpolicy.ValidationAction{trustpolicy.TypeRevocation: trustpolicy.ActionSkip}},
		TrustStores: []string{"ca:test"}, TrustedIdentities: []string{identity},
	}}}
	v, err := verifier.New(doc, truststore.NewX509TrustStore(dir.NewSysFS(root)), nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// VerifyWithNotation runs notation.Verify (notation-go's own referrer listing and verification)
// on d and fails the test unless it passes.
func (p *PKI) VerifyWithNotation(t testing.TB, v notation.Verifier, d name.Digest) {
	t.Helper()
	_, outcomes, err := notation.Verify(context.Background(), v, p.repository(t, d), notation.VerifyOptions{ArtifactReference: d.String(), MaxSignatureAttempts: 10})
	if err != nil || len(outcomes) == 0 {
		t.Fatalf("notation.Verify %s: %v", d, err)
	}
}
