// Package facts supplies policy facts from Warden's own engines: Verifier
// checks signatures and attestations with pkg/verify. The CLI (warden check)
// and the registry gate both use it.
package facts

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/verify"
)

// Verifier checks signatures and attestations with pkg/verify at the
// subject's repository and digest (Subject.Repository@Subject.Digest). It
// implements policy.SignatureVerifier and policy.AttestationVerifier.
type Verifier struct {
	RemoteOptions []remote.Option
	Cache         *verify.Cache
	Logger        *slog.Logger
}

func (v *Verifier) ref(s policy.Subject) (name.Reference, error) {
	if s.Digest == "" {
		return nil, fmt.Errorf("%s: no digest to verify", s.Ref)
	}
	return name.NewDigest(s.Repository + "@" + s.Digest)
}

func verifyKeys(keys []policy.Key) []verify.Key {
	out := make([]verify.Key, len(keys))
	for i, k := range keys {
		out[i] = verify.NewKey(k.Path, k.Public)
		out[i].NotBefore, out[i].NotAfter = k.NotBefore, k.NotAfter
	}
	return out
}

// VerifySignatures implements policy.SignatureVerifier.
func (v *Verifier) VerifySignatures(ctx context.Context, s policy.Subject, keys []policy.Key, req *policy.Signatures) (*policy.SignatureFacts, error) {
	ref, err := v.ref(s)
	if err != nil {
		return nil, err
	}
	opt := verify.Options{Keys: verifyKeys(keys), Threshold: 1, RemoteOptions: v.RemoteOptions, Cache: v.Cache, Logger: v.Logger}
	if req != nil {
		opt.Annotations, opt.TrustedRoot, opt.RequireTlog, opt.Revoked = req.Annotations, req.TrustedRoot, req.Tlog, req.Revoked
		opt.Notation = req.Notation
		for _, id := range req.Keyless {
			opt.Identities = append(opt.Identities, id.Identity)
		}
	}
	res, err := verify.Image(ctx, ref, opt)
	if res == nil {
		return nil, err
	}
	out := &policy.SignatureFacts{ValidKeys: res.Keys, Found: res.Found}
	for _, p := range res.Invalid {
		out.Invalid = append(out.Invalid, p.String())
	}
	return out, nil
}

// VerifyAttestations implements policy.AttestationVerifier.
func (v *Verifier) VerifyAttestations(ctx context.Context, s policy.Subject, req policy.Attestation, keys []policy.Key) ([]policy.AttestationFact, error) {
	ref, err := v.ref(s)
	if err != nil {
		return nil, err
	}
	opt := verify.Options{Keys: verifyKeys(keys), TrustedRoot: req.TrustedRoot, Threshold: 1, RemoteOptions: v.RemoteOptions, Cache: v.Cache, Logger: v.Logger}
	for _, id := range req.Keyless {
		opt.Identities = append(opt.Identities, id.Identity)
	}
	res, err := verify.Attestations(ctx, ref, verify.AttestationOptions{Options: opt, PredicateType: req.Type})
	if res == nil {
		return nil, err
	}
	var out []policy.AttestationFact
	for _, a := range res.Attestations {
		out = append(out, policy.AttestationFact{PredicateType: a.PredicateType, Key: a.Key, Time: PredicateTime(a.Predicate)})
	}
	return out, nil
}

// PredicateTime finds when a predicate says it was made: CycloneDX
// metadata.timestamp, SPDX creationInfo.created, cosign vuln
// metadata.scanFinishedOn, cosign custom Timestamp, SLSA build finish times.
func PredicateTime(raw json.RawMessage) time.Time {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return time.Time{}
	}
	paths := [][]string{
		{"metadata", "timestamp"}, {"creationInfo", "created"}, {"metadata", "scanFinishedOn"}, {"Timestamp"},
		{"metadata", "buildFinishedOn"}, {"runDetails", "metadata", "finishedOn"}, {"timestamp"},
	}
	for _, p := range paths {
		var v any = m
		for _, k := range p {
			mm, ok := v.(map[string]any)
			if !ok {
				v = nil
				break
			}
			v = mm[k]
		}
		if s, ok := v.(string); ok {
			if t, err := time.Parse(time.RFC3339, s); err == nil {
				return t
			}
		}
	}
	return time.Time{}
}
