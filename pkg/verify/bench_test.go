package verify_test

import (
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/internal/testutil/notationtest"
	"github.com/wardensec/warden/internal/testutil/sigstoretest"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
)

// signedImage pushes an image to a local registry (referrers API on) and signs it n times with
// n distinct keys in the given format. It returns the digest and the keys.
func signedImage(b *testing.B, n int, f sign.Format) (name.Digest, []verify.Key, []crypto.Signer) {
	b.Helper()
	host := newRegistry(b, true)
	_, d := pushRandom(b, host, "bench", "v1")
	var keys []verify.Key
	var signers []crypto.Signer
	for i := 0; i < n; i++ {
		k, key := newKey(b, fmt.Sprintf("k%d.pub", i))
		mustSign(b, d, k, sign.Options{Format: f})
		keys = append(keys, key)
		signers = append(signers, k)
	}
	return d, keys, signers
}

// BenchmarkVerify measures verify.Image on an image with 1 and 10 signatures (all keys trusted,
// threshold 1, so every signature is fetched and checked), per format, and with the cache.
func BenchmarkVerify(b *testing.B) {
	for _, f := range []sign.Format{sign.FormatLegacy, sign.FormatBundle} {
		for _, n := range []int{1, 10} {
			b.Run(fmt.Sprintf("%s/sigs=%d", f, n), func(b *testing.B) {
				d, keys, _ := signedImage(b, n, f)
				opt := verify.Options{Keys: keys}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					res, err := verify.Image(ctx, d, opt)
					if err != nil || len(res.Signers) != n {
						b.Fatalf("%+v, %v", res, err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/sigs=%d/cached", f, n), func(b *testing.B) {
				d, keys, _ := signedImage(b, n, f)
				opt := verify.Options{Keys: keys, Cache: verify.NewCache(16)}
				if _, err := verify.Image(ctx, d, opt); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					res, err := verify.Image(ctx, d, opt)
					if err != nil || !res.Cached {
						b.Fatalf("%+v, %v", res, err)
					}
				}
			})
		}
	}
}

// BenchmarkCosignVerify runs the peer, `cosign verify --key` (one key), on the same kind of
// image, for a side-by-side number. It includes cosign's process start-up, as a CLI user sees it.
func BenchmarkCosignVerify(b *testing.B) {
	bin := testutil.RequireTool(b, "cosign")
	dir := b.TempDir()
	for _, f := range []sign.Format{sign.FormatLegacy, sign.FormatBundle} {
		for _, n := range []int{1, 10} {
			b.Run(fmt.Sprintf("%s/sigs=%d", f, n), func(b *testing.B) {
				d, _, signers := signedImage(b, n, f)
				pub, err := sign.MarshalPublicKey(signers[n-1].Public())
				if err != nil {
					b.Fatal(err)
				}
				pubPath := filepath.Join(dir, "k.pub")
				if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
					b.Fatal(err)
				}
				c := &cosignEnv{bin: bin, dir: dir}
				args := []string{"verify", "--key", pubPath, "--insecure-ignore-tlog=true", d.String()}
				if f == sign.FormatLegacy {
					args = append(args, "--new-bundle-format=false")
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if out, err := c.run(b, args...); err != nil {
						b.Fatalf("cosign: %v\n%s", err, out)
					}
				}
			})
		}
	}
}

// BenchmarkVerifyKeyless measures verify.Image for a cosign keyless .sig (certificate, chain,
// Rekor SET; the test's own CA and log in a trusted root read from a file) over loopback:
// uncached (every request, the certificate chain, the SET and the identity checked) and cached.
func BenchmarkVerifyKeyless(b *testing.B) {
	ss := sigstoretest.New(b)
	tr, err := verify.LoadTrustedRoot(ss.Root)
	if err != nil {
		b.Fatal(err)
	}
	const who, iss = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", "https://token.actions.githubusercontent.com"
	host := newRegistry(b, true)
	_, d := pushRandom(b, host, "bench", "v1")
	sigstoretest.Push(b, d, nil, ss.SignKeyless(b, d, who, iss, nil))
	ids := []verify.Identity{{Subject: who, Issuer: iss}}
	// The registry gate's way: the same registry in process, no TCP.
	inproc := []remote.Option{remote.WithTransport(verify.HandlerTransport(registryHandler(b)))}
	dIn, err := name.NewDigest("registry.invalid/bench@" + d.DigestStr())
	if err != nil {
		b.Fatal(err)
	}
	if err := remote.Write(dIn, randomImageFrom(b, d), inproc...); err != nil {
		b.Fatal(err)
	}
	sigstoretest.Push(b, dIn, inproc, ss.SignKeyless(b, dIn, who, iss, nil))
	for _, c := range []struct {
		name   string
		d      name.Digest
		ropts  []remote.Option
		cached bool
	}{{"loopback", d, nil, false}, {"loopback/cached", d, nil, true}, {"in-process", dIn, inproc, false}, {"in-process/cached", dIn, inproc, true},
		// A long-lived caller (the admission webhook, warden serve) can keep one Puller across
		// verifications (remote.Reuse in RemoteOptions): no registry ping per verification.
		{"loopback/cached/shared-puller", d, []remote.Option{remote.Reuse(puller(b))}, true},
		{"in-process/cached/shared-puller", dIn, append(inproc, remote.Reuse(puller(b, inproc...))), true}} {
		cached := c.cached
		b.Run(c.name, func(b *testing.B) {
			d := c.d
			opt := verify.Options{Identities: ids, TrustedRoot: tr, RemoteOptions: c.ropts}
			if cached {
				opt.Cache = verify.NewCache(16)
				if _, err := verify.Image(ctx, d, opt); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := verify.Image(ctx, d, opt)
				if err != nil || len(res.Signers) != 1 || res.Cached != cached {
					b.Fatalf("%+v, %v", res, err)
				}
			}
		})
	}
}

