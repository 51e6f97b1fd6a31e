package source

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardensec/warden/internal/testimage"
)

// FuzzOpenArchive feeds arbitrary bytes to the archive detection, the tar
// index and both archive readers (docker-archive, oci-archive), then reads
// whatever opened as a scanner would: never a panic, never unbounded memory.
func FuzzOpenArchive(f *testing.F) {
	img := testimage.Image(f, nil, testimage.Layer(f, testimage.Reg("etc/os-release", "ID=alpine\n"),
		testimage.Symlink("bin/sh", "/bin/busybox")))
	idx := testimage.Index(f, img, testimage.Image(f, testimage.Platform("linux", "arm64", "v8"),
		testimage.Layer(f, testimage.Reg("a", "b"))))
	dir := f.TempDir()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	testimage.WriteDockerArchive(f, img, "example.com/x:1", filepath.Join(dir, "d.tar"))
	testimage.WriteOCIArchive(f, img, filepath.Join(dir, "o.tar"), "1")
	testimage.WriteOCIArchiveIndex(f, idx, filepath.Join(dir, "i.tar"))
	for _, s := range [][]byte{read("d.tar"), read("o.tar"), read("i.tar")} {
		f.Add(s)
		f.Add(s[:len(s)/2+7])
	}
	f.Add(testimage.TarBytes(f, testimage.Reg("manifest.json", `[{"Config":"c","Layers":["../../etc/passwd"]}]`),
		testimage.Symlink("c", "c")))
	f.Add(testimage.TarBytes(f, testimage.Reg("oci-layout", `{"imageLayoutVersion":"1.0.0"}`),
		testimage.Reg("index.json", `{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2}]}`)))
	f.Add([]byte("\x1f\x8b\x08\x00"))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		for _, k := range []string{"", KindDockerArchive, KindOCIArchive} {
			for _, plat := range []platformReq{{}, {explicit: true}} {
				plat.OS, plat.Architecture = "linux", "amd64"
				img, err := openArchive(r, int64(len(b)), k, "", plat, nil)
				if err != nil {
					continue
				}
				if img.Kind != KindDockerArchive && img.Kind != KindOCIArchive || k != "" && img.Kind != k {
					t.Fatalf("asked for %q, opened %q", k, img.Kind)
				}
				boundedRead(img)
			}
		}
	})
}

func boundedRead(img *Image) {
	img.RawManifest()
	img.ConfigFile()
	img.Digest()
	ls, err := img.Layers()
	if err != nil {
		return
	}
	for _, l := range ls {
		l.DiffID()
		if rc, err := l.Uncompressed(); err == nil {
			io.CopyN(io.Discard, rc, 64<<20)
			rc.Close()
		}
	}
}
