package verify

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
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