func puller(b *testing.B, ro ...remote.Option) *remote.Puller {
	p, err := remote.NewPuller(ro...)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// randomImageFrom reads back the image d names, to push it elsewhere under the same digest.
func randomImageFrom(b *testing.B, d name.Digest) v1.Image {
	b.Helper()
	img, err := remote.Image(d)
	if err != nil {
		b.Fatal(err)
	}
	return img
}

// BenchmarkCosignVerifyKeyless runs the peer, `cosign verify --certificate-identity
// --trusted-root` (offline), on the same kind of keyless image as BenchmarkVerifyKeyless,
// process start-up included.
func BenchmarkCosignVerifyKeyless(b *testing.B) {
	bin := testutil.RequireTool(b, "cosign")
	c := &cosignEnv{bin: bin, dir: b.TempDir()}
	ss := sigstoretest.New(b)
	const who, iss = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main", "https://token.actions.githubusercontent.com"
	host := newRegistry(b, true)
	_, d := pushRandom(b, host, "bench", "v1")
	sigstoretest.Push(b, d, nil, ss.SignKeyless(b, d, who, iss, nil))
	args := []string{"verify", "--allow-http-registry", "--trusted-root", ss.Root, "--insecure-ignore-sct",
		"--new-bundle-format=false", "--certificate-identity", who, "--certificate-oidc-issuer", iss, d.String()}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out, err := c.run(b, args...); err != nil {
			b.Fatalf("cosign: %v\n%s", err, out)
		}
	}
}

// BenchmarkFormats verifies one image signed once in each format, in one run for a side-by-side
// number: cosign's legacy .sig and bundle referrer (key), and Notary Project JWS and COSE
// referrers (notation-go's verifier, trust store with one CA), uncached and with a warm cache;
// and, as the peer, notation-go's own notation.Verify (library, oras client) on the same images.
func BenchmarkFormats(b *testing.B) {
	host := newRegistry(b, true)
	pki := notationtest.New(b, "bench-ca", time.Time{}, time.Time{})
	nt := notationTrust(b, pki.TrustStore(b), notationtest.Identity)
	type image struct {
		name string
		d    name.Digest
		opt  verify.Options
	}
	var images []image
	for _, f := range []sign.Format{sign.FormatLegacy, sign.FormatBundle} {
		_, d := pushRandom(b, host, "bench", "cosign-"+string(f))
		k, key := newKey(b, "k.pub")
		mustSign(b, d, k, sign.Options{Format: f})
		images = append(images, image{"cosign-" + string(f), d, verify.Options{Keys: []verify.Key{key}}})
	}
	for _, mt := range []string{notationtest.JWS, notationtest.COSE} {
		n := map[string]string{notationtest.JWS: "notation-jws", notationtest.COSE: "notation-cose"}[mt]
		_, d := pushRandom(b, host, "bench", n)
		pki.Sign(b, d, mt, nil)
		images = append(images, image{n, d, verify.Options{Notation: nt}})
	}
	for _, im := range images {
		b.Run(im.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if res, err := verify.Image(ctx, im.d, im.opt); err != nil || len(res.Signers) != 1 {
					b.Fatalf("%+v, %v", res, err)
				}
			}
		})
		b.Run(im.name+"/cached", func(b *testing.B) {
			opt := im.opt
			opt.Cache = verify.NewCache(16)
			if _, err := verify.Image(ctx, im.d, opt); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if res, err := verify.Image(ctx, im.d, opt); err != nil || !res.Cached {
					b.Fatalf("%+v, %v", res, err)
				}
			}
		})
		if im.opt.Notation == nil {
			continue
		}
		b.Run(im.name+"/notation-go", func(b *testing.B) {
			v := pki.Verifier(b, notationtest.Identity)
			for i := 0; i < b.N; i++ {
				pki.VerifyWithNotation(b, v, im.d)
			}
		})
	}
}
