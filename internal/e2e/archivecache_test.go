package e2e

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/layercache"
	"github.com/wardensec/warden/pkg/source"
	"github.com/wardensec/warden/pkg/walk"
)

// TestArchiveCacheRuns: a docker-archive with compressed layers through the
// layer cache, as `warden scan` runs it. The first run reads each layer once
// (its digest learned on the way) and stores the results; the same file
// again is all cache hits without a read; a copy of the file (new identity,
// nothing remembered) is hashed for the lookup and is all cache hits too.
func TestArchiveCacheRuns(t *testing.T) {
	img := testimage.Image(t, nil,
		testimage.Layer(t, testimage.Reg("etc/os-release", "ID=alpine\nVERSION_ID=3.19.4\n")),
		testimage.Layer(t, testimage.Reg("lib/apk/db/installed", "P:musl\nV:1.2.4-r2\no:musl\n\n")))
	dir := t.TempDir()
	p := filepath.Join(dir, "img.tar")
	testimage.WriteDockerArchive(t, img, "x:1", p)
	c, err := layercache.Open(filepath.Join(dir, "cache"))
	if err != nil {
		t.Fatal(err)
	}
	run := func(path string) (hits int, digest string) {
		t.Helper()
		im, err := source.Open(context.Background(), "docker-archive:"+path, source.Options{Digests: c})
		if err != nil {
			t.Fatal(err)
		}
		defer im.Close()
		var log bytes.Buffer
		inv, err := walk.Inventory(context.Background(), im.Image, walk.Options{
			Extractors: all.Extractors(), Cache: c, ImageName: path,
			Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Packages) != 1 || inv.Packages[0].Name != "musl" {
			t.Fatalf("%s: packages %+v", path, inv.Packages)
		}
		d, err := im.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(log.String(), "layer cache hit"), d.String()
	}
	hits, d1 := run(p)
	if n, _ := c.Len(); hits != 0 || n != 2 {
		t.Fatalf("first run: %d hits, %d cached results; want 0 and 2", hits, n)
	}
	hits, d2 := run(p)
	if hits != 2 || d2 != d1 {
		t.Fatalf("same file again: %d hits, digest %s; want 2 and %s", hits, d2, d1)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(dir, "copy.tar")
	if err := os.WriteFile(cp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	hits, d3 := run(cp)
	if hits != 2 || d3 != d1 {
		t.Fatalf("a copy of the file: %d hits, digest %s; want 2 and %s", hits, d3, d1)
	}
}

// TestArchiveNoCacheUnhashed: without a layer cache nothing needs a compressed
// layer's digest, and a docker-archive lists none to check: the walk reads
// the layers without hashing them (no digest is learned), and the image's
// digest, asked for afterwards, is still right. A caller that will ask for
// it (LearnDigests) gets it learned by the walk's read.
func TestArchiveNoCacheUnhashed(t *testing.T) {
	img := testimage.Image(t, nil,
		testimage.Layer(t, testimage.Reg("etc/os-release", "ID=alpine\nVERSION_ID=3.19.4\n")),
		testimage.Layer(t, testimage.Reg("lib/apk/db/installed", "P:musl\nV:1.2.4-r2\no:musl\n\n")))
	p := filepath.Join(t.TempDir(), "img.tar")
	testimage.WriteDockerArchive(t, img, "x:1", p)
	ref, err := tarball.ImageFromPath(p, nil) // go-containerregistry's reading is the reference
	if err != nil {
		t.Fatal(err)
	}
	want, err := ref.Digest()
	if err != nil {
		t.Fatal(err)
	}
	im, err := source.Open(context.Background(), "docker-archive:"+p, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	inv, err := walk.Inventory(context.Background(), im.Image, walk.Options{Extractors: all.Extractors(), ImageName: p})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Packages) != 1 || inv.Packages[0].Name != "musl" {
		t.Fatalf("packages %+v", inv.Packages)
	}
	ls, err := im.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		k, ok := l.(interface{ KnownDigest() (v1.Hash, bool) })
		if !ok {
			t.Fatalf("layer %d (%T) cannot say whether its digest is known", i, l)
		}
		if d, known := k.KnownDigest(); known {
			t.Errorf("layer %d: digest %s learned by a walk without a cache: its bytes were hashed", i, d)
		}
	}
	if got, err := im.Digest(); err != nil || got != want {
		t.Errorf("image digest %v, %v; want %v", got, err, want)
	}

	// With LearnDigests (sbom, scan --format cyclonedx) the walk's read
	// teaches each layer its digest: no second read for the image digest.
	im2, err := source.Open(context.Background(), "docker-archive:"+p, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer im2.Close()
	if _, err := walk.Inventory(context.Background(), im2.Image, walk.Options{Extractors: all.Extractors(), ImageName: p, LearnDigests: true}); err != nil {
		t.Fatal(err)
	}
	ls, err = im2.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range ls {
		if _, known := l.(interface{ KnownDigest() (v1.Hash, bool) }).KnownDigest(); !known {
			t.Errorf("layer %d: digest not learned by a walk with LearnDigests", i)
		}
	}
	if got, err := im2.Digest(); err != nil || got != want {
		t.Errorf("image digest after LearnDigests %v, %v; want %v", got, err, want)
	}
}
