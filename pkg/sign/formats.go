package sign

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Media types, annotation keys and type URIs of the formats cosign reads and writes.
const (
	MediaTypeSimpleSigning = "application/vnd.dev.cosign.simplesigning.v1+json"
	MediaTypeDSSE          = "application/vnd.dsse.envelope.v1+json"
	MediaTypeBundle        = "application/vnd.dev.sigstore.bundle.v0.3+json"
	MediaTypeEmptyConfig   = "application/vnd.oci.empty.v1+json"
	PayloadTypeInToto      = "application/vnd.in-toto+json"

	AnnotationSignature        = "dev.cosignproject.cosign/signature"
	AnnotationPredicateType    = "predicateType" // on .att layers, as cosign writes it
	AnnotationBundleContent    = "dev.sigstore.bundle.content"
	AnnotationBundlePredicate  = "dev.sigstore.bundle.predicateType"
	AnnotationCreated          = "org.opencontainers.image.created"
	SimpleSigningType          = "cosign container image signature"
	StatementTypeV1            = "https://in-toto.io/Statement/v1"
	StatementTypeV01           = "https://in-toto.io/Statement/v0.1"
	PredicateCosignSign        = "https://sigstore.dev/cosign/sign/v1"
	PredicateCycloneDX         = "https://cyclonedx.org/bom"
	PredicateSPDX              = "https://spdx.dev/Document"
	PredicateCosignVuln        = "https://cosign.sigstore.dev/attestation/vuln/v1"
	PredicateCosignCustom      = "https://cosign.sigstore.dev/attestation/v1"
	maxPayloadBytes            = 16 << 20
	simpleSigningTypeAtomicOld = "atomic container signature"
)

// SimpleSigning is the payload of a legacy cosign signature ("simple signing" format).
type SimpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// NewSimpleSigning builds the payload cosign signs for an image digest in a repository.
func NewSimpleSigning(repository, digest string, annotations map[string]string) *SimpleSigning {
	p := &SimpleSigning{}
	p.Critical.Identity.DockerReference = repository
	p.Critical.Image.DockerManifestDigest = digest
	p.Critical.Type = SimpleSigningType
	if len(annotations) > 0 {
		p.Optional = map[string]any{}
		for k, v := range annotations {
			p.Optional[k] = v
		}
	}
	return p
}

// decodeJSON reads data, at most maxPayloadBytes of JSON, into a new T; short ("payload") names
// it in the error about its size, long ("simple-signing payload") in the error about its JSON.
func decodeJSON[T any](data []byte, short, long string) (*T, error) {
	if len(data) > maxPayloadBytes {
		return nil, fmt.Errorf("%s of %d bytes is too large", short, len(data))
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("reading %s: %w", long, err)
	}
	return &v, nil
}

// ParseSimpleSigning reads a simple-signing payload and checks its shape.
func ParseSimpleSigning(data []byte) (*SimpleSigning, error) {
	p, err := decodeJSON[SimpleSigning](data, "payload", "simple-signing payload")
	if err != nil {
		return nil, err
	}
	switch p.Critical.Type {
	case SimpleSigningType, simpleSigningTypeAtomicOld:
	default:
		return nil, fmt.Errorf("payload type is %q, want %q", p.Critical.Type, SimpleSigningType)
	}
	if p.Critical.Image.DockerManifestDigest == "" {
		return nil, errors.New("payload names no image digest (critical.image.docker-manifest-digest)")
	}
	return p, nil
}

// Annotations returns the optional section as strings (non-string values in their JSON form).
func (p *SimpleSigning) Annotations() map[string]string { return stringify(p.Optional) }

func stringify(m map[string]any) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		default:
			b, _ := json.Marshal(x)
			out[k] = string(b)
		}
	}
	return out
}

// Envelope is a DSSE envelope (also the "dsseEnvelope" of a Sigstore bundle).
type Envelope struct {
	PayloadType string         `json:"payloadType"`
	Payload     string         `json:"payload"` // base64
	Signatures  []EnvSignature `json:"signatures"`
}

// EnvSignature is one signature of a DSSE envelope.
type EnvSignature struct {
	KeyID string `json:"keyid,omitempty"`
	Sig   string `json:"sig"` // base64
}

// PAE is DSSE's pre-authentication encoding, the bytes that are actually signed.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// ParseEnvelope reads a DSSE envelope and checks it has a payload and at least one signature.
func ParseEnvelope(data []byte) (*Envelope, error) {
	e, err := decodeJSON[Envelope](data, "envelope", "DSSE envelope")
	if err != nil {
		return nil, err
	}
	if err := e.check(); err != nil {
		return nil, err
	}
	return e, nil
}

