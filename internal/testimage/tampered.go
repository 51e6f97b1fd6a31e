package testimage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TamperedLayout writes an OCI layout whose only layer blob was swapped for
// other bytes after the manifest was written. It returns the layout directory
// and the digest the manifest names for that layer.
func TamperedLayout(t testing.TB) (dir, layerDigest string) {
	t.Helper()
	img := Image(t, nil, Layer(t, Reg("etc/os-release", "ID=good\n")))
	dir = filepath.Join(t.TempDir(), "layout")
	WriteOCILayout(t, img, dir)
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	d, err := ls[0].Digest()
	if err != nil {
		t.Fatal(err)
	}
	evil := TarGz(t, Reg("etc/os-release", "ID=evil\n"))
	if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", d.Hex), evil, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, d.String()
}

// TamperedDockerArchive writes a docker-archive whose uncompressed layer
// "abc/layer.tar" does not hash to the diff ID its config lists.
func TamperedDockerArchive(t testing.TB) string {
	t.Helper()
	layerTar := TarBytes(t, Reg("etc/os-release", "ID=evil\n"))
	cfg := `{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("1", 64) + `"]}}`
	arch := filepath.Join(t.TempDir(), "tampered.tar")
	if err := os.WriteFile(arch, TarBytes(t,
		Reg("manifest.json", `[{"Config":"config.json","RepoTags":["x:1"],"Layers":["abc/layer.tar"]}]`),
		Reg("config.json", cfg),
		File{Path: "abc/layer.tar", Content: layerTar}), 0o644); err != nil {
		t.Fatal(err)
	}
	return arch
}
