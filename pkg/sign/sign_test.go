package sign

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const cosignPassword = "correct horse battery staple"

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "cosign", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func cosignPublicKey(t testing.TB) crypto.PublicKey {
	t.Helper()
	pub, err := ParsePublicKey(readFixture(t, "cosign.pub"))
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

func TestCosignKeyPairLoads(t *testing.T) {
	k, err := ParsePrivateKey(readFixture(t, "cosign.key"), []byte(cosignPassword))
	if err != nil {
		t.Fatalf("cosign's key: %v", err)
	}
	if KeyID(k.Public()) != KeyID(cosignPublicKey(t)) {
		t.Fatal("cosign.key and cosign.pub are not a pair")
	}
	// The bundle cosign wrote carries the same key hint Warden computes.
	b, err := ParseBundle(readFixture(t, "sign-bundle.json"))
	if err != nil {
		t.Fatal(err)
	}
	if b.VerificationMaterial.PublicKey.Hint != KeyID(k.Public()) {
		t.Errorf("hint %q, KeyID %q", b.VerificationMaterial.PublicKey.Hint, KeyID(k.Public()))
	}
}

func TestKeyFailures(t *testing.T) {
	good := readFixture(t, "cosign.key")
	tests := []struct {
		name, want string
		data       []byte
		pw         string
		is         error
	}{
		{"wrong password", "wrong password", good, "hunter2", ErrWrongPassword},
		{"truncated", "no PEM block found (truncated", good[:len(good)/2], cosignPassword, nil},
		{"empty", "empty key file", nil, cosignPassword, nil},
		{"public key given", `unsupported PEM block "PUBLIC KEY"`, readFixture(t, "cosign.pub"), "", nil},
		{"garbage envelope", "reading the encrypted-key envelope", pem.EncodeToMemory(&pem.Block{Type: PEMSigstorePrivateKey, Bytes: []byte("{not json")}), "", nil},
		{"other kdf", `unsupported key-derivation function "pbkdf2"`, pem.EncodeToMemory(&pem.Block{Type: PEMSigstorePrivateKey, Bytes: []byte(`{"kdf":{"name":"pbkdf2"},"cipher":{"name":"nacl/secretbox"}}`)}), "", nil},
		{"huge scrypt N", "unsupported scrypt parameters N=1073741824", pem.EncodeToMemory(&pem.Block{Type: PEMSigstorePrivateKey, Bytes: []byte(`{"kdf":{"name":"scrypt","params":{"N":1073741824,"r":8,"p":1}},"cipher":{"name":"nacl/secretbox","nonce":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}`)}), "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParsePrivateKey(tc.data, []byte(tc.pw))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%v is not %v", err, tc.is)
			}
		})
	}
}

func TestGenerateAndScryptParameterSets(t *testing.T) {
	priv, pub, err := GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(priv)
	if block.Type != PEMSigstorePrivateKey {
		t.Fatalf("PEM type %q", block.Type)
	}
	var env encryptedKey
	if err := json.Unmarshal(block.Bytes, &env); err != nil || env.KDF.Params != scryptStandard || env.Cipher.Name != "nacl/secretbox" {
		t.Fatalf("envelope %+v, %v", env, err)
	}
	k, err := ParsePrivateKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePublicKey(pub)
	if err != nil || KeyID(p) != KeyID(k.Public()) {
		t.Fatalf("public key: %v", err)
	}
	if _, ok := k.(*ecdsa.PrivateKey); !ok {
		t.Fatalf("key is %T, want ECDSA", k)
	}
	// The older PEM type and the other parameter sets go-securesystemslib accepts.
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	for _, params := range []scryptParams{scryptLegacy, scryptOWASP} {
		envb, err := encryptKey(der, []byte("pw"), params)
		if err != nil {
			t.Fatal(err)
		}
		old := pem.EncodeToMemory(&pem.Block{Type: PEMCosignPrivateKey, Bytes: envb})
		if _, err := ParsePrivateKey(old, []byte("pw")); err != nil {
			t.Errorf("N=%d: %v", params.N, err)
		}
	}
}