func (e *Envelope) check() error {
	if e.PayloadType == "" {
		return errors.New("DSSE envelope has no payloadType")
	}
	if _, err := e.DecodedPayload(); err != nil {
		return err
	}
	if len(e.Signatures) == 0 {
		return errors.New("DSSE envelope has no signatures")
	}
	return nil
}

// DecodedPayload returns the envelope's payload bytes.
func (e *Envelope) DecodedPayload() ([]byte, error) {
	b, err := decodeB64(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("DSSE payload is not base64: %w", err)
	}
	return b, nil
}

// decodeB64 accepts standard and URL-safe base64, padded or not (DSSE allows both; protobuf JSON
// writes standard).
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return nil, err
}

// Statement is an in-toto Statement (v1; v0.1 is read too).
type Statement struct {
	Type          string          `json:"_type"`
	Subject       []ResourceDesc  `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate,omitempty"`
}

// ResourceDesc is an in-toto resource descriptor (a statement's subject).
type ResourceDesc struct {
	Name        string            `json:"name,omitempty"`
	Digest      map[string]string `json:"digest"`
	Annotations map[string]any    `json:"annotations,omitempty"`
}

// ParseStatement reads an in-toto statement and checks its type and shape.
func ParseStatement(data []byte) (*Statement, error) {
	s, err := decodeJSON[Statement](data, "statement", "in-toto statement")
	if err != nil {
		return nil, err
	}
	switch s.Type {
	case StatementTypeV1, StatementTypeV01:
	default:
		return nil, fmt.Errorf("statement _type is %q, want %q", s.Type, StatementTypeV1)
	}
	if s.PredicateType == "" {
		return nil, errors.New("statement has no predicateType")
	}
	if len(s.Subject) == 0 {
		return nil, errors.New("statement has no subject")
	}
	return s, nil
}

// SubjectFor returns the subject whose sha256 digest is hex, or nil.
func (s *Statement) SubjectFor(algorithm, hex string) *ResourceDesc {
	for i := range s.Subject {
		if d, ok := s.Subject[i].Digest[algorithm]; ok && strings.EqualFold(d, hex) {
			return &s.Subject[i]
		}
	}
	return nil
}

// Bundle is a Sigstore bundle (v0.3) in protobuf JSON form, with the fields Warden reads.
type Bundle struct {
	MediaType            string                `json:"mediaType"`
	VerificationMaterial *VerificationMaterial `json:"verificationMaterial"`
	DSSEEnvelope         *Envelope             `json:"dsseEnvelope,omitempty"`
	MessageSignature     *MessageSignature     `json:"messageSignature,omitempty"`
}

// VerificationMaterial says which key or certificate signed; Warden only uses the key hint.
type VerificationMaterial struct {
	PublicKey                 *PublicKeyID      `json:"publicKey,omitempty"`
	Certificate               json.RawMessage   `json:"certificate,omitempty"`
	X509CertificateChain      json.RawMessage   `json:"x509CertificateChain,omitempty"`
	TlogEntries               []json.RawMessage `json:"tlogEntries,omitempty"`
	TimestampVerificationData json.RawMessage   `json:"timestampVerificationData,omitempty"`
}

// PublicKeyID carries the public-key hint (see KeyID).
type PublicKeyID struct {
	Hint string `json:"hint,omitempty"`
}

// MessageSignature is a bundle's plain signature over a message digest.
type MessageSignature struct {
	MessageDigest *struct {
		Algorithm string `json:"algorithm"`
		Digest    string `json:"digest"`
	} `json:"messageDigest,omitempty"`
	Signature string `json:"signature"`
}

// ParseBundle reads a Sigstore bundle and checks its version and shape.
func ParseBundle(data []byte) (*Bundle, error) {
	b, err := decodeJSON[Bundle](data, "bundle", "Sigstore bundle")
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(b.MediaType, "application/vnd.dev.sigstore.bundle") {
		return nil, fmt.Errorf("bundle mediaType is %q, not a Sigstore bundle", b.MediaType)
	}
	if b.VerificationMaterial == nil {
		return nil, errors.New("bundle has no verificationMaterial")
	}
	switch {
	case b.DSSEEnvelope != nil && b.MessageSignature != nil:
		return nil, errors.New("bundle has both a dsseEnvelope and a messageSignature")
	case b.DSSEEnvelope != nil:
		if err := b.DSSEEnvelope.check(); err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
	case b.MessageSignature != nil:
		if _, err := decodeB64(b.MessageSignature.Signature); err != nil || b.MessageSignature.Signature == "" {
			return nil, errors.New("bundle messageSignature has no valid base64 signature")
		}
	default:
		return nil, errors.New("bundle has neither a dsseEnvelope nor a messageSignature")
	}
	return b, nil
}
