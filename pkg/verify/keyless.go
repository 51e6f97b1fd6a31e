package verify

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/wardensec/warden/pkg/sign"
)

// Annotations cosign puts on a keyless (or Rekor-logged) legacy .sig layer.
const (
	AnnotationCertificate = "dev.sigstore.cosign/certificate" // the Fulcio leaf, PEM
	AnnotationChain       = "dev.sigstore.cosign/chain"       // its intermediates and root, PEM
	AnnotationRekorBundle = "dev.sigstore.cosign/bundle"      // the Rekor SET and entry (JSON)
	AnnotationRFC3161     = "dev.sigstore.cosign/rfc3161timestamp"
)

// Identity is a keyless signer: the OIDC issuer that vouched for it and the subject (the
// certificate's SAN: an email, a workflow URI, ...) Fulcio bound to its certificate. Each part is
// an exact value or a regular expression (Go syntax, matched against the whole value).
type Identity struct {
	Issuer        string `json:"issuer,omitempty"`
	IssuerRegexp  string `json:"issuerRegexp,omitempty"`
	Subject       string `json:"subject,omitempty"`
	SubjectRegexp string `json:"subjectRegexp,omitempty"`
	// NotBefore and NotAfter bound when (by the log's or timestamp authority's time) the
	// identity may have signed; zero: unbounded.
	NotBefore time.Time `json:"notBefore,omitzero"`
	NotAfter  time.Time `json:"notAfter,omitzero"`
}

// String names the identity as configured, for messages and results.
func (i Identity) String() string {
	sub, iss := i.Subject, i.Issuer
	if sub == "" {
		sub = "~" + i.SubjectRegexp
	}
	if iss == "" {
		iss = "~" + i.IssuerRegexp
	}
	return sub + " (" + iss + ")"
}

// Check says what is wrong with the identity: exactly one of Subject and SubjectRegexp, one of
// Issuer and IssuerRegexp, and regular expressions that compile.
func (i Identity) Check() error {
	if (i.Subject == "") == (i.SubjectRegexp == "") {
		return errors.New("keyless identity needs exactly one of subject and subject_regexp")
	}
	if (i.Issuer == "") == (i.IssuerRegexp == "") {
		return errors.New("keyless identity needs exactly one of issuer and issuer_regexp")
	}
	for _, re := range []string{i.SubjectRegexp, i.IssuerRegexp} {
		if re == "" {
			continue
		}
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("keyless identity: regular expression %q: %w", re, err)
		}
	}
	return nil
}

func (i Identity) matcher() (sgverify.CertificateIdentity, error) {
	anchor := func(re string) string {
		if re == "" {
			return ""
		}
		return "^(?:" + re + ")$"
	}
	return sgverify.NewShortCertificateIdentity(i.Issuer, anchor(i.IssuerRegexp), i.Subject, anchor(i.SubjectRegexp))
}

// TrustedRoot is a Sigstore trusted root (Fulcio CAs, Rekor logs, CT logs, timestamp
// authorities) read from a file, so that verification needs no network.
type TrustedRoot struct {
	Name   string // the file it was read from
	Digest string // sha256 of its bytes, part of cache keys
	root   *root.TrustedRoot
}

// LoadTrustedRoot reads a trusted_root.json (the format of sigstore's TUF target).
func LoadTrustedRoot(path string) (*TrustedRoot, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted root: %w", err)
	}
	return ParseTrustedRoot(path, data)
}

// ParseTrustedRoot reads trusted root JSON; name names it in errors.
func ParseTrustedRoot(name string, data []byte) (*TrustedRoot, error) {
	if len(data) > maxBlob {
		return nil, fmt.Errorf("trusted root %s: %d bytes is too large", name, len(data))
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		return nil, fmt.Errorf("trusted root %s: %w", name, err)
	}
	if len(tr.FulcioCertificateAuthorities()) == 0 && len(tr.RekorLogs()) == 0 {
		return nil, fmt.Errorf("trusted root %s lists no certificate authority and no transparency log", name)
	}
	sum := sha256.Sum256(data)
	return &TrustedRoot{Name: name, Digest: hex.EncodeToString(sum[:]), root: tr}, nil
}

