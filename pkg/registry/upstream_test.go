package registry_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/wardensec/warden/pkg/registry"
)

// TestGateway: a registry in front of another (--upstream) serves what the
// upstream has, caches it (still served with the upstream gone), scans it
// (layers fetched on demand) and gates it like pushed content.
func TestGateway(t *testing.T) {
	up := newTestReg(t, registry.Options{})
	img, _ := random.Image(5000, 3)
	for _, repo := range []string{"dev/app:1", "prod/app:1"} {
		if err := remote.Write(up.ref(t, repo), img); err != nil {
			t.Fatal(err)
		}
	}
	u, err := registry.NewUpstream(up.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var scannedLayers atomic.Int64
	sc := registry.ScannerFunc(func(ctx context.Context, repo string, d v1.Hash, img v1.Image) (*registry.ScanResult, error) {
		ls, err := img.Layers()
		if err != nil {
			return nil, err
		}
		for _, l := range ls {
			rc, err := l.Compressed()
			if err != nil {
				return nil, err
			}
			rc.Close()
			scannedLayers.Add(1)
		}
		return &registry.ScanResult{}, nil
	})
	gw := newTestReg(t, registry.Options{Upstream: u, Gate: &fakeGate{}, Scanner: sc})

	got, err := remote.Image(gw.ref(t, "dev/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("image through the gateway: %v", err)
	}
	_, err = remote.Image(gw.ref(t, "prod/app:1"))
	if err == nil || !strings.Contains(err.Error(), "CVE-2024-9143") {
		t.Errorf("gated pull through the gateway: %v", err)
	}
	if _, err := remote.Image(gw.ref(t, "dev/missing:1")); err == nil || !strings.Contains(err.Error(), "MANIFEST_UNKNOWN") {
		t.Errorf("missing upstream: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for scannedLayers.Load() < 6 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := scannedLayers.Load(); n != 6 {
		t.Errorf("scanner read %d layers, want 3 per image for 2 images", n)
	}
	// Cached: with the upstream gone, the image still pulls in full.
	up.srv.Close()
	got, err = remote.Image(gw.ref(t, "dev/app:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("cached image with the upstream down: %v", err)
	}
	if _, err := registry.NewUpstream("ftp://x"); err == nil {
		t.Error("ftp upstream accepted")
	}
}
