// Command mkimages regenerates the OCI image layouts in testdata/images from
// the root filesystem tarballs of the shared corpus. Each image has exactly one
// layer whose blob is the corpus tarball, byte for byte.
//
//	go run ./internal/testimage/cmd/mkimages -corpus ../shared/corpus -out testdata/images
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

type spec struct {
	dir, blob, tag string
	created        time.Time
	cmd            []string
}

var specs = []spec{
	{"alpine-3.19.4", "images/alpine-minirootfs-3.19.4-x86_64.tar.gz", "3.19.4",
		time.Date(2024, 9, 6, 11, 35, 0, 0, time.UTC), []string{"/bin/sh"}},
	{"debian-bookworm-pkgdb", "images/debian-bookworm-minbase-pkgdb.tar.gz", "bookworm",
		time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), []string{"bash"}},
}

func main() {
	corpus := flag.String("corpus", "../shared/corpus", "the shared corpus directory")
	out := flag.String("out", "testdata/images", "where to write the layouts")
	flag.Parse()
	for _, s := range specs {
		if err := build(filepath.Join(*corpus, s.blob), filepath.Join(*out, s.dir), s); err != nil {
			fmt.Fprintln(os.Stderr, "mkimages:", err)
			os.Exit(1)
		}
	}
}

// plainLayer hides tarball's Descriptor (its empty annotation map does not
// survive a manifest round trip).
type plainLayer struct{ v1.Layer }

func build(blob, dir string, s spec) error {
	layer, err := tarball.LayerFromFile(blob, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return fmt.Errorf("%s: %w", blob, err)
	}
	cfg := &v1.ConfigFile{
		Architecture: "amd64", OS: "linux", Created: v1.Time{Time: s.created},
		RootFS: v1.RootFS{Type: "layers"},
		Config: v1.Config{
			Cmd: s.cmd,
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return err
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: plainLayer{layer}, History: v1.History{
		Created: v1.Time{Time: s.created}, CreatedBy: "ADD " + filepath.Base(blob) + " /",
	}})
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	// Blobs, then a plain index.json entry (no artifactType).
	if err := p.WriteImage(img); err != nil {
		return err
	}
	desc, err := partial.Descriptor(img)
	if err != nil {
		return err
	}
	if err := p.AppendDescriptor(v1.Descriptor{
		MediaType: desc.MediaType, Size: desc.Size, Digest: desc.Digest,
		Annotations: map[string]string{"org.opencontainers.image.ref.name": s.tag},
	}); err != nil {
		return err
	}
	// ggcr writes index.json 0755 and blobs 0600; make them plain files.
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chmod(p, 0o644)
	}); err != nil {
		return err
	}
	// Read it back and check it against the spec.
	idx, err := p.ImageIndex()
	if err != nil {
		return err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	back, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return err
	}
	if err := validate.Image(back); err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	d, _ := back.Digest()
	fmt.Printf("%s: %s (ref name %q)\n", dir, d, s.tag)
	return nil
}
