// Command mkimage assembles an image from gzip tar layers given in order
// (bottom first) and writes it as an OCI layout directory and, optionally, a
// docker-archive tarball; the layer blobs are kept as they are.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func main() {
	ociDir := flag.String("oci", "", "write an OCI layout directory here")
	archive := flag.String("docker-archive", "", "write a docker-archive tarball here")
	tag := flag.String("tag", "warden-bench:latest", "tag for the docker-archive")
	flag.Parse()
	if err := run(*ociDir, *archive, *tag, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(ociDir, archive, tag string, layers []string) error {
	cfg := &v1.ConfigFile{Architecture: "amd64", OS: "linux", Config: v1.Config{Cmd: []string{"/app/warden"}}}
	img, err := mutate.ConfigFile(mutate.MediaType(empty.Image, types.OCIManifestSchema1), cfg)
	if err != nil {
		return err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, p := range layers {
		l, err := tarball.LayerFromFile(p, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return fmt.Errorf("layer %s: %w", p, err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			return fmt.Errorf("layer %s: %w", p, err)
		}
	}
	if ociDir != "" {
		lp, err := layout.Write(ociDir, empty.Index)
		if err != nil {
			return err
		}
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"})); err != nil {
			return err
		}
	}
	if archive != "" {
		ref, err := name.NewTag(tag)
		if err != nil {
			return err
		}
		if err := tarball.WriteToFile(archive, ref, img); err != nil {
			return err
		}
	}
	return nil
}
