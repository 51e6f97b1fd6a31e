package imagegate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testpolicy"
)

func TestDecide(t *testing.T) {
	f := testpolicy.New(t)
	g := New(Options{Policy: f.Policy, CacheTTL: time.Minute})
	ctx := context.Background()

	res := g.Decide(ctx, f.Signed, nil)
	if !res.Allow || res.Cached || !strings.HasPrefix(res.Pinned, f.Signed+"@sha256:") || res.Digest == "" {
		t.Fatalf("signed: %+v", res)
	}
	if again := g.Decide(ctx, f.Signed, nil); !again.Allow || !again.Cached || again.Pinned != res.Pinned {
		t.Errorf("second decision not from the cache: %+v", again)
	}
	if d := g.Decide(ctx, f.Host+"/prod/app@"+res.Digest, nil); !d.Allow || d.Pinned != f.Host+"/prod/app@"+res.Digest {
		t.Errorf("by digest: %+v", d)
	}

	for _, c := range []struct{ ref, want string }{
		{f.Unsigned, "signatures: the image is not signed"},
		{f.Host + "/other/app@sha256:" + strings.Repeat("a", 64), "(rule default)"},
		{"Not A Reference!", "is not an image reference"},
		{f.Host + "/prod/missing:1", "resolving " + f.Host + "/prod/missing:1"},
	} {
		d := g.Decide(ctx, c.ref, nil)
		if d.Allow || !strings.Contains(d.Message(), c.want) {
			t.Errorf("%s: allow=%v %q; want denial with %q", c.ref, d.Allow, d.Message(), c.want)
		}
	}

	// The tag moves to an unsigned image after signing: the cache is keyed by
	// digest, so the new digest is decided afresh and denied.
	moved, err := name.ParseReference(f.Signed)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(moved, testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("app/server", "\x7fELF moved")))); err != nil {
		t.Fatal(err)
	}
	if d := g.Decide(ctx, f.Signed, nil); d.Allow || d.Digest == res.Digest || !strings.Contains(d.Message(), "not signed") {
		t.Errorf("moved tag: %+v", d)
	}

	// No policy: everything is denied.
	g.SetPolicy(nil)
	if d := g.Decide(ctx, f.Host+"/prod/app@"+res.Digest, nil); d.Allow {
		t.Errorf("nil policy allowed: %+v", d)
	}
}

// TestDecideResolveTTL: with resolve_ttl a cached decision is answered
// without the registry, so a tag moved within the TTL still gets the digest
// that was verified (the one the mutating webhook pins); after the TTL the
// tag is resolved again and the moved tag denied. A request with
// credentials of its own always resolves at the registry.
func TestDecideResolveTTL(t *testing.T) {
	f := testpolicy.New(t)
	now := time.Now()
	g := New(Options{Policy: f.Policy, CacheTTL: time.Hour, ResolveTTL: 10 * time.Second, Now: func() time.Time { return now }})
	ctx := context.Background()
	res := g.Decide(ctx, f.Signed, nil)
	if !res.Allow || res.Cached {
		t.Fatalf("signed: %+v", res)
	}
	moved, err := name.ParseReference(f.Signed)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(moved, testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("app/server", "\x7fELF moved")))); err != nil {
		t.Fatal(err)
	}
	if d := g.Decide(ctx, f.Signed, nil); !d.Allow || !d.Cached || d.Pinned != res.Pinned {
		t.Errorf("within resolve_ttl: want the cached decision pinned to %s, got %+v", res.Pinned, d)
	}
	if d := g.Decide(ctx, f.Signed, authn.NewMultiKeychain()); d.Allow || d.Digest == res.Digest {
		t.Errorf("with credentials of its own: want the moved tag resolved and denied, got %+v", d)
	}
	now = now.Add(11 * time.Second)
	if d := g.Decide(ctx, f.Signed, nil); d.Allow || d.Digest == res.Digest || !strings.Contains(d.Message(), "not signed") {
		t.Errorf("after resolve_ttl: want the moved tag denied, got %+v", d)
	}
}

// TestDecideHangingRegistry: a registry that never answers denies once the
// timeout runs out, naming it.
func TestDecideHangingRegistry(t *testing.T) {
	f := testpolicy.New(t)
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stop:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(stop)
	host := strings.TrimPrefix(hang.URL, "http://")
	g := New(Options{Policy: f.Policy, Timeout: 300 * time.Millisecond})
	start := time.Now()
	d := g.Decide(context.Background(), host+"/prod/app:1", nil)
	if d.Allow || !strings.Contains(d.Message(), "timeout") || !strings.Contains(d.Message(), "fail closed") {
		t.Errorf("hanging registry: %q", d.Message())
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Errorf("took %s", el)
	}
}
