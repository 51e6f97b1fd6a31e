package sign

import (
	"testing"
)

// The fuzz targets feed untrusted bytes to every parser; they must return an error, never panic.
// Seeds are cosign's real outputs (testdata/cosign) plus a few broken forms.

func FuzzParsePrivateKey(f *testing.F) {
	f.Add(readFixture(f, "cosign.key"), []byte(cosignPassword))
	f.Add(readFixture(f, "cosign.key")[:300], []byte(cosignPassword))
	f.Add(readFixture(f, "cosign.pub"), []byte(""))
	f.Add([]byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"), []byte("x"))
	f.Fuzz(func(t *testing.T, data, pw []byte) {
		_, _ = ParsePrivateKey(data, pw)
	})
}

func FuzzParsePublicKey(f *testing.F) {
	f.Add(readFixture(f, "cosign.pub"))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = ParsePublicKey(data)
	})
}

func FuzzParseSimpleSigning(f *testing.F) {
	f.Add(readFixture(f, "simplesigning-payload.json"))
	f.Add([]byte(`{"critical":{"type":"cosign container image signature","image":{"docker-manifest-digest":"sha256:00"}},"optional":{"a":[1,{"b":null}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := ParseSimpleSigning(data); err == nil {
			_ = p.Annotations()
		}
	})
}

func FuzzParseEnvelope(f *testing.F) {
	f.Add(readFixture(f, "dsse-envelope.json"))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30","signatures":[{"sig":""}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEnvelope(data)
		if err != nil {
			return
		}
		p, err := e.DecodedPayload()
		if err != nil {
			t.Fatalf("a parsed envelope must have a decodable payload: %v", err)
		}
		_ = PAE(e.PayloadType, p)
		if st, err := ParseStatement(p); err == nil {
			_ = st.SubjectFor("sha256", "00")
		}
	})
}

func FuzzParseBundle(f *testing.F) {
	f.Add(readFixture(f, "sign-bundle.json"))
	f.Add(readFixture(f, "attest-bundle.json"))
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","verificationMaterial":{"publicKey":{}},"messageSignature":{"signature":"AA=="}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseBundle(data)
		if err != nil {
			return
		}
		if b.DSSEEnvelope == nil && b.MessageSignature == nil {
			t.Fatal("a parsed bundle must have content")
		}
	})
}

func FuzzParseStatement(f *testing.F) {
	env, _ := ParseEnvelope(readFixture(f, "dsse-envelope.json"))
	p, _ := env.DecodedPayload()
	f.Add(p)
	f.Add([]byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"digest":{}}],"predicateType":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if st, err := ParseStatement(data); err == nil {
			_ = st.SubjectFor("sha256", "")
		}
	})
}
