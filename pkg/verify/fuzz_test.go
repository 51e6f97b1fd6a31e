package verify

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wardensec/warden/internal/testutil/notationtest"
)

// FuzzLegacyBundle: cosign's keyless annotations (certificate, chain, Rekor bundle, RFC 3161
// timestamp) come from the registry; converting them must never panic, only fail.
func FuzzLegacyBundle(f *testing.F) {
	f.Add([]byte(`{"critical":{}}`), "MEUCIQ==", "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n", "",
		`{"SignedEntryTimestamp":"MEUCIQ==","Payload":{"body":"eyJraW5kIjoiaGFzaGVkcmVrb3JkIiwiYXBpVmVyc2lvbiI6IjAuMC4xIn0=","integratedTime":1,"logIndex":2,"logID":"abcd"}}`, "")
	f.Add([]byte("x"), "", "", "", "{}", `{"SignedRFC3161Timestamp":"AA=="}`)
	f.Fuzz(func(t *testing.T, payload []byte, sig, cert, chain, rekor, ts string) {
		ann := map[string]string{}
		for k, v := range map[string]string{AnnotationCertificate: cert, AnnotationChain: chain, AnnotationRekorBundle: rekor, AnnotationRFC3161: ts} {
			if v != "" {
				ann[k] = v
			}
		}
		b, err := legacyBundle(payload, sig, ann, "hint")
		if err == nil && b == nil {
			t.Fatal("no bundle and no error")
		}
	})
}

// FuzzVerifyBlob: any bundle bytes are refused or verified against the public-good root, never a
// panic; nothing verifies for an artifact that was not signed.
func FuzzVerifyBlob(f *testing.F) {
	matches, _ := filepath.Glob("testdata/sigstore/conformance/*/bundle.sigstore.json")
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	tr, err := LoadTrustedRoot("testdata/sigstore/trusted-root-public-good.json")
	if err != nil {
		f.Fatal(err)
	}
	ids := []Identity{{SubjectRegexp: ".*", IssuerRegexp: ".*"}}
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := VerifyBlob(bytes.NewReader([]byte("not the signed artifact\n")), data, BlobOptions{Identities: ids, TrustedRoot: tr})
		if err == nil {
			t.Fatalf("a fuzzed bundle verified for an unsigned artifact: %+v", res)
		}
	})
}

// FuzzParseTrustedRoot: a trusted root file is parsed or refused, never a panic.
func FuzzParseTrustedRoot(f *testing.F) {
	if b, err := os.ReadFile("testdata/sigstore/trusted-root-public-good.json"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseTrustedRoot("fuzz.json", data)
		if err == nil && tr.root == nil {
			t.Fatal("no root and no error")
		}
	})
}

// FuzzNotationEnvelope: the JWS or COSE envelope of a notation referrer comes from the registry
// and goes to notation-go's parser and verifier; any bytes are refused or verified, never a
// panic, and what verifies was made by the trusted certificate.
func FuzzNotationEnvelope(f *testing.F) {
	pki := notationtest.New(f, "fuzz-ca", time.Time{}, time.Time{})
	nt, err := LoadNotationTrust(NotationConfig{TrustStore: pki.TrustStore(f), Identities: []string{"*"}})
	if err != nil {
		f.Fatal(err)
	}
	target := v1.Descriptor{MediaType: types.OCIManifestSchema1, Size: 1234, Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}}
	oci := ocispec.Descriptor{MediaType: string(target.MediaType), Size: target.Size, Digest: digest.Digest(target.Digest.String())}
	d, err := name.NewDigest("registry.test/app@" + target.Digest.String())
	if err != nil {
		f.Fatal(err)
	}
	for _, mt := range []string{MediaTypeNotationJWS, MediaTypeCOSE} {
		env := pki.Envelope(f, mt, oci, time.Now())
		f.Add(env, mt == MediaTypeCOSE)
		if s, p, _ := checkNotation(notationCandidate(env, mt, target), d, Options{Notation: nt}); s == nil {
			f.Fatalf("the seed %s envelope does not verify: %+v", mt, p)
		}
	}
	f.Add([]byte(`{"payload":"e30","protected":"e30","header":{},"signature":"AA"}`), false)
	f.Add([]byte{0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40}, true)
	f.Fuzz(func(t *testing.T, data []byte, cose bool) {
		mt := MediaTypeNotationJWS
		if cose {
			mt = MediaTypeCOSE
		}
		s, p, counts := checkNotation(notationCandidate(data, mt, target), d, Options{Notation: nt})
		if !counts || (s == nil) == (p == nil) {
			t.Fatalf("signer %+v and problem %+v", s, p)
		}
		if s != nil && s.Subject != notationtest.Subject {
			t.Fatalf("a fuzzed envelope verified for %q", s.Subject)
		}
	})
}

func notationCandidate(data []byte, mt string, target v1.Descriptor) candidate {
	return candidate{
		format: FormatNotation, location: "fuzz", desc: v1.Descriptor{MediaType: types.MediaType(mt)},
		load:   func() ([]byte, error) { return data, nil },
		target: func() (v1.Descriptor, error) { return target, nil },
	}
}

// FuzzNotationTrustPolicy: a notation trust policy document is parsed and validated or refused,
// never a panic.
func FuzzNotationTrustPolicy(f *testing.F) {
	f.Add([]byte(`{"version":"1.0","trustPolicies":[{"name":"p","registryScopes":["*"],"signatureVerification":{"level":"strict"},"trustStores":["ca:acme"],"trustedIdentities":["x509.subject: C=US, ST=WA, O=Acme"]}]}`))
	f.Add([]byte(`{"version":"1.0","trustPolicies":[{"name":"skip","registryScopes":["*"],"signatureVerification":{"level":"skip"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseNotationTrustPolicy(data)
		if err == nil && doc == nil {
			t.Fatal("no document and no error")
		}
	})
}
