package verify

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/notaryproject/notation-core-go/revocation"
	revocationresult "github.com/notaryproject/notation-core-go/revocation/result"
	corex509 "github.com/notaryproject/notation-core-go/x509"
	"github.com/notaryproject/notation-go"
	nverifier "github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/wardensec/warden/pkg/sign"
)

// Notary Project (notation) signatures: an OCI 1.1 referrer of artifact type
// ArtifactTypeNotation whose one layer is a JWS or COSE envelope.
const (
	ArtifactTypeNotation = "application/vnd.cncf.notary.signature"
	MediaTypeNotationJWS = "application/jose+json"
	MediaTypeCOSE        = "application/cose"
	// FormatNotation is the Signer/Problem format of a Notary Project signature.
	FormatNotation sign.Format = "notation"
)

// NotationConfig says which Notary Project signatures are trusted: the trust store, and either
// the trusted identities (Warden's policy form) or notation's own trust policy document.
type NotationConfig struct {
	// TrustStore is a directory: either certificate files (PEM or DER) that are all trusted as
	// CAs ("ca:warden"), or notation's layout x509/{ca,signingAuthority,tsa}/NAME/ (the
	// truststore directory of notation's configuration).
	TrustStore string
	// Identities are notation trusted identities: "x509.subject: C=US, O=Acme, CN=release", or
	// "*" for any certificate that chains to the trust store. Ignored with TrustPolicy.
	Identities []string
	// TrustPolicy is a notation trust policy document (trustpolicy.json, version 1.0); its
	// trustStores name stores of TrustStore's notation layout. Empty: one policy for every
	// image with every store of TrustStore and Identities.
	TrustPolicy string
	// Level is the notation verification level when TrustPolicy is empty: strict (default),
	// permissive or audit.
	Level string
	// Revocation is what to do with certificate revocation (OCSP/CRL) when TrustPolicy is empty:
	// skip (default; Warden verifies offline), log or enforce (network access to the CA).
	Revocation string
}

// NotationTrust is a loaded NotationConfig, ready to verify.
type NotationTrust struct {
	Name     string // "notation:" and the trust store as given; the Signer.Key of its signatures
	cfg      NotationConfig
	verifier notation.Verifier
	digest   string // of the trust store's certificates and the policy, for the cache key
}

// String is the name signatures it trusts are reported under.
func (n *NotationTrust) String() string { return n.Name }

var storeName = regexp.MustCompile(`^[a-zA-Z0-9_.-]+$`)

// LoadNotationTrust reads the trust store (and trust policy) of cfg.
func LoadNotationTrust(cfg NotationConfig) (*NotationTrust, error) {
	if cfg.TrustStore == "" {
		return nil, errors.New("notation: a trust store directory is required")
	}
	store, err := loadDirTrustStore(cfg.TrustStore)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	for _, k := range store.names() {
		h.Write([]byte(k + "\x00"))
		for _, c := range store.certs[k] {
			h.Write(c.Raw)
		}
	}
	var doc *trustpolicy.Document
	offline := false // revocation skipped: the timestamp authority's chain is not checked online either
	if cfg.TrustPolicy != "" {
		data, err := os.ReadFile(cfg.TrustPolicy)
		if err != nil {
			return nil, fmt.Errorf("notation trust policy: %w", err)
		}
		doc, err = ParseNotationTrustPolicy(data)
		if err != nil {
			return nil, fmt.Errorf("notation trust policy %s: %w", cfg.TrustPolicy, err)
		}
		h.Write(data)
	} else {
		if len(cfg.Identities) == 0 {
			return nil, fmt.Errorf("notation trust store %s: no trusted identity given (an x509.subject, or \"*\")", cfg.TrustStore)
		}
		level := cfg.Level
		if level == "" {
			level = trustpolicy.LevelStrict.Name
		}
		switch level {
		case "strict", "permissive", "audit":
		default:
			return nil, fmt.Errorf("notation level %q: want strict, permissive or audit", level)
		}
		rev := trustpolicy.ActionSkip
		switch cfg.Revocation {
		case "", "skip":
			offline = true
		case "log", "enforce":
			rev = trustpolicy.ValidationAction(cfg.Revocation)
		default:
			return nil, fmt.Errorf("notation revocation %q: want skip, log or enforce", cfg.Revocation)
		}
		doc = &trustpolicy.Document{Version: "1.0", TrustPolicies: []trustpolicy.TrustPolicy{{
			Name:           "warden",
			RegistryScopes: []string{"*"},
			SignatureVerification: trustpolicy.SignatureVerification{
				VerificationLevel: level,
				Override:          map[trustpolicy.ValidationType]trustpolicy.ValidationAction{trustpolicy.TypeRevocation: rev},
			},
			TrustStores:       store.names(),
			TrustedIdentities: cfg.Identities,
		}}}
		if err := doc.Validate(); err != nil {
			return nil, fmt.Errorf("notation trust store %s: %w", cfg.TrustStore, err)
		}
		ids := append([]string(nil), cfg.Identities...)
		sort.Strings(ids)
		fmt.Fprintf(h, "%s\x00%s\x00%q", level, rev, ids)
	}
	var vo nverifier.VerifierOptions
	if offline {
		// notation checks the revocation of a timestamp authority's chain whatever the policy
		// says (over OCSP/CRL); with revocation skipped Warden stays offline there too.
		vo.RevocationTimestampingValidator = skipRevocation{}
	}
	v, err := nverifier.NewWithOptions(doc, store, nil, vo)
	if err != nil {
		return nil, fmt.Errorf("notation trust store %s: %w", cfg.TrustStore, err)
	}
	return &NotationTrust{Name: "notation:" + cfg.TrustStore, cfg: cfg, verifier: v, digest: hex.EncodeToString(h.Sum(nil))}, nil
}