// sigstoreVerifier builds sigstore-go's verifier for one check. Keyless signatures need a
// verified transparency-log entry or signed timestamp to establish when the short-lived
// certificate was used; SCTs are required whenever the root lists CT logs (as cosign does).
// With a key (k non-nil) and a transparency log required, the entry must verify too.
func sigstoreVerifier(tr *TrustedRoot, k *Key, tlog bool) (*sgverify.Verifier, error) {
	var material root.TrustedMaterial = tr.root
	var opts []sgverify.VerifierOption
	if k != nil {
		v, err := signature.LoadDefaultVerifier(k.Public)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.Name, err)
		}
		ek := root.NewExpiringKey(v, time.Time{}, time.Time{}) // the window is checked by keyValidAt, naming the key
		keyMat := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return ek, nil })
		material = root.TrustedMaterialCollection{tr.root, keyMat}
		if tlog {
			opts = append(opts, sgverify.WithTransparencyLog(1), sgverify.WithIntegratedTimestamps(1))
		} else {
			opts = append(opts, sgverify.WithCurrentTime())
		}
	} else {
		opts = append(opts, sgverify.WithTransparencyLog(1), sgverify.WithObserverTimestamps(1))
		if len(tr.root.CTLogs()) > 0 {
			opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
		}
	}
	return sgverify.NewVerifier(material, opts...)
}

// keylessResult is what a keyless check establishes.
type keylessResult struct {
	identity  *Identity // the configured identity that matched
	subject   string    // the certificate's SAN
	issuer    string    // its OIDC issuer
	serial    string    // the certificate's serial number (hex)
	timestamp time.Time // the earliest verified time of signing
}

// verifyKeyless checks a Sigstore bundle signed with a Fulcio certificate against the trusted
// root and artifact, then matches the certificate to one of the identities.
func verifyKeyless(b *bundle.Bundle, artifact sgverify.ArtifactPolicyOption, ids []Identity, tr *TrustedRoot) (*keylessResult, error) {
	if tr == nil {
		return nil, errors.New("a keyless signature needs a trusted root (--trusted-root or trusted_root in the policy)")
	}
	if len(ids) == 0 {
		return nil, errors.New("keyless signature, but no certificate identity is trusted")
	}
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, err
	}
	leaf := vc.Certificate()
	if leaf == nil {
		return nil, errors.New("bundle is signed with a key, not a certificate")
	}
	v, err := sigstoreVerifier(tr, nil, true)
	if err != nil {
		return nil, err
	}
	res, err := v.Verify(b, sgverify.NewPolicy(artifact, sgverify.WithoutIdentitiesUnsafe()))
	if err != nil {
		return nil, explainLog(err, tr)
	}
	if res.Signature == nil || res.Signature.Certificate == nil {
		return nil, errors.New("verified, but without a certificate")
	}
	sum := res.Signature.Certificate
	kr := &keylessResult{subject: sum.SubjectAlternativeName, issuer: sum.Issuer, serial: leaf.SerialNumber.Text(16)}
	for _, ts := range res.VerifiedTimestamps {
		if kr.timestamp.IsZero() || ts.Timestamp.Before(kr.timestamp) {
			kr.timestamp = ts.Timestamp
		}
	}
	var reasons []string
	for i := range ids {
		m, err := ids[i].matcher()
		if err != nil {
			return nil, err
		}
		if err := m.Verify(*sum); err == nil {
			kr.identity = &ids[i]
			return kr, nil
		}
		reasons = append(reasons, ids[i].String())
	}
	return kr, fmt.Errorf("certificate of %s issued by %s matches none of the trusted identities (%s)", sum.SubjectAlternativeName, sum.Issuer, strings.Join(reasons, "; "))
}

