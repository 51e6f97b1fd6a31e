package verify_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/wardensec/warden/internal/testutil/sigstoretest"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
)

// The conformance suite's signer: a GitHub Actions workflow of sigstore-conformance.
const (
	beaconSubject = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
	beaconIssuer  = "https://token.actions.githubusercontent.com"
	conformance   = "testdata/sigstore/conformance"
)

func publicGood(t testing.TB) *verify.TrustedRoot {
	t.Helper()
	tr, err := verify.LoadTrustedRoot("testdata/sigstore/trusted-root-public-good.json")
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func readFile(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestVerifyBlobConformance runs the copied cases of sigstore-conformance's bundle-verify suite:
// a directory whose name ends in _fail must be refused, every other one accepted.
func TestVerifyBlobConformance(t *testing.T) {
	dirs, err := os.ReadDir(conformance)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		t.Run(d.Name(), func(t *testing.T) {
			dir := filepath.Join(conformance, d.Name())
			artifact := filepath.Join(conformance, "a.txt")
			if _, err := os.Stat(filepath.Join(dir, "artifact")); err == nil {
				artifact = filepath.Join(dir, "artifact")
			}
			opt := verify.BlobOptions{TrustedRoot: publicGood(t),
				Identities: []verify.Identity{{Subject: beaconSubject, Issuer: beaconIssuer}}}
			if _, err := os.Stat(filepath.Join(dir, "trusted_root.json")); err == nil {
				if opt.TrustedRoot, err = verify.LoadTrustedRoot(filepath.Join(dir, "trusted_root.json")); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "key.pub")); err == nil {
				k, err := verify.KeyFromFile(filepath.Join(dir, "key.pub"))
				if err != nil {
					if strings.HasSuffix(d.Name(), "_fail") {
						t.Logf("refused at the key: %v", err)
						return
					}
					t.Fatal(err)
				}
				opt.Keys, opt.Identities, opt.RequireTlog = []verify.Key{k}, nil, true
			}
			res, err := verify.VerifyBlob(bytes.NewReader(readFile(t, artifact)), readFile(t, filepath.Join(dir, "bundle.sigstore.json")), opt)
			wantFail := strings.HasSuffix(d.Name(), "_fail")
			switch {
			case wantFail && err == nil:
				t.Fatalf("accepted (%+v), want refused: %s", res, readFile(t, filepath.Join(dir, "README")))
			case !wantFail && err != nil:
				t.Fatalf("refused: %v", err)
			case !wantFail && len(opt.Identities) > 0 && res.Subject != beaconSubject:
				t.Fatalf("subject %q, want %q", res.Subject, beaconSubject)
			}
			if err != nil {
				t.Logf("refused: %v", err)
			}
		})
	}
	if n < 10 {
		t.Fatalf("only %d conformance cases found", n)
	}
}

