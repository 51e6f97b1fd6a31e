package verify_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
)

// newRegistry starts an in-process registry on 127.0.0.1, with or without the referrers API.
func newRegistry(t testing.TB, referrers bool) string {
	t.Helper()
	srv := httptest.NewServer(registry.New(
		registry.WithReferrersSupport(referrers),
		registry.Logger(log.New(io.Discard, "", 0)),
	))
	t.Cleanup(srv.Close)
	u, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// pushRandom pushes a small random image to host/repo:tag and returns its tag and digest.
func pushRandom(t testing.TB, host, repo, tag string) (name.Tag, name.Digest) {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.NewTag(host + "/" + repo + ":" + tag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	h, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref, ref.Context().Digest(h.String())
}

func newKey(t testing.TB, label string) (crypto.Signer, verify.Key) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k, verify.NewKey(label, k.Public())
}

func mustSign(t testing.TB, ref name.Reference, k crypto.Signer, opt sign.Options) *sign.Result {
	t.Helper()
	res, err := sign.Image(context.Background(), ref, k, opt)
	if err != nil {
		t.Fatalf("signing %s: %v", ref, err)
	}
	return res
}

func hasReason(ps []verify.Problem, sub string) bool {
	for _, p := range ps {
		if strings.Contains(p.Reason, sub) {
			return true
		}
	}
	return false
}

func digestOf(t testing.TB, b []byte) v1.Hash {
	t.Helper()
	h, _, err := v1.SHA256(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func registryHandler(t testing.TB) http.Handler {
	t.Helper()
	return registry.New(registry.WithReferrersSupport(true), registry.Logger(log.New(io.Discard, "", 0)))
}

func randomImage(t testing.TB) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