// verifyKeyedTlog checks, for a signature already verified with key k, that the bundle's
// transparency-log entry verifies against the trusted root's Rekor keys and matches it.
func verifyKeyedTlog(b *bundle.Bundle, artifact sgverify.ArtifactPolicyOption, k *Key, tr *TrustedRoot) (time.Time, error) {
	if tr == nil {
		return time.Time{}, errors.New("a transparency log is required, but no trusted root gives its key")
	}
	v, err := sigstoreVerifier(tr, k, true)
	if err != nil {
		return time.Time{}, err
	}
	res, err := v.Verify(b, sgverify.NewPolicy(artifact, sgverify.WithKey()))
	if err != nil {
		return time.Time{}, explainLog(err, tr)
	}
	var t time.Time
	for _, ts := range res.VerifiedTimestamps {
		if t.IsZero() || ts.Timestamp.Before(t) {
			t = ts.Timestamp
		}
	}
	return t, nil
}

// parseSigstoreBundle reads a Sigstore bundle (v0.1 to v0.3) with sigstore-go.
func parseSigstoreBundle(data []byte) (*bundle.Bundle, error) {
	if len(data) > maxBlob {
		return nil, fmt.Errorf("bundle of %d bytes is too large", len(data))
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("reading Sigstore bundle: %w", err)
	}
	return &b, nil
}

