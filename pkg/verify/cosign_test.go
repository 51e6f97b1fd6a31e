package verify_test

// Interop with the real cosign (installed by .ci/tools.sh): what Warden writes, cosign verifies,
// and what cosign writes, Warden verifies, against in-process registries on 127.0.0.1 with and
// without the OCI referrers API.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
)

const testPassword = "correct horse battery staple"

type cosignEnv struct {
	bin string
	dir string
}

func newCosign(t *testing.T) *cosignEnv {
	t.Helper()
	bin := testutil.RequireTool(t, "cosign")
	return &cosignEnv{bin: bin, dir: t.TempDir()}
}

// run runs cosign offline: a private HOME and TUF cache, the test password, a timeout.
func (c *cosignEnv) run(t testing.TB, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(),
		"COSIGN_PASSWORD="+testPassword,
		"HOME="+c.dir,
		"TUF_ROOT="+filepath.Join(c.dir, "tuf"),
		"COSIGN_EXPERIMENTAL=0",
		"SIGSTORE_NO_CACHE=true",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (c *cosignEnv) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := c.run(t, args...)
	if err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// generateKeyPair runs cosign generate-key-pair and returns the paths of cosign.key and cosign.pub.
func (c *cosignEnv) generateKeyPair(t *testing.T, prefix string) (string, string) {
	c.mustRun(t, "generate-key-pair", "--output-key-prefix", prefix)
	return filepath.Join(c.dir, prefix+".key"), filepath.Join(c.dir, prefix+".pub")
}

// wardenKeyPair writes a Warden key pair (cosign format) into the cosign dir.
func (c *cosignEnv) wardenKeyPair(t *testing.T, prefix string) (crypto.Signer, verify.Key, string, string) {
	t.Helper()
	priv, pub, err := sign.GenerateKeyPair([]byte(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	kp, pp := filepath.Join(c.dir, prefix+".key"), filepath.Join(c.dir, prefix+".pub")
	if err := os.WriteFile(kp, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pp, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := sign.LoadPrivateKey(kp, []byte(testPassword))
	if err != nil {
		t.Fatal(err)
	}
	key, err := verify.KeyFromFile(pp)
	if err != nil {
		t.Fatal(err)
	}
	return k, key, kp, pp
}

var registries = []struct {
	name      string
	referrers bool
}{{"referrers-api", true}, {"tag-fallback", false}}

func TestCosignVerifiesWardenSignatures(t *testing.T) {
	c := newCosign(t)
	k, _, _, pub := c.wardenKeyPair(t, "warden")
	for _, r := range registries {
		t.Run(r.name, func(t *testing.T) {
			host := newRegistry(t, r.referrers)
			_, legacy := pushRandom(t, host, "legacy", "v1")
			mustSign(t, legacy, k, sign.Options{Format: sign.FormatLegacy, Annotations: map[string]string{"env": "prod"}})
			out := c.mustRun(t, "verify", "--key", pub, "--insecure-ignore-tlog=true", "--new-bundle-format=false", "-a", "env=prod", legacy.String())
			if !strings.Contains(out, legacy.DigestStr()) {
				t.Errorf("cosign verify output does not name the digest:\n%s", out)
			}
			_, bundle := pushRandom(t, host, "bundle", "v1")
			mustSign(t, bundle, k, sign.Options{Format: sign.FormatBundle, Annotations: map[string]string{"env": "prod"}})
			c.mustRun(t, "verify", "--key", pub, "--insecure-ignore-tlog=true", "-a", "env=prod", bundle.String())
			// Negative control: cosign refuses an unsigned image and the wrong key.
			_, other := pushRandom(t, host, "unsigned", "v1")
			if out, err := c.run(t, "verify", "--key", pub, "--insecure-ignore-tlog=true", "--new-bundle-format=false", other.String()); err == nil {
				t.Errorf("cosign verified an unsigned image:\n%s", out)
			}
		})
	}
}

func TestWardenVerifiesCosignSignatures(t *testing.T) {
	c := newCosign(t)
	keyPath, pubPath := c.generateKeyPair(t, "cosign")
	// cosign's key files load in Warden.
	if _, err := sign.LoadPrivateKey(keyPath, []byte(testPassword)); err != nil {
		t.Fatalf("Warden cannot load cosign's private key: %v", err)
	}
	key, err := verify.KeyFromFile(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range registries {
		t.Run(r.name, func(t *testing.T) {
			host := newRegistry(t, r.referrers)
			_, legacy := pushRandom(t, host, "legacy", "v1")
			c.mustRun(t, "sign", "--key", keyPath, "--tlog-upload=false", "--use-signing-config=false", "--new-bundle-format=false", "-a", "env=prod", "-y", legacy.String())
			res, err := verify.Image(ctx, legacy, verify.Options{Keys: []verify.Key{key}, Annotations: map[string]string{"env": "prod"}})
			if err != nil || len(res.Signers) != 1 || res.Signers[0].Format != sign.FormatLegacy {
				t.Fatalf("legacy: %+v, %v", res, err)
			}
			_, bundle := pushRandom(t, host, "bundle", "v1")
			c.mustRun(t, "sign", "--key", keyPath, "--tlog-upload=false", "--use-signing-config=false", "-a", "env=prod", "-y", bundle.String())
			res, err = verify.Image(ctx, bundle, verify.Options{Keys: []verify.Key{key}, Annotations: map[string]string{"env": "prod"}})
			if err != nil || len(res.Signers) != 1 || res.Signers[0].Format != sign.FormatBundle {
				t.Fatalf("bundle: %+v, %v", res, err)
			}
		})
	}
}

func TestCosignSignsWithWardenKey(t *testing.T) {
	c := newCosign(t)
	_, key, keyPath, _ := c.wardenKeyPair(t, "warden")
	host := newRegistry(t, true)
	_, d := pushRandom(t, host, "app", "v1")
	c.mustRun(t, "sign", "--key", keyPath, "--tlog-upload=false", "--use-signing-config=false", "--new-bundle-format=false", "-y", d.String())
	if _, err := verify.Image(ctx, d, verify.Options{Keys: []verify.Key{key}}); err != nil {
		t.Fatalf("cosign signed with Warden's key, Warden verify: %v", err)
	}
}

func TestAttestationInterop(t *testing.T) {
	c := newCosign(t)
	k, wkey, _, wpub := c.wardenKeyPair(t, "warden")
	ckey, cpub := c.generateKeyPair(t, "cosign")
	cosignKey, err := verify.KeyFromFile(cpub)
	if err != nil {
		t.Fatal(err)
	}
	bom := []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[{"type":"library","name":"zlib","version":"1.3.1"}]}`)
	bomPath := filepath.Join(c.dir, "bom.json")
	if err := os.WriteFile(bomPath, bom, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, r := range registries {
		t.Run(r.name, func(t *testing.T) {
			host := newRegistry(t, r.referrers)
			for _, f := range []sign.Format{sign.FormatLegacy, sign.FormatBundle} {
				_, d := pushRandom(t, host, "warden-"+string(f), "v1")
				if _, err := sign.Attest(ctx, d, k, sign.PredicateCycloneDX, bom, sign.Options{Format: f}); err != nil {
					t.Fatal(err)
				}
				args := []string{"verify-attestation", "--key", wpub, "--insecure-ignore-tlog=true", "--type", "cyclonedx", d.String()}
				if f == sign.FormatLegacy {
					args = append(args, "--new-bundle-format=false")
				}
				out := c.mustRun(t, args...)
				if st := printedStatement(t, out); st == nil || st.PredicateType != sign.PredicateCycloneDX || !strings.Contains(string(st.Predicate), "zlib") {
					t.Errorf("%s: cosign verify-attestation did not print the statement:\n%s", f, out)
				}
			}
			for _, legacy := range []bool{true, false} {
				_, d := pushRandom(t, host, fmt.Sprint("cosign-legacy-", legacy), "v1")
				args := []string{"attest", "--key", ckey, "--tlog-upload=false", "--use-signing-config=false", "--type", "cyclonedx", "--predicate", bomPath, "-y", d.String()}
				if legacy {
					args = append(args, "--new-bundle-format=false")
				}
				c.mustRun(t, args...)
				res, err := verify.Attestations(ctx, d, verify.AttestationOptions{Options: verify.Options{Keys: []verify.Key{cosignKey}}, PredicateType: sign.PredicateCycloneDX})
				if err != nil || len(res.Attestations) != 1 {
					t.Fatalf("cosign attest (legacy=%v), Warden verify: %+v, %v", legacy, res, err)
				}
				var p map[string]any
				if err := json.Unmarshal(res.Attestations[0].Predicate, &p); err != nil || p["bomFormat"] != "CycloneDX" {
					t.Errorf("predicate %s", res.Attestations[0].Predicate)
				}
				// The wrong key is refused.
				if _, err := verify.Attestations(ctx, d, verify.AttestationOptions{Options: verify.Options{Keys: []verify.Key{wkey}}}); !errors.Is(err, verify.ErrNotVerified) {
					t.Errorf("wrong key: %v", err)
				}
			}
		})
	}
}

// printedStatement finds the DSSE envelope cosign verify-attestation prints and decodes its statement.
func printedStatement(t *testing.T, out string) *sign.Statement {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		env, err := sign.ParseEnvelope([]byte(line))
		if err != nil {
			continue
		}
		p, err := env.DecodedPayload()
		if err != nil {
			continue
		}
		if st, err := sign.ParseStatement(p); err == nil {
			return st
		}
	}
	return nil
}

// Warden appends to a .sig manifest cosign wrote, and cosign appends to one Warden wrote; both
// tools then see both signatures.
func TestMixedSignersShareTheSigTag(t *testing.T) {
	c := newCosign(t)
	k, wkey, _, wpub := c.wardenKeyPair(t, "warden")
	ckey, cpub := c.generateKeyPair(t, "cosign")
	cosignKey, err := verify.KeyFromFile(cpub)
	if err != nil {
		t.Fatal(err)
	}
	host := newRegistry(t, false)
	for i, cosignFirst := range []bool{true, false} {
		_, d := pushRandom(t, host, fmt.Sprint("mixed", i), "v1")
		cosignSign := func() {
			c.mustRun(t, "sign", "--key", ckey, "--tlog-upload=false", "--use-signing-config=false", "--new-bundle-format=false", "-y", d.String())
		}
		if cosignFirst {
			cosignSign()
		}
		mustSign(t, d, k, sign.Options{Format: sign.FormatLegacy})
		if !cosignFirst {
			cosignSign()
		}
		res, err := verify.Image(ctx, d, verify.Options{Keys: []verify.Key{wkey, cosignKey}, Threshold: 2})
		if err != nil || len(res.Signers) != 2 {
			t.Fatalf("cosignFirst=%v: %+v, %v", cosignFirst, res, err)
		}
		for _, pub := range []string{wpub, cpub} {
			c.mustRun(t, "verify", "--key", pub, "--insecure-ignore-tlog=true", "--new-bundle-format=false", d.String())
		}
	}
}

// Ed25519 and RSA keys: Warden signs, Warden and cosign verify (both formats).
func TestKeyTypesInterop(t *testing.T) {
	c := newCosign(t)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	rs, _ := rsa.GenerateKey(rand.Reader, 2048)
	host := newRegistry(t, true)
	for i, k := range []crypto.Signer{ed, rs} {
		pubPEM, err := sign.MarshalPublicKey(k.Public())
		if err != nil {
			t.Fatal(err)
		}
		pubPath := filepath.Join(c.dir, fmt.Sprintf("k%d.pub", i))
		if err := os.WriteFile(pubPath, pubPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		key, err := verify.KeyFromFile(pubPath)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []sign.Format{sign.FormatLegacy, sign.FormatBundle} {
			_, d := pushRandom(t, host, fmt.Sprintf("k%d-%s", i, f), "v1")
			mustSign(t, d, k, sign.Options{Format: f})
			if res, err := verify.Image(ctx, d, verify.Options{Keys: []verify.Key{key}}); err != nil || len(res.Signers) != 1 {
				t.Fatalf("%T %s: %+v, %v", k, f, res, err)
			}
			args := []string{"verify", "--key", pubPath, "--insecure-ignore-tlog=true", d.String()}
			if f == sign.FormatLegacy {
				args = append(args, "--new-bundle-format=false")
			}
			c.mustRun(t, args...)
		}
	}
}
