package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
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
	tmp := t.TempDir()
	img := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("etc/os-release", "ID=good\n")))
	layoutDir := filepath.Join(tmp, "layout")
	testimage.WriteOCILayout(t, img, layoutDir)
	ls, _ := img.Layers()
	d, _ := ls[0].Digest()
	evil := testimage.TarGz(t, testimage.Reg("etc/os-release", "ID=evil\n"))
	if err := os.WriteFile(filepath.Join(layoutDir, "blobs", "sha256", d.Hex), evil, 0o644); err != nil {
		t.Fatal(err)
	}

	layerTar := testimage.TarBytes(t, testimage.Reg("etc/os-release", "ID=evil\n"))
	cfg := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("1", 64) + `"]}}`
	arch := filepath.Join(tmp, "tampered.tar")
	if err := os.WriteFile(arch, testimage.TarBytes(t,
		testimage.Reg("manifest.json", `[{"Config":"config.json","RepoTags":["x:1"],"Layers":["abc/layer.tar"]}]`),
		testimage.Reg("config.json", cfg),
		testimage.File{Path: "abc/layer.tar", Content: layerTar}), 0o644); err != nil {
		t.Fatal(err)
	}

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
