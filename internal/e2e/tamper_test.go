package e2e

import (
	"context"
	"errors"
	"testing"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/source"
	"github.com/wardensec/warden/pkg/walk"
)

// TestWalkRefusesTamperedLayers: a layer whose bytes are not those its digest
// names fails the inventory, whether the walk hashes the layer itself or
// trusts a stream that verifies itself (pkg/source's readers).
func TestWalkRefusesTamperedLayers(t *testing.T) {
	layoutDir, _ := testimage.TamperedLayout(t)
	arch := testimage.TamperedDockerArchive(t)
	for _, ref := range []string{"oci-layout:" + layoutDir, "docker-archive:" + arch} {
		img, err := source.Open(context.Background(), ref, source.Options{})
		if err != nil {
			t.Fatal(err)
		}
		inv, err := walk.Inventory(context.Background(), img, walk.Options{Extractors: all.Extractors(), ImageName: ref})
		img.Close()
		if err == nil {
			t.Errorf("%s: tampered layer accepted, distro %+v", ref, inv.Distro)
			continue
		}
		if !errors.Is(err, source.ErrDigestMismatch) && !errors.Is(err, walk.ErrDigestMismatch) {
			t.Errorf("%s: %v, want a digest mismatch", ref, err)
		}
	}
}
