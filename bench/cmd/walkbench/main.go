// Command walkbench runs Warden's layer walk with every extractor (what
// `warden sbom` does before writing the document) on an OCI layout directory
// or a docker-archive tarball, with or without the per-layer cache, and prints
// the elapsed seconds and the package count.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/layercache"
	"github.com/wardensec/warden/pkg/walk"
)

func main() {
	ociDir := flag.String("oci", "", "OCI layout directory")
	archive := flag.String("docker-archive", "", "docker-archive tarball")
	cacheDir := flag.String("cache", "", "layer cache directory (empty: no cache)")
	parallel := flag.Int("parallel", 0, "layers read at once (0: GOMAXPROCS)")
	out = flag.String("o", "", "write the inventory as JSON here")
	spool = flag.Int64("spool", 0, "walk.Options.SpoolThreshold (0: default)")
	verbose := flag.Bool("v", false, "log the walk's debug messages to stderr")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if *verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "walkbench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	n, err := run(*ociDir, *archive, *cacheDir, *parallel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "walkbench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	fmt.Printf("%.3f %d\n", time.Since(start).Seconds(), n)
}

var (
	logger     *slog.Logger
	out        *string
	spool      *int64
	memprofile = flag.String("memprofile", "", "write a heap profile (after the walk) here")
)

func run(ociDir, archive, cacheDir string, parallel int) (int, error) {
	var img v1.Image
	switch {
	case ociDir != "":
		lp, err := layout.FromPath(ociDir)
		if err != nil {
			return 0, err
		}
		idx, err := lp.ImageIndex()
		if err != nil {
			return 0, err
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return 0, err
		}
		if img, err = idx.Image(m.Manifests[0].Digest); err != nil {
			return 0, err
		}
	case archive != "":
		var err error
		if img, err = tarball.ImageFromPath(archive, nil); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("give -oci or -docker-archive")
	}
	opt := walk.Options{Extractors: all.Extractors(), ImageName: ociDir + archive, Parallel: parallel, Logger: logger, SpoolThreshold: *spool}
	if cacheDir != "" {
		c, err := layercache.Open(cacheDir)
		if err != nil {
			return 0, err
		}
		defer c.Close()
		opt.Cache = c
	}
	inv, err := walk.Inventory(context.Background(), img, opt)
	if err != nil {
		return 0, err
	}
	if *memprofile != "" {
		f, err := os.Create(*memprofile)
		if err != nil {
			return 0, err
		}
		pprof.Lookup("heap").WriteTo(f, 0)
		f.Close()
		files, syms := 0, 0
		for _, p := range inv.Packages {
			files += len(p.Files)
			syms += p.Symbols.Len()
		}
		fmt.Fprintf(os.Stderr, "files %d symbols %d\n", files, syms)
	}
	if *out != "" {
		b, err := json.MarshalIndent(inv, "", " ")
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(*out, b, 0o644); err != nil {
			return 0, err
		}
	}
	return len(inv.Packages), nil
}