// rekorBundle is cosign's dev.sigstore.cosign/bundle annotation: a Rekor entry and its SET.
type rekorBundle struct {
	SignedEntryTimestamp string `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

// legacyBundle converts a legacy .sig layer (payload, base64 signature and annotations) into a
// Sigstore bundle v0.1 so that sigstore-go can check it: the certificate and chain from the
// annotations (or, for a key, a public-key hint), the Rekor entry with its SET, and a
// messageSignature over the payload's sha256.
func legacyBundle(payload []byte, sigB64 string, ann map[string]string, hint string) (*bundle.Bundle, error) {
	sig, err := decodeSig(sigB64)
	if err != nil {
		return nil, fmt.Errorf("signature annotation: %w", err)
	}
	vm := &protobundle.VerificationMaterial{}
	if certPEM, ok := ann[AnnotationCertificate]; ok && strings.TrimSpace(certPEM) != "" {
		certs, err := pemCerts(certPEM, AnnotationCertificate)
		if err != nil {
			return nil, err
		}
		if len(certs) != 1 {
			return nil, fmt.Errorf("%s holds %d certificates, want 1", AnnotationCertificate, len(certs))
		}
		if chain := ann[AnnotationChain]; strings.TrimSpace(chain) != "" {
			more, err := pemCerts(chain, AnnotationChain)
			if err != nil {
				return nil, err
			}
			certs = append(certs, more...)
		}
		chain := &protocommon.X509CertificateChain{}
		for _, c := range certs {
			chain.Certificates = append(chain.Certificates, &protocommon.X509Certificate{RawBytes: c})
		}
		vm.Content = &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: chain}
	} else {
		vm.Content = &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: hint}}
	}
	if rb, ok := ann[AnnotationRekorBundle]; ok {
		e, err := parseRekorBundle([]byte(rb))
		if err != nil {
			return nil, err
		}
		vm.TlogEntries = []*protorekor.TransparencyLogEntry{e}
	}
	if ts, ok := ann[AnnotationRFC3161]; ok && ts != "" {
		var t struct {
			SignedRFC3161Timestamp []byte `json:"SignedRFC3161Timestamp"`
		}
		if err := json.Unmarshal([]byte(ts), &t); err != nil {
			return nil, fmt.Errorf("%s: %w", AnnotationRFC3161, err)
		}
		vm.TimestampVerificationData = &protobundle.TimestampVerificationData{
			Rfc3161Timestamps: []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: t.SignedRFC3161Timestamp}},
		}
	}
	sum := sha256.Sum256(payload)
	pb := &protobundle.Bundle{
		MediaType:            "application/vnd.dev.sigstore.bundle+json;version=0.1",
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sum[:]},
			Signature:     sig,
		}},
	}
	return bundle.NewBundle(pb)
}

func pemCerts(s, what string) ([][]byte, error) {
	var out [][]byte
	rest := []byte(s)
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("%s: PEM block %q, want CERTIFICATE", what, blk.Type)
		}
		out = append(out, blk.Bytes)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM certificate", what)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("%s: trailing data after the PEM certificates", what)
	}
	return out, nil
}

// parseRekorBundle reads cosign's Rekor bundle annotation into a transparency-log entry with
// an inclusion promise (the SET).
func parseRekorBundle(data []byte) (*protorekor.TransparencyLogEntry, error) {
	if len(data) > maxBlob {
		return nil, fmt.Errorf("%s of %d bytes is too large", AnnotationRekorBundle, len(data))
	}
	var rb rekorBundle
	if err := json.Unmarshal(data, &rb); err != nil {
		return nil, fmt.Errorf("%s: %w", AnnotationRekorBundle, err)
	}
	set, err := base64.StdEncoding.DecodeString(rb.SignedEntryTimestamp)
	if err != nil || len(set) == 0 {
		return nil, fmt.Errorf("%s: SignedEntryTimestamp is not base64", AnnotationRekorBundle)
	}
	body, err := base64.StdEncoding.DecodeString(rb.Payload.Body)
	if err != nil || len(body) == 0 {
		return nil, fmt.Errorf("%s: Payload.body is not base64", AnnotationRekorBundle)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil || len(logID) == 0 {
		return nil, fmt.Errorf("%s: Payload.logID is not hex", AnnotationRekorBundle)
	}
	var kind struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(body, &kind); err != nil || kind.Kind == "" || kind.APIVersion == "" {
		return nil, fmt.Errorf("%s: the Rekor entry body names no kind and apiVersion", AnnotationRekorBundle)
	}
	return &protorekor.TransparencyLogEntry{
		LogIndex:          rb.Payload.LogIndex,
		LogId:             &protocommon.LogId{KeyId: logID},
		KindVersion:       &protorekor.KindVersion{Kind: kind.Kind, Version: kind.APIVersion},
		IntegratedTime:    rb.Payload.IntegratedTime,
		InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: set},
		CanonicalizedBody: body,
	}, nil
}

// BlobOptions control VerifyBlob.
type BlobOptions struct {
	Keys        []Key
	Identities  []Identity
	TrustedRoot *TrustedRoot
	RequireTlog bool     // a key-signed bundle must carry a transparency-log entry that verifies
	Revoked     []string // key IDs and certificate serials (hex) that never count
}

func (o BlobOptions) revoked(id string) bool {
	return (&Options{Revoked: o.Revoked}).revoked(id)
}

// BlobResult is the outcome of VerifyBlob.
type BlobResult struct {
	Signer    string    `json:"signer"`            // the key name or the identity as configured
	Subject   string    `json:"subject,omitempty"` // keyless: the certificate's SAN
	Issuer    string    `json:"issuer,omitempty"`  // keyless: its OIDC issuer
	Timestamp time.Time `json:"timestamp,omitzero"`
}

// VerifyBlob checks a Sigstore bundle (v0.1–v0.3, messageSignature or DSSE) for the artifact
// read from r: keyless against the trusted root and identities, or with the keys.
func VerifyBlob(r io.Reader, bundleJSON []byte, opt BlobOptions) (*BlobResult, error) {
	if len(opt.Keys) == 0 && len(opt.Identities) == 0 {
		return nil, errors.New("verify-blob: no key and no certificate identity given")
	}
	b, err := parseSigstoreBundle(bundleJSON)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := io.Copy(h, r); err != nil {
		return nil, fmt.Errorf("reading the artifact: %w", err)
	}
	artifact := sgverify.WithArtifactDigest("sha256", h.Sum(nil))
	vc, err := b.VerificationContent()
	if err != nil {
		return nil, err
	}
	if vc.Certificate() != nil {
		kr, err := verifyKeyless(b, artifact, opt.Identities, opt.TrustedRoot)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrNotVerified, err)
		}
		if opt.revoked(kr.serial) {
			return nil, fmt.Errorf("%w: certificate serial %s is revoked", ErrNotVerified, kr.serial)
		}
		return &BlobResult{Signer: kr.identity.String(), Subject: kr.subject, Issuer: kr.issuer, Timestamp: kr.timestamp}, nil
	}
	if len(opt.Keys) == 0 {
		return nil, fmt.Errorf("%w: the bundle is signed with a key, and no --key is given", ErrNotVerified)
	}
	var reasons []string
	for i := range opt.Keys {
		k := opt.Keys[i]
		t, err := verifyBundleWithKey(b, artifact, &k, opt.TrustedRoot, opt.RequireTlog)
		if err == nil && opt.revoked(k.ID) {
			err = fmt.Errorf("key %s is revoked", k.ID)
		}
		if err == nil {
			err = keyValidAt(&k, t)
		}
		if err == nil {
			return &BlobResult{Signer: k.Name, Timestamp: t}, nil
		}
		reasons = append(reasons, k.Name+": "+err.Error())
	}
	return nil, fmt.Errorf("%w: %s", ErrNotVerified, strings.Join(reasons, "; "))
}

// verifyBundleWithKey verifies a key-signed bundle with sigstore-go: with the trusted root's
// logs when given (and then the log entry is required when tlog is), else the signature alone.
func verifyBundleWithKey(b *bundle.Bundle, artifact sgverify.ArtifactPolicyOption, k *Key, tr *TrustedRoot, tlog bool) (time.Time, error) {
	if tlog {
		return verifyKeyedTlog(b, artifact, k, tr)
	}
	v, err := signature.LoadDefaultVerifier(k.Public)
	if err != nil {
		return time.Time{}, fmt.Errorf("key %s: %w", k.Name, err)
	}
	ek := root.NewExpiringKey(v, time.Time{}, time.Time{}) // the window is checked by keyValidAt, naming the key
	keyMat := root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return ek, nil })
	sv, err := sgverify.NewVerifier(keyMat, sgverify.WithCurrentTime())
	if err != nil {
		return time.Time{}, err
	}
	if _, err := sv.Verify(b, sgverify.NewPolicy(artifact, sgverify.WithKey())); err != nil {
		return time.Time{}, err
	}
	return time.Time{}, nil
}

// keyExtras applies what a policy adds to a valid key signature: the revoked list, the
// transparency log when required (logBundle gives the entry as a bundle to check), and the
// key's validity window at the logged time (or now). It returns the logged time, or why the
// signature does not count.
func keyExtras(k *Key, opt Options, logBundle func() (*bundle.Bundle, sgverify.ArtifactPolicyOption, error)) (time.Time, string) {
	if opt.revoked(k.ID) {
		return time.Time{}, fmt.Sprintf("signed by %s, but key %s is revoked", k.Name, k.ID)
	}
	var logged time.Time
	if opt.RequireTlog {
		b, art, err := logBundle()
		if err == nil {
			logged, err = verifyKeyedTlog(b, art, k, opt.TrustedRoot)
		}
		if err != nil {
			return time.Time{}, fmt.Sprintf("signed by %s, but the transparency log is required: %v", k.Name, err)
		}
	}
	if err := keyValidAt(k, logged); err != nil {
		return time.Time{}, fmt.Sprintf("signed by %s, but %v", k.Name, err)
	}
	return logged, ""
}

// isKeyless says whether a bundle is signed with a certificate.
func isKeyless(b *sign.Bundle) bool {
	vm := b.VerificationMaterial
	return vm != nil && (len(vm.Certificate) > 0 || len(vm.X509CertificateChain) > 0)
}

// digestArtifact is the image digest as the artifact a DSSE statement's subject must name.
func digestArtifact(d name.Digest) sgverify.ArtifactPolicyOption {
	alg, hx, _ := strings.Cut(d.DigestStr(), ":")
	raw, _ := hex.DecodeString(hx)
	return sgverify.WithArtifactDigest(alg, raw)
}

// keylessSigner judges a verified keyless result against the revoked list.
func keylessSigner(c candidate, kr *keylessResult, opt Options) (*Signer, *Problem, bool) {
	if opt.revoked(kr.serial) {
		return nil, &Problem{Format: c.format, Location: c.location, Reason: fmt.Sprintf("signed by %s (%s), but certificate serial %s is revoked", kr.subject, kr.issuer, kr.serial)}, true
	}
	id := kr.identity.String()
	if w := kr.identity; (!w.NotBefore.IsZero() && kr.timestamp.Before(w.NotBefore)) || (!w.NotAfter.IsZero() && kr.timestamp.After(w.NotAfter)) {
		return nil, &Problem{Format: c.format, Location: c.location, Reason: fmt.Sprintf("signed by %s (%s) at %s, outside the window of identity %s (%s to %s)",
			kr.subject, kr.issuer, kr.timestamp.UTC().Format(time.RFC3339), id, fmtWhen(w.NotBefore), fmtWhen(w.NotAfter))}, true
	}
	return &Signer{Key: id, KeyID: "identity:" + id, Subject: kr.subject, Issuer: kr.issuer, Format: c.format, Location: c.location, Logged: kr.timestamp}, nil, true
}

// checkLegacyKeyless judges a legacy .sig layer that carries a Fulcio certificate.
func checkLegacyKeyless(c candidate, payload []byte, sigB64 string, d name.Digest, opt Options) (*Signer, *Problem, bool) {
	bad := func(format string, a ...any) (*Signer, *Problem, bool) {
		return nil, &Problem{Format: c.format, Location: c.location, Reason: fmt.Sprintf(format, a...)}, true
	}
	b, err := legacyBundle(payload, sigB64, c.desc.Annotations, "")
	if err != nil {
		return bad("keyless signature: %v", err)
	}
	kr, err := verifyKeyless(b, sgverify.WithArtifact(bytes.NewReader(payload)), opt.Identities, opt.TrustedRoot)
	if err != nil {
		return bad("keyless signature: %v", err)
	}
	p, err := sign.ParseSimpleSigning(payload)
	if err != nil {
		return bad("signed by %s, but: %v", kr.subject, err)
	}
	if got := p.Critical.Image.DockerManifestDigest; got != d.DigestStr() {
		return bad("signed by %s for %s, not for this image %s (re-pointed tag or copied signature)", kr.subject, got, d.DigestStr())
	}
	if err := checkAnnotations(opt.Annotations, p.Annotations()); err != nil {
		return bad("signed by %s, but %v", kr.subject, err)
	}
	return keylessSigner(c, kr, opt)
}

// checkBundleKeyless judges a keyless Sigstore bundle referrer whose DSSE statement is a
// cosign image signature.
func checkBundleKeyless(c candidate, data []byte, _ *sign.Bundle, st *sign.Statement, d name.Digest, opt Options) (*Signer, *Problem, bool) {
	bad := func(format string, a ...any) (*Signer, *Problem, bool) {
		return nil, &Problem{Format: c.format, Location: c.location, Reason: fmt.Sprintf(format, a...)}, true
	}
	b, err := parseSigstoreBundle(data)
	if err != nil {
		return bad("keyless signature: %v", err)
	}
	kr, err := verifyKeyless(b, digestArtifact(d), opt.Identities, opt.TrustedRoot)
	if err != nil {
		return bad("keyless signature: %v", err)
	}
	alg, hx, _ := strings.Cut(d.DigestStr(), ":")
	sub := st.SubjectFor(alg, hx)
	if sub == nil {
		return bad("signed by %s, but no statement subject is %s", kr.subject, d.DigestStr())
	}
	if err := checkAnnotations(opt.Annotations, stringifyAny(sub.Annotations)); err != nil {
		return bad("signed by %s, but %v", kr.subject, err)
	}
	return keylessSigner(c, kr, opt)
}

func fmtWhen(t time.Time) string {
	if t.IsZero() {
		return "unbounded"
	}
	return t.UTC().Format(time.RFC3339)
}

// explainLog says why sigstore-go found no log entry: none that a log of the root can verify.
func explainLog(err error, tr *TrustedRoot) error {
	if strings.Contains(err.Error(), "not enough verified log entries") {
		return fmt.Errorf("%w (no transparency-log entry verifies with the logs of trusted root %s)", err, tr.Name)
	}
	return err
}