// TestVerifyBlobPublicGood: a real public-good bundle verifies offline with the right identity,
// and is refused for the wrong subject, the wrong issuer, a modified artifact, and an expired
// certificate once the log entry that timestamps it is taken away.
func TestVerifyBlobPublicGood(t *testing.T) {
	artifact := readFile(t, filepath.Join(conformance, "a.txt"))
	bundleV3 := readFile(t, filepath.Join(conformance, "happy-path-v0.3", "bundle.sigstore.json"))
	var b map[string]any
	if err := json.Unmarshal(bundleV3, &b); err != nil {
		t.Fatal(err)
	}
	vm := b["verificationMaterial"].(map[string]any)
	delete(vm, "tlogEntries")
	delete(vm, "timestampVerificationData")
	noLog, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	// The certificate lived ten minutes in 2023: only the log's time makes it valid.
	certDER := vm["certificate"].(map[string]any)["rawBytes"].(string)
	leaf := parseB64Cert(t, certDER)
	if !leaf.NotAfter.Before(time.Now()) {
		t.Fatalf("the test certificate is not expired (NotAfter %s)", leaf.NotAfter)
	}
	modified := append(append([]byte{}, artifact...), '!')
	tests := []struct {
		name     string
		artifact []byte
		bundle   []byte
		id       verify.Identity
		wantErr  string
	}{
		{"right identity", artifact, bundleV3, verify.Identity{Subject: beaconSubject, Issuer: beaconIssuer}, ""},
		{"subject regexp", artifact, bundleV3, verify.Identity{SubjectRegexp: `https://github\.com/sigstore-conformance/.*`, Issuer: beaconIssuer}, ""},
		{"regexp is anchored", artifact, bundleV3, verify.Identity{SubjectRegexp: `sigstore-conformance`, Issuer: beaconIssuer}, "matches none"},
		{"wrong subject", artifact, bundleV3, verify.Identity{Subject: "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", Issuer: beaconIssuer}, "matches none"},
		{"wrong issuer", artifact, bundleV3, verify.Identity{Subject: beaconSubject, Issuer: "https://accounts.google.com"}, "matches none"},
		{"modified artifact", modified, bundleV3, verify.Identity{Subject: beaconSubject, Issuer: beaconIssuer}, "artifact"},
		{"expired certificate without timestamp", artifact, noLog, verify.Identity{Subject: beaconSubject, Issuer: beaconIssuer}, "log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := verify.VerifyBlob(bytes.NewReader(tc.artifact), tc.bundle, verify.BlobOptions{
				TrustedRoot: publicGood(t), Identities: []verify.Identity{tc.id}})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if res.Subject != beaconSubject || res.Issuer != beaconIssuer || res.Timestamp.IsZero() {
					t.Fatalf("result %+v", res)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", res)
			}
			if !errors.Is(err, verify.ErrNotVerified) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %q, want ErrNotVerified mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func parseB64Cert(t testing.TB, s string) *x509.Certificate {
	t.Helper()
	der, err := decodeStd(s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLoadTrustedRootErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "root.json")
	if err := os.WriteFile(bad, []byte(`{"mediaType": "nope"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{bad, filepath.Join(dir, "missing.json")} {
		if _, err := verify.LoadTrustedRoot(p); err == nil || !strings.Contains(err.Error(), "trusted root") {
			t.Errorf("%s: error %v", p, err)
		}
	}
}

// TestImageKeyless: a cosign-style keyless .sig (certificate, chain and Rekor bundle
// annotations) made by the test's own CA and log verifies with the right identity and is
// refused otherwise, each time with a reason.
func TestImageKeyless(t *testing.T) {
	ss := sigstoretest.New(t)
	tr, err := verify.LoadTrustedRoot(ss.Root)
	if err != nil {
		t.Fatal(err)
	}
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "acme/app", "v1")
	const who, iss = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", "https://token.actions.githubusercontent.com"
	good := ss.SignKeyless(t, d, who, iss, map[string]string{"env": "prod"})
	sigstoretest.Push(t, d, nil, good)
	right := verify.Identity{Subject: who, Issuer: iss}
	cache := verify.NewCache(0)
	opt := verify.Options{Identities: []verify.Identity{right}, TrustedRoot: tr, Annotations: map[string]string{"env": "prod"}, Cache: cache}
	res, err := verify.Image(context.Background(), d, opt)
	if err != nil {
		t.Fatalf("verify: %v (%+v)", err, res)
	}
	if len(res.Signers) != 1 || res.Signers[0].Subject != who || res.Signers[0].Issuer != iss || res.Signers[0].Logged.IsZero() {
		t.Fatalf("signers %+v", res.Signers)
	}
	if res, err = verify.Image(context.Background(), d, opt); err != nil || !res.Cached {
		t.Fatalf("second verification: cached %v, err %v", res != nil && res.Cached, err)
	}

	foreign := sigstoretest.New(t) // another CA and log
	var serial string
	tests := []struct {
		name   string
		layer  func(d nameDigest) *sigstoretest.Legacy
		opt    func(o *verify.Options)
		reason string
	}{
		{"wrong subject", nil, func(o *verify.Options) {
			o.Identities = []verify.Identity{{Subject: "https://github.com/acme/other/.github/workflows/release.yml@refs/heads/main", Issuer: iss}}
		}, "matches none"},
		{"wrong issuer", nil, func(o *verify.Options) {
			o.Identities = []verify.Identity{{Subject: who, Issuer: "https://gitlab.com"}}
		}, "matches none"},
		{"tampered payload", func(d nameDigest) *sigstoretest.Legacy {
			l := ss.SignKeyless(t, d, who, iss, map[string]string{"env": "prod"})
			l.Payload = append(l.Payload[:len(l.Payload)-1:len(l.Payload)-1], []byte(`,"x":1}`)...)
			return l
		}, nil, "keyless signature"},
		{"no log entry", func(d nameDigest) *sigstoretest.Legacy {
			l := ss.SignKeyless(t, d, who, iss, map[string]string{"env": "prod"})
			delete(l.Annotations, verify.AnnotationRekorBundle)
			return l
		}, nil, "log"},
		{"untrusted CA and log", func(d nameDigest) *sigstoretest.Legacy {
			return foreign.SignKeyless(t, d, who, iss, map[string]string{"env": "prod"})
		}, nil, "keyless signature"},
		{"signature copied from another image", func(d nameDigest) *sigstoretest.Legacy {
			return ss.SignKeyless(t, d.Context().Digest("sha256:"+strings.Repeat("cd", 32)), who, iss, map[string]string{"env": "prod"})
		}, nil, "not for this image"},
		{"revoked certificate", func(d nameDigest) *sigstoretest.Legacy {
			l := ss.SignKeyless(t, d, who, iss, map[string]string{"env": "prod"})
			serial = l.Leaf.SerialNumber.Text(16)
			return l
		}, func(o *verify.Options) { o.Revoked = []string{serial} }, "revoked"},
		{"annotation missing", func(d nameDigest) *sigstoretest.Legacy { return ss.SignKeyless(t, d, who, iss, nil) }, nil, `annotation "env" is missing`},
		{"certificate swapped", func(d nameDigest) *sigstoretest.Legacy {
			l := ss.SignKeyless(t, d, who, iss, map[string]string{"env": "prod"})
			l.Annotations[verify.AnnotationCertificate] = ss.SignKeyless(t, d, who, iss, nil).Annotations[verify.AnnotationCertificate]
			return l
		}, nil, "keyless signature"},
		{"Rekor entry edited", func(d nameDigest) *sigstoretest.Legacy {
			l := ss.SignKeyless(t, d, who, iss, map[string]string{"env": "prod"})
			l.Annotations[verify.AnnotationRekorBundle] = strings.Replace(l.Annotations[verify.AnnotationRekorBundle], `"logIndex":4242`, `"logIndex":4243`, 1)
			return l
		}, nil, "log"},
		{"garbage certificate", func(d nameDigest) *sigstoretest.Legacy {
			l := ss.SignKeyless(t, d, who, iss, map[string]string{"env": "prod"})
			l.Annotations[verify.AnnotationCertificate] = "not a certificate"
			return l
		}, nil, "no PEM certificate"},
		{"garbage Rekor bundle", func(d nameDigest) *sigstoretest.Legacy {
			l := ss.SignKeyless(t, d, who, iss, map[string]string{"env": "prod"})
			l.Annotations[verify.AnnotationRekorBundle] = "{"
			return l
		}, nil, verify.AnnotationRekorBundle},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, d := pushRandom(t, host, "acme/app", tagOf(tc.name))
			layer := ss.SignKeyless(t, d, who, iss, map[string]string{"env": "prod"})
			if tc.layer != nil {
				layer = tc.layer(d)
			}
			sigstoretest.Push(t, d, nil, layer)
			o := verify.Options{Identities: []verify.Identity{right}, TrustedRoot: tr, Annotations: map[string]string{"env": "prod"}}
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

type nameDigest = name.Digest

// tagOf makes a test name a valid tag.
func tagOf(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s)
}

func decodeStd(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }

// TestImageKeyTlog: with RequireTlog, a key signature counts only when its Rekor entry verifies
// against the trusted root; a key's window is checked at the logged time; a revoked key fails.
func TestImageKeyTlog(t *testing.T) {
	ss := sigstoretest.New(t)
	tr, err := verify.LoadTrustedRoot(ss.Root)
	if err != nil {
		t.Fatal(err)
	}
	host := newRegistry(t, true)
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := verify.NewKey("release.pub", priv.Public())
	now := time.Now()
	tests := []struct {
		name   string
		layer  func(d nameDigest) *sigstoretest.Legacy
		key    func(k verify.Key) verify.Key
		opt    func(o *verify.Options)
		reason string // "" passes
	}{
		{"logged", func(d nameDigest) *sigstoretest.Legacy { return ss.SignKey(t, d, priv, now) }, nil, nil, ""},
		{"not logged", func(d nameDigest) *sigstoretest.Legacy {
			l := ss.SignKey(t, d, priv, now)
			delete(l.Annotations, "dev.sigstore.cosign/bundle")
			return l
		}, nil, nil, "transparency log is required"},
		{"not logged, log optional", func(d nameDigest) *sigstoretest.Legacy {
			l := ss.SignKey(t, d, priv, now)
			delete(l.Annotations, "dev.sigstore.cosign/bundle")
			return l
		}, nil, func(o *verify.Options) { o.RequireTlog = false }, ""},
		{"logged by another log", func(d nameDigest) *sigstoretest.Legacy { return sigstoretest.New(t).SignKey(t, d, priv, now) }, nil, nil, "transparency log is required"},
		{"entry of another signature", func(d nameDigest) *sigstoretest.Legacy {
			l := ss.SignKey(t, d, priv, now)
			l.Annotations["dev.sigstore.cosign/bundle"] = ss.SignKey(t, d.Context().Digest("sha256:"+strings.Repeat("ab", 32)), priv, now).Annotations["dev.sigstore.cosign/bundle"]
			return l
		}, nil, nil, "transparency log is required"},
		{"inside the key's window", func(d nameDigest) *sigstoretest.Legacy { return ss.SignKey(t, d, priv, now) },
			func(k verify.Key) verify.Key {
				k.NotBefore, k.NotAfter = now.Add(-time.Hour), now.Add(time.Hour)
				return k
			}, nil, ""},
		{"after the key's window", func(d nameDigest) *sigstoretest.Legacy { return ss.SignKey(t, d, priv, now) },
			func(k verify.Key) verify.Key { k.NotAfter = now.Add(-time.Minute); return k }, nil, "release.pub expired"},
		{"before the key's window", func(d nameDigest) *sigstoretest.Legacy { return ss.SignKey(t, d, priv, now) },
			func(k verify.Key) verify.Key { k.NotBefore = now.Add(time.Hour); return k }, nil, "not valid before"},
		{"revoked key", func(d nameDigest) *sigstoretest.Legacy { return ss.SignKey(t, d, priv, now) }, nil,
			func(o *verify.Options) { o.Revoked = []string{key.ID} }, "is revoked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, d := pushRandom(t, host, "acme/keyed", tagOf(tc.name))
			sigstoretest.Push(t, d, nil, tc.layer(d))
			k := key
			if tc.key != nil {
				k = tc.key(k)
			}
			o := verify.Options{Keys: []verify.Key{k}, TrustedRoot: tr, RequireTlog: true}
			if tc.opt != nil {
				tc.opt(&o)
			}
			res, err := verify.Image(context.Background(), d, o)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v (%+v)", err, res.Invalid)
				}
				if o.RequireTlog && res.Signers[0].Logged.IsZero() {
					t.Fatal("no logged time")
				}
				return
			}
			if !errors.Is(err, verify.ErrNotVerified) || !hasReason(res.Invalid, tc.reason) {
				t.Fatalf("err %v, reasons %v, want %q", err, res.Invalid, tc.reason)
			}
		})
	}
}

func TestIdentityCheck(t *testing.T) {
	for _, tc := range []struct {
		id   verify.Identity
		want string
	}{
		{verify.Identity{Subject: "a", Issuer: "b"}, ""},
		{verify.Identity{Issuer: "b"}, "subject"},
		{verify.Identity{Subject: "a", SubjectRegexp: "a", Issuer: "b"}, "subject"},
		{verify.Identity{Subject: "a"}, "issuer"},
		{verify.Identity{SubjectRegexp: "(", Issuer: "b"}, "regular expression"},
	} {
		err := tc.id.Check()
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%+v: %v, want %q", tc.id, err, tc.want)
		}
	}
}

// TestImageKeylessBundle: a keyless Sigstore bundle (DSSE cosign image signature) attached as a
// referrer verifies; one for another digest, one by another identity and one from an untrusted
// CA do not, each with its reason.
func TestImageKeylessBundle(t *testing.T) {
	ss := sigstoretest.New(t)
	tr, err := verify.LoadTrustedRoot(ss.Root)
	if err != nil {
		t.Fatal(err)
	}
	const who, iss = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", "https://token.actions.githubusercontent.com"
	for _, referrers := range []bool{true, false} {
		host := newRegistry(t, referrers)
		tests := []struct {
			name   string
			bundle func(d nameDigest) []byte
			reason string // "" passes
		}{
			{"good", func(d nameDigest) []byte { return ss.BundleKeyless(t, d, d, who, iss) }, ""},
			{"another digest", func(d nameDigest) []byte {
				return ss.BundleKeyless(t, d, d.Context().Digest("sha256:"+strings.Repeat("ef", 32)), who, iss)
			}, "keyless signature"},
			{"another identity", func(d nameDigest) []byte {
				return ss.BundleKeyless(t, d, d, "mallory@example.com", "https://accounts.google.com")
			}, "matches none"},
			{"untrusted CA", func(d nameDigest) []byte { return sigstoretest.New(t).BundleKeyless(t, d, d, who, iss) }, "keyless signature"},
		}
		for _, tc := range tests {
			t.Run(fmt.Sprintf("referrers=%v/%s", referrers, tc.name), func(t *testing.T) {
				_, d := pushRandom(t, host, "acme/bundled", tagOf(tc.name))
				sigstoretest.PushBundle(t, d, nil, tc.bundle(d))
				res, err := verify.Image(context.Background(), d, verify.Options{Identities: []verify.Identity{{Subject: who, Issuer: iss}}, TrustedRoot: tr})
				if tc.reason == "" {
					if err != nil || res.Signers[0].Format != sign.FormatBundle || res.Signers[0].Subject != who {
						t.Fatalf("err %v, result %+v", err, res)
					}
					return
				}
				if !errors.Is(err, verify.ErrNotVerified) || !hasReason(res.Invalid, tc.reason) {
					t.Fatalf("err %v, reasons %v, want %q", err, res.Invalid, tc.reason)
				}
				t.Logf("refused: %v", res.Invalid)
			})
		}
	}
}

// TestKeylessGarbageNextToValid: a broken keyless layer next to a valid one is reported and
// ignored; the valid one still counts.
func TestKeylessGarbageNextToValid(t *testing.T) {
	ss := sigstoretest.New(t)
	tr, err := verify.LoadTrustedRoot(ss.Root)
	if err != nil {
		t.Fatal(err)
	}
	const who, iss = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", "https://token.actions.githubusercontent.com"
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "acme/app", "v1")
	bad := ss.SignKeyless(t, d, who, iss, nil)
	bad.Annotations[verify.AnnotationChain] = "garbage"
	sigstoretest.Push(t, d, nil, bad, ss.SignKeyless(t, d, who, iss, nil))
	res, err := verify.Image(context.Background(), d, verify.Options{Identities: []verify.Identity{{Subject: who, Issuer: iss}}, TrustedRoot: tr})
	if err != nil || len(res.Signers) != 1 || res.Found != 2 || !hasReason(res.Invalid, verify.AnnotationChain) {
		t.Fatalf("err %v, result %+v", err, res)
	}
}

// TestAttestationsKeyless: a keyless attestation bundle verifies with the right identity and
// predicate type; another identity and another subject digest are refused.
func TestAttestationsKeyless(t *testing.T) {
	ss := sigstoretest.New(t)
	tr, err := verify.LoadTrustedRoot(ss.Root)
	if err != nil {
		t.Fatal(err)
	}
	const who, iss = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", "https://token.actions.githubusercontent.com"
	host := newRegistry(t, true)
	for _, tc := range []struct {
		name   string
		bundle func(d nameDigest) []byte
		reason string
	}{
		{"good", func(d nameDigest) []byte {
			return ss.AttestKeyless(t, d, d, who, iss, sign.PredicateCycloneDX, map[string]any{"bomFormat": "CycloneDX"})
		}, ""},
		{"another identity", func(d nameDigest) []byte {
			return ss.AttestKeyless(t, d, d, "mallory@example.com", "https://accounts.google.com", sign.PredicateCycloneDX, map[string]any{})
		}, "matches none"},
		{"another digest", func(d nameDigest) []byte {
			return ss.AttestKeyless(t, d, d.Context().Digest("sha256:"+strings.Repeat("ab", 32)), who, iss, sign.PredicateCycloneDX, map[string]any{})
		}, "keyless attestation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, d := pushRandom(t, host, "acme/att", tagOf(tc.name))
			sigstoretest.PushBundle(t, d, nil, tc.bundle(d))
			res, err := verify.Attestations(context.Background(), d, verify.AttestationOptions{
				Options:       verify.Options{Identities: []verify.Identity{{Subject: who, Issuer: iss}}, TrustedRoot: tr},
				PredicateType: sign.PredicateCycloneDX,
			})
			if tc.reason == "" {
				if err != nil || len(res.Attestations) != 1 || res.Attestations[0].Subject != who {
					t.Fatalf("err %v, result %+v", err, res)
				}
				return
			}
			if !errors.Is(err, verify.ErrNotVerified) || !hasReason(res.Invalid, tc.reason) {
				t.Fatalf("err %v, reasons %+v, want %q", err, res, tc.reason)
			}
		})
	}
}