// ParseNotationTrustPolicy reads a notation trust policy document (trustpolicy.json) and
// validates it as notation does.
func ParseNotationTrustPolicy(data []byte) (*trustpolicy.Document, error) {
	var doc trustpolicy.Document
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a trust policy document: %w", err)
	}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	return &doc, nil
}

// dirTrustStore is a notation X509TrustStore over a directory, loaded once.
type dirTrustStore struct {
	root  string
	certs map[string][]*x509.Certificate // "type:name"
}

func (s *dirTrustStore) names() []string {
	out := make([]string, 0, len(s.certs))
	for k := range s.certs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// GetCertificates implements truststore.X509TrustStore.
func (s *dirTrustStore) GetCertificates(_ context.Context, typ truststore.Type, named string) ([]*x509.Certificate, error) {
	c, ok := s.certs[string(typ)+":"+named]
	if !ok {
		return nil, truststore.TrustStoreError{Msg: fmt.Sprintf("trust store %s has no store %q of type %q", s.root, named, typ)}
	}
	return c, nil
}

func loadDirTrustStore(root string) (*dirTrustStore, error) {
	s := &dirTrustStore{root: root, certs: map[string][]*x509.Certificate{}}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("notation trust store: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("notation trust store %s: not a directory", root)
	}
	x509Dir := filepath.Join(root, "x509")
	if st, err := os.Stat(x509Dir); err == nil && st.IsDir() {
		for _, typ := range truststore.Types {
			ents, err := os.ReadDir(filepath.Join(x509Dir, string(typ)))
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("notation trust store %s: %w", root, err)
			}
			for _, e := range ents {
				if !e.IsDir() || !storeName.MatchString(e.Name()) {
					continue
				}
				certs, err := readCertDir(filepath.Join(x509Dir, string(typ), e.Name()))
				if err != nil {
					return nil, err
				}
				s.certs[string(typ)+":"+e.Name()] = certs
			}
		}
	} else {
		certs, err := readCertDir(root)
		if err != nil {
			return nil, err
		}
		s.certs["ca:warden"] = certs
	}
	if len(s.certs) == 0 {
		return nil, fmt.Errorf("notation trust store %s: no certificates (want certificate files, or x509/ca/NAME/ directories)", root)
	}
	return s, nil
}

// readCertDir reads every certificate file (PEM or DER) of a directory, as notation does.
func readCertDir(dir string) ([]*x509.Certificate, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("notation trust store: %w", err)
	}
	var out []*x509.Certificate
	for _, e := range ents {
		if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		certs, err := corex509.ReadCertificateFile(p)
		if err != nil {
			return nil, fmt.Errorf("notation trust store: certificate %s: %w", p, err)
		}
		if err := truststore.ValidateCertificates(certs); err != nil {
			return nil, fmt.Errorf("notation trust store: certificate %s: %w", p, err)
		}
		out = append(out, certs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("notation trust store %s: no certificate files", dir)
	}
	return out, nil
}