func TestImportPlainKeysAndVerifyKeyTypes(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ecDER, _ := x509.MarshalECPrivateKey(ec)
	edDER, _ := x509.MarshalPKCS8PrivateKey(ed)
	plain := map[string][]byte{
		"EC PRIVATE KEY":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}),
		"RSA PRIVATE KEY": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rs)}),
		"PRIVATE KEY":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: edDER}),
	}
	for typ, data := range plain {
		t.Run(typ, func(t *testing.T) {
			k, err := ParsePrivateKey(data, nil)
			if err != nil {
				t.Fatal(err)
			}
			priv, pub, err := MarshalKeyPair(k, []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			k2, err := ParsePrivateKey(priv, []byte("pw"))
			if err != nil {
				t.Fatal(err)
			}
			p, err := ParsePublicKey(pub)
			if err != nil {
				t.Fatal(err)
			}
			msg := []byte("payload")
			sig, err := SignMessage(k2, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyMessage(p, msg, sig); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if err := VerifyMessage(p, []byte("other"), sig); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("tampered message: %v", err)
			}
		})
	}
	// Pure Ed25519 signatures (older cosign) verify too.
	if err := VerifyMessage(ed.Public(), []byte("m"), ed25519.Sign(ed, []byte("m"))); err != nil {
		t.Errorf("pure Ed25519: %v", err)
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	if _, err := MarshalPublicKey(small.Public()); err != nil {
		t.Fatal(err)
	}
	pubPEM, _ := MarshalPublicKey(small.Public())
	if _, err := ParsePublicKey(pubPEM); err == nil || !strings.Contains(err.Error(), "too small") {
		t.Errorf("RSA-1024 must be refused, got %v", err)
	}
}

// cosign's own outputs verify offline with cosign.pub.
func TestCosignArtifactsVerify(t *testing.T) {
	pub := cosignPublicKey(t)
	digest := strings.TrimSpace(string(readFixture(t, "image-digest.txt")))

	payload := readFixture(t, "simplesigning-payload.json")
	sig, err := decodeB64(string(readFixture(t, "simplesigning-payload.sig")))
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyMessage(pub, payload, sig); err != nil {
		t.Fatalf("simple-signing signature: %v", err)
	}
	ss, err := ParseSimpleSigning(payload)
	if err != nil || ss.Critical.Image.DockerManifestDigest != digest || ss.Annotations()["env"] != "prod" {
		t.Fatalf("payload %+v, %v", ss, err)
	}

	for _, f := range []struct{ file, predicate string }{
		{"sign-bundle.json", PredicateCosignSign}, {"attest-bundle.json", PredicateCycloneDX},
	} {
		b, err := ParseBundle(readFixture(t, f.file))
		if err != nil {
			t.Fatalf("%s: %v", f.file, err)
		}
		checkEnvelope(t, f.file, b.DSSEEnvelope, pub, digest, f.predicate)
	}
	env, err := ParseEnvelope(readFixture(t, "dsse-envelope.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkEnvelope(t, "dsse-envelope.json", env, pub, digest, PredicateCycloneDX)
}

func checkEnvelope(t *testing.T, file string, env *Envelope, pub crypto.PublicKey, digest, predicateType string) {
	t.Helper()
	p, err := env.DecodedPayload()
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	sig, err := decodeB64(env.Signatures[0].Sig)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if err := VerifyMessage(pub, PAE(env.PayloadType, p), sig); err != nil {
		t.Fatalf("%s: DSSE signature: %v", file, err)
	}
	st, err := ParseStatement(p)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	alg, hex, _ := strings.Cut(digest, ":")
	if st.PredicateType != predicateType || st.SubjectFor(alg, hex) == nil {
		t.Fatalf("%s: statement %+v", file, st)
	}
}

func TestPAE(t *testing.T) {
	// The example from the DSSE specification (protocol.md).
	got := string(PAE("http://example.com/HelloWorld", []byte("hello world")))
	want := "DSSEv1 29 http://example.com/HelloWorld 11 hello world"
	if got != want {
		t.Fatalf("PAE = %q, want %q", got, want)
	}
}

func TestParseFailures(t *testing.T) {
	tests := []struct {
		name, want string
		parse      func([]byte) error
		data       string
	}{
		{"payload wrong type", `payload type is "other"`, func(b []byte) error { _, err := ParseSimpleSigning(b); return err },
			`{"critical":{"type":"other","image":{"docker-manifest-digest":"sha256:00"}}}`},
		{"payload no digest", "names no image digest", func(b []byte) error { _, err := ParseSimpleSigning(b); return err },
			`{"critical":{"type":"cosign container image signature"}}`},
		{"envelope no sigs", "no signatures", func(b []byte) error { _, err := ParseEnvelope(b); return err },
			`{"payloadType":"x","payload":"e30=","signatures":[]}`},
		{"envelope bad base64", "not base64", func(b []byte) error { _, err := ParseEnvelope(b); return err },
			`{"payloadType":"x","payload":"%%%","signatures":[{"sig":"AA=="}]}`},
		{"bundle wrong media type", "not a Sigstore bundle", func(b []byte) error { _, err := ParseBundle(b); return err },
			`{"mediaType":"application/json"}`},
		{"bundle no content", "neither a dsseEnvelope nor a messageSignature", func(b []byte) error { _, err := ParseBundle(b); return err },
			`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{}}`},
		{"statement type", `statement _type is "x"`, func(b []byte) error { _, err := ParseStatement(b); return err },
			`{"_type":"x"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.parse([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestPredicateTypeURI(t *testing.T) {
	for in, want := range map[string]string{
		"cyclonedx": PredicateCycloneDX, "spdx": PredicateSPDX, "vuln": PredicateCosignVuln, "custom": PredicateCosignCustom,
		"https://example.com/p/v1": "https://example.com/p/v1",
	} {
		if got, err := PredicateTypeURI(in); err != nil || got != want {
			t.Errorf("%s: %q, %v", in, got, err)
		}
	}
	if _, err := PredicateTypeURI("sbom"); err == nil {
		t.Error("unknown short name accepted")
	}
}
