package verify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testutil/notationtest"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
)

func notationTrust(t testing.TB, store string, ids ...string) *verify.NotationTrust {
	t.Helper()
	nt, err := verify.LoadNotationTrust(verify.NotationConfig{TrustStore: store, Identities: ids})
	if err != nil {
		t.Fatal(err)
	}
	return nt
}

// TestImageNotation: images signed by notation-go (JWS and COSE envelopes, pushed as referrers
// by notation-go's registry client) verify with the right trust store and identity, beside cosign
// signatures; the tamper table refuses each bad case with the name of the notation check.
func TestImageNotation(t *testing.T) {
	pki := notationtest.New(t, "acme-ca", time.Time{}, time.Time{})
	store := pki.TrustStore(t)
	foreign := notationtest.New(t, "evil-ca", time.Time{}, time.Time{})
	expiredFrom := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	expired := notationtest.New(t, "old-ca", expiredFrom, expiredFrom.AddDate(1, 0, 0))
	for _, referrers := range []bool{true, false} {
		host := newRegistry(t, referrers)
		for _, mt := range []string{notationtest.JWS, notationtest.COSE} {
			name := mt
			if !referrers {
				name += " referrers tag"
			}
			t.Run(name, func(t *testing.T) {
				_, d := pushRandom(t, host, "acme/app", tagOf(mt))
				pki.Sign(t, d, mt, map[string]string{"env": "prod"})
				// a cosign key signature beside it
				k, key := newKey(t, "release.pub")
				mustSign(t, d, k, sign.Options{})
				opt := verify.Options{Notation: notationTrust(t, store, notationtest.Identity), Keys: []verify.Key{key}, Threshold: 2, Cache: verify.NewCache(0)}
				res, err := verify.Image(context.Background(), d, opt)
				if err != nil {
					t.Fatalf("verify: %v (%+v)", err, res)
				}
				var s *verify.Signer
				for i := range res.Signers {
					if res.Signers[i].Format == verify.FormatNotation {
						s = &res.Signers[i]
					}
				}
				if s == nil || s.Subject != notationtest.Subject || !strings.Contains(s.Location, map[string]string{notationtest.JWS: "(JWS)", notationtest.COSE: "(COSE)"}[mt]) || len(res.Keys) != 2 {
					t.Fatalf("signers %+v, keys %v", res.Signers, res.Keys)
				}
				if res, err = verify.Image(context.Background(), d, opt); err != nil || !res.Cached {
					t.Fatalf("second verification: cached %v, err %v", res != nil && res.Cached, err)
				}
				opt.Threshold, opt.Keys, opt.Annotations, opt.Cache = 1, nil, map[string]string{"env": "prod"}, nil
				if _, err := verify.Image(context.Background(), d, opt); err != nil {
					t.Fatalf("with user metadata env=prod: %v", err)
				}
				opt.Annotations = map[string]string{"env": "dev"}
				if res, err := verify.Image(context.Background(), d, opt); !errors.Is(err, verify.ErrNotVerified) || !hasReason(res.Invalid, "env") {
					t.Fatalf("with user metadata env=dev: %v %+v", err, res)
				}
			})
		}
	}

	host := newRegistry(t, true)
	_, other := pushRandom(t, host, "acme/other", "v1")
	var serial string
	tests := []struct {
		name   string
		sign   func(t *testing.T, d nameDigest, mt string)
		opt    func(o *verify.Options)
		reason string
	}{
		{"untrusted CA", func(t *testing.T, d nameDigest, mt string) { foreign.Sign(t, d, mt, nil) }, nil, "authenticity check failed"},
		{"wrong identity", nil, func(o *verify.Options) {
			o.Notation = notationTrust(t, store, "x509.subject: C=US, ST=WA, O=Evil, CN=release")
		}, "authenticity check failed"},
		{"expired certificate", func(t *testing.T, d nameDigest, mt string) {
			expired.Push(t, d, mt, expired.Envelope(t, mt, expired.Target(t, d), expiredFrom.AddDate(0, 6, 0)))
		}, func(o *verify.Options) { o.Notation = notationTrust(t, expired.TrustStore(t), notationtest.Identity) }, "authenticTimestamp check failed"},
		{"tampered manifest", func(t *testing.T, d nameDigest, mt string) {
			// a valid signature of another manifest, attached to this one
			pki.Push(t, d, mt, pki.Envelope(t, mt, pki.Target(t, other), time.Now()))
		}, nil, "content descriptor mismatch"},
		{"tampered envelope", func(t *testing.T, d nameDigest, mt string) {
			env := pki.Envelope(t, mt, pki.Target(t, d), time.Now())
			env[len(env)-5] ^= 0x01
			pki.Push(t, d, mt, env)
		}, nil, "integrity check failed"},
		{"revoked certificate", func(t *testing.T, d nameDigest, mt string) {
			pki.Sign(t, d, mt, nil)
			serial = pki.Leaf.SerialNumber.Text(16)
		}, func(o *verify.Options) { o.Revoked = []string{serial} }, "revoked"},
		{"no notation trust configured", nil, func(o *verify.Options) {
			o.Notation = nil
			_, key := newKey(t, "k.pub")
			o.Keys = []verify.Key{key}
		}, "no notation trust store"},
	}
	for _, mt := range []string{notationtest.JWS, notationtest.COSE} {
		for _, tc := range tests {
			t.Run(mt+"/"+tc.name, func(t *testing.T) {
				_, d := pushRandom(t, host, "acme/app", tagOf(mt+tc.name))
				if tc.sign != nil {
					tc.sign(t, d, mt)
				} else {
					pki.Sign(t, d, mt, nil)
				}
				o := verify.Options{Notation: notationTrust(t, store, notationtest.Identity)}
				if tc.opt != nil {
					tc.opt(&o)
				}
				res, err := verify.Image(context.Background(), d, o)
				if !errors.Is(err, verify.ErrNotVerified) {
					t.Fatalf("err %v, want ErrNotVerified (%+v)", err, res)
				}
				if !hasReason(res.Invalid, tc.reason) {
					t.Fatalf("reasons %v, want one with %q", res.Invalid, tc.reason)
				}
			})
		}
	}
}

// TestNotationTrustErrors: a trust store or identity that cannot be used is an error that names it.
func TestNotationTrustErrors(t *testing.T) {
	pki := notationtest.New(t, "acme-ca", time.Time{}, time.Time{})
	store := pki.TrustStore(t)
	for _, c := range []struct {
		cfg  verify.NotationConfig
		want string
	}{
		{verify.NotationConfig{TrustStore: "/nonexistent/store", Identities: []string{"*"}}, "/nonexistent/store"},
		{verify.NotationConfig{TrustStore: store}, "no trusted identity"},
		{verify.NotationConfig{TrustStore: store, Identities: []string{"x509.subject: CN=release"}}, "x509.subject"},
		{verify.NotationConfig{TrustStore: store, Identities: []string{"*"}, Level: "lax"}, `level "lax"`},
		{verify.NotationConfig{TrustStore: t.TempDir(), Identities: []string{"*"}}, "no certificate"},
		{verify.NotationConfig{TrustStore: store, TrustPolicy: "/nonexistent/trustpolicy.json"}, "trustpolicy.json"},
	} {
		_, err := verify.LoadNotationTrust(c.cfg)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error with %q", c.cfg, err, c.want)
		}
	}
}