// isNotationType says whether an artifact type is that of a notation signature.
func isNotationType(artifactType string) bool { return artifactType == ArtifactTypeNotation }

func isNotationEnvelope(mt string) bool { return mt == MediaTypeNotationJWS || mt == MediaTypeCOSE }

func envelopeName(mt string) string {
	switch mt {
	case MediaTypeNotationJWS:
		return "JWS"
	case MediaTypeCOSE:
		return "COSE"
	}
	return mt
}

// ociDescriptor converts the image's descriptor for notation, which compares media type, digest
// and size with the signed payload's target artifact.
func ociDescriptor(d v1.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(d.Digest.String()), Size: d.Size}
}

// checkNotation judges a Notary Project signature envelope with notation-go's verifier.
func checkNotation(c candidate, d name.Digest, opt Options) (*Signer, *Problem, bool) {
	mt := string(c.desc.MediaType)
	bad := func(format string, a ...any) (*Signer, *Problem, bool) {
		return nil, &Problem{Format: FormatNotation, Location: c.location, Reason: fmt.Sprintf(format, a...)}, true
	}
	data, err := c.read()
	if err != nil {
		return bad("%v", err)
	}
	if opt.Notation == nil {
		return bad("Notary Project %s signature, but no notation trust store is configured", envelopeName(mt))
	}
	target, err := c.target()
	if err != nil {
		return bad("reading the image's descriptor: %v", err)
	}
	ctx := c.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	out, err := opt.Notation.verifier.Verify(ctx, ociDescriptor(target), data, notation.VerifierVerifyOptions{
		ArtifactReference:  d.String(),
		SignatureMediaType: mt,
		UserMetadata:       opt.Annotations,
	})
	if err != nil {
		return bad("notation %s signature: %s", envelopeName(mt), explainNotation(out, err, opt.Annotations))
	}
	s := &Signer{Key: opt.Notation.Name, KeyID: "notation:" + opt.Notation.digest[:16], Format: FormatNotation, Location: c.location}
	if out.EnvelopeContent != nil {
		si := out.EnvelopeContent.SignerInfo
		if len(si.CertificateChain) > 0 {
			leaf := si.CertificateChain[0]
			s.Subject, s.Issuer = leaf.Subject.String(), leaf.Issuer.String()
			for _, cert := range si.CertificateChain {
				serial := hex.EncodeToString(cert.SerialNumber.Bytes())
				if opt.revoked(serial) {
					return bad("notation %s signature: certificate %q (serial %s) is revoked by the policy", envelopeName(mt), cert.Subject, serial)
				}
			}
		}
	}
	return s, nil, true
}

// explainNotation names the notation check that failed: integrity (the envelope is malformed or
// its signature does not verify), authenticity (not issued by the trust store, or an
// untrusted identity), authenticTimestamp (the certificate was not valid at the signing time:
// expired or not yet valid), expiry (the signature's own expiry), revocation, or the signed
// target artifact (the signature is for another manifest), or the user metadata asked for.
func explainNotation(out *notation.VerificationOutcome, err error, metadata map[string]string) string {
	if out != nil {
		for _, r := range out.VerificationResults {
			if r != nil && r.Error != nil && r.Action == trustpolicy.ActionEnforce {
				return fmt.Sprintf("%s check failed: %v", r.Type, r.Error)
			}
		}
	}
	var nt notation.ErrorNoApplicableTrustPolicy
	switch {
	case errors.As(err, &nt):
		return "no applicable trust policy: " + nt.Error()
	case len(metadata) > 0 && strings.Contains(err.Error(), "metadata"):
		kv := make([]string, 0, len(metadata))
		for k, v := range metadata {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		return fmt.Sprintf("user metadata check failed: the signed payload does not have %s (%v)", strings.Join(kv, ", "), err)
	case err.Error() == "content descriptor mismatch":
		return "target artifact check failed: the signature is for another manifest (content descriptor mismatch)"
	}
	return err.Error()
}

// skipRevocation is the revocation validator of revocation: skip: every certificate is reported
// as one that cannot be checked (no network access).
type skipRevocation struct{}

func (skipRevocation) ValidateContext(_ context.Context, o revocation.ValidateContextOptions) ([]*revocationresult.CertRevocationResult, error) {
	out := make([]*revocationresult.CertRevocationResult, len(o.CertChain))
	for i := range out {
		out[i] = &revocationresult.CertRevocationResult{Result: revocationresult.ResultNonRevokable}
	}
	return out, nil
}
