package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/wardensec/warden/pkg/sign"
)

// AttestationOptions control Attestations.
type AttestationOptions struct {
	Options
	PredicateType string // URI; "" accepts every predicate type
}

// Attestation is one verified attestation.
type Attestation struct {
	Signer
	PredicateType string          `json:"predicateType"`
	Statement     *sign.Statement `json:"-"`
	Predicate     json.RawMessage `json:"predicate"`
}

// AttestationResult is the outcome of Attestations.
type AttestationResult struct {
	Digest       name.Digest   `json:"digest"`
	Attestations []Attestation `json:"attestations"` // verified, of the predicate type asked for
	Keys         []string      `json:"keys"`         // distinct Key.Names among them
	Invalid      []Problem     `json:"invalid"`
	Found        int           `json:"found"`    // attestations found (any predicate type)
	Unsigned     bool          `json:"unsigned"` // none found at all
	Verified     bool          `json:"verified"` // len(Keys) >= threshold
	Skipped      int           `json:"skipped"`  // valid or not, of another predicate type
	Cached       bool          `json:"cached"`
}

// Attestations verifies the in-toto attestations of the image ref names: the DSSE signature over
// PAE, the statement's subject digest, the predicate type and the annotations asked for. Errors
// wrap ErrUnsigned or ErrNotVerified as for Image.
func Attestations(ctx context.Context, ref name.Reference, opt AttestationOptions) (*AttestationResult, error) {
	d, f, key, err := prepare(ctx, ref, "att", &opt.Options, opt.PredicateType)
	if err != nil {
		return nil, err
	}
	if r, ok := opt.Cache.getAtt(key); ok {
		r.Cached = true
		return r, nil
	}
	res := &AttestationResult{Digest: d}
	var mu sync.Mutex
	f.each(ctx, opt.RemoteOptions, func(c candidate) {
		a, p, counts := checkAttestation(c, d, opt)
		mu.Lock()
		defer mu.Unlock()
		if !counts {
			return
		}
		res.Found++
		switch {
		case p != nil:
			res.Invalid = append(res.Invalid, *p)
		case a == nil:
			res.Skipped++
		default:
			res.Attestations = append(res.Attestations, *a)
		}
	})
	sort.Slice(res.Attestations, func(i, j int) bool { return res.Attestations[i].Location < res.Attestations[j].Location })
	res.Keys, res.Unsigned, res.Verified = tally(res.Attestations, func(a Attestation) Signer { return a.Signer }, res.Invalid, res.Found, opt.Options)
	if res.Verified {
		if opt.cacheable() {
			opt.Cache.putAtt(key, res)
		}
		return res, nil
	}
	if res.Unsigned {
		return res, fmt.Errorf("no attestation found for %s: %w", d, ErrUnsigned)
	}
	what := "attestation(s)"
	if opt.PredicateType != "" {
		what = "attestation(s) of type " + opt.PredicateType
	}
	return res, fmt.Errorf("%s: %w (%d attestation(s) found, %d skipped for their predicate type, %d distinct valid key(s) for %s, %d required)",
		d, ErrNotVerified, res.Found, res.Skipped, len(res.Keys), what, opt.threshold())
}

// checkAttestation judges one candidate. A nil Attestation with a nil Problem means a valid-looking
// attestation of another predicate type (skipped). counts is false for bundles that are image
// signatures rather than attestations.
func checkAttestation(c candidate, d name.Digest, opt AttestationOptions) (*Attestation, *Problem, bool) {
	bad := func(format string, a ...any) (*Attestation, *Problem, bool) {
		return nil, &Problem{Format: c.format, Location: c.location, Reason: fmt.Sprintf(format, a...)}, true
	}
	if c.format == FormatNotation {
		return nil, nil, false // an image signature, not an attestation
	}
	data, err := c.read()
	if err != nil {
		return bad("%v", err)
	}
	var env *sign.Envelope
	hint := ""
	if c.format == sign.FormatLegacy {
		if string(c.desc.MediaType) != sign.MediaTypeDSSE {
			return bad("layer media type is %q, want %q", c.desc.MediaType, sign.MediaTypeDSSE)
		}
		if env, err = sign.ParseEnvelope(data); err != nil {
			return bad("%v", err)
		}
	} else if env, hint, err = bundleEnvelope(data, "an attestation"); err != nil {
		return bad("%v", err)
	}
	st, err := statementOf(env)
	if err != nil {
		return bad("%v", err)
	}
	if c.format == sign.FormatBundle && st.PredicateType == sign.PredicateCosignSign {
		return nil, nil, false // an image signature
	}
	if opt.PredicateType != "" && st.PredicateType != opt.PredicateType {
		return nil, nil, true
	}
	if c.format == sign.FormatBundle {
		if b, err := sign.ParseBundle(data); err == nil && isKeyless(b) {
			return checkAttestationKeyless(c, data, st, d, opt)
		}
	}
	key, reason := checkStatement(env, hint, st, d, opt.Options, "attestation")
	if key == nil {
		return bad("%s", reason)
	}
	logged, reason := keyExtras(key, opt.Options, func() (*bundle.Bundle, sgverify.ArtifactPolicyOption, error) {
		if c.format == sign.FormatLegacy {
			return nil, nil, errors.New("a legacy .att layer carries no verifiable transparency-log entry here")
		}
		sb, err := parseSigstoreBundle(data)
		return sb, digestArtifact(d), err
	})
	if reason != "" {
		return bad("%s", reason)
	}
	return &Attestation{
		Signer:        Signer{Key: key.Name, KeyID: key.ID, Format: c.format, Location: c.location, Logged: logged},
		PredicateType: st.PredicateType,
		Statement:     st,
		Predicate:     st.Predicate,
	}, nil, true
}

// checkAttestationKeyless judges a keyless attestation bundle: sigstore-go checks the certificate,
// the log entry and that the statement's subject is d; then the identity and revocation.
func checkAttestationKeyless(c candidate, data []byte, st *sign.Statement, d name.Digest, opt AttestationOptions) (*Attestation, *Problem, bool) {
	bad := func(format string, a ...any) (*Attestation, *Problem, bool) {
		return nil, &Problem{Format: c.format, Location: c.location, Reason: fmt.Sprintf(format, a...)}, true
	}
	b, err := parseSigstoreBundle(data)
	if err != nil {
		return bad("keyless attestation: %v", err)
	}
	kr, err := verifyKeyless(b, digestArtifact(d), opt.Identities, opt.TrustedRoot)
	if err != nil {
		return bad("keyless attestation: %v", err)
	}
	s, p, _ := keylessSigner(c, kr, opt.Options)
	if p != nil {
		return nil, p, true
	}
	return &Attestation{Signer: *s, PredicateType: st.PredicateType, Statement: st, Predicate: st.Predicate}, nil, true
}
