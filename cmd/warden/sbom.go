package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/wardensec/warden/internal/arena"
	"github.com/wardensec/warden/internal/memlimit"
	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/layercache"
	"github.com/wardensec/warden/pkg/outfile"
	"github.com/wardensec/warden/pkg/sbom"
	"github.com/wardensec/warden/pkg/source"
	"github.com/wardensec/warden/pkg/walk"
)

// invFlags are the flags of commands that open an image and inventory it.
type invFlags struct {
	platform string
	noCache  bool
	// digests: the command asks the image for its digests after the walk
	// (walk.Options.LearnDigests).
	digests bool
	// ownerFilesOnly: the command uses the OS packages' file lists only to
	// join language packages to their owners (walk.Options.OwnerFilesOnly).
	ownerFilesOnly bool
	// keepSymbols: walk.Options.KeepSymbols (a scan: match.Env.KeepSymbols).
	keepSymbols func(p *inventory.Package) (bool, error)

	cache *layercache.Cache // opened once by layerCache
}

func (f *invFlags) add(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.platform, "platform", "", "platform to pick from a multi-platform image (os/arch[/variant], default linux/amd64)")
	cmd.Flags().BoolVar(&f.noCache, "no-cache", false, "do not read or write the per-layer cache")
}

// layerCache is the layer cache in the state directory, nil with --no-cache.
func (f *invFlags) layerCache(g *globals) (*layercache.Cache, error) {
	if f.noCache || f.cache != nil {
		return f.cache, nil
	}
	c, err := openLayerCache(g)
	if err != nil {
		return nil, fmt.Errorf("opening the layer cache (use --no-cache to scan without it): %w", err)
	}
	f.cache = c
	return c, nil
}

// invOpen opens ref as an image; the caller closes it. The layer cache also
// remembers the digests of compressed layers in docker-archive files.
func invOpen(ctx context.Context, g *globals, ref string, f *invFlags) (*source.Image, error) {
	opt := source.Options{Platform: f.platform, Logger: g.logger}
	c, err := f.layerCache(g)
	if err != nil {
		return nil, err
	}
	if c != nil {
		opt.Digests = c
	}
	return source.Open(ctx, ref, opt)
}

// invInventory walks img with every extractor, through the layer cache in the
// state directory unless --no-cache.
func invInventory(ctx context.Context, g *globals, img *source.Image, f *invFlags) (*inventory.Inventory, error) {
	opt := walk.Options{Extractors: all.Extractors(), Logger: g.logger, ImageName: img.Name, LearnDigests: f.digests,
		OwnerFilesOnly: f.ownerFilesOnly, KeepSymbols: f.keepSymbols,
		// A command walks an image or a few, then exits: file lists read
		// from the cache go to huge pages that are never given back.
		Strings: new(arena.Arena)}
	c, err := f.layerCache(g)
	if err != nil {
		return nil, err
	}
	opt.Cache = c
	return walk.Inventory(ctx, img.Image, opt)
}

// inventoryGCPercent is the GC pacing of the commands that inventory an
// image, unless GOGC is set. Their heap grows from nothing to tens of MB in a
// few milliseconds on a warm cache; at the default 100 the collector ran a
// cycle at every doubling (4, 8, 16, 32 MB), about a third of a 60 ms warm
// `warden sbom` of the benchmark image (40 ms with 400). The soft memory
// limit (internal/memlimit) bounds the peak of a cold run.
const inventoryGCPercent = 400

// softMemoryLimit gives a command that inventories an image memlimit's
// adaptive soft memory limit (unless GOMEMLIMIT is set) and the GC
// percentage inventoryGCPercent (unless GOGC is set); it returns what
// restores both. The limit replaces a fixed 72 MiB one: on the 6 GB, 10-layer
// image of bench/big5g.sh that one let the heap grow to 72 MiB of a peak RSS
// of 110 MB (the binary's mapped pages are another 40).
//
// Until the first collection the percentage is off, so the limit's floor is
// what starts it: a warm run, which holds less than the floor, ends without
// one (a warm sbom of the bench image held 14 of its 16 MB when the
// collector ran at 400 %). After it, the percentage and the adaptive limit
// pace the run as before: a cold scan of the 6 GB image of bench/big5g.sh
// peaked at 94-96 MB against 89-92 (the heap reaches the floor sooner).
func softMemoryLimit() (restore func()) {
	undo := []func(){memlimit.Adaptive(memlimit.DefaultFloor, memlimit.DefaultHeadroom)}
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		var (
			mu   sync.Mutex
			done bool
		)
		set := func(percent int) {
			mu.Lock()
			defer mu.Unlock()
			if !done {
				debug.SetGCPercent(percent)
			}
		}
		prev := debug.SetGCPercent(-1)
		// The cleanup of an object nothing refers to runs after the first
		// collection.
		runtime.AddCleanup(new([16]byte), set, inventoryGCPercent)
		undo = append(undo, func() {
			set(prev)
			mu.Lock()
			done = true
			mu.Unlock()
		})
	} else if os.Getenv("GOGC") == "" {
		prev := debug.SetGCPercent(inventoryGCPercent)
		undo = append(undo, func() { debug.SetGCPercent(prev) })
	}
	return func() {
		for _, f := range undo {
			f()
		}
	}
}

// wardenVersion is the module version the binary was built from.
func wardenVersion() string {
	if version != "" { // stamped by scripts/release.sh
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// sbomTime is $SOURCE_DATE_EPOCH when set (reproducible builds), else now.
func sbomTime() (time.Time, error) {
	if v := os.Getenv("SOURCE_DATE_EPOCH"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q is not a number of seconds: %w", v, err)
		}
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Now().UTC(), nil
}

func newSBOMCmd(g *globals) *cobra.Command {
	var (
		inv     invFlags
		format  string
		output  string
		noFiles bool
	)
	cmd := &cobra.Command{
		Use:   "sbom IMAGE",
		Short: "Write a software bill of materials (CycloneDX 1.6, SPDX 2.3 or Warden JSON)",
		Long: `Write the image's packages — each with its PURL, the layer that added it and the files
it owns — as CycloneDX 1.6 JSON, SPDX 2.3 JSON or Warden's own JSON.

IMAGE is docker-archive:PATH, oci-layout:DIR[:TAG], oci-archive:PATH, registry:REF,
docker:REF, dir:PATH or a bare reference (Docker Engine if it has it, else the registry).
Set SOURCE_DATE_EPOCH for a reproducible timestamp.`,
		Example: `  warden sbom testdata/images/alpine-3.19.4 --format cyclonedx-json
  warden sbom registry:localhost:5000/app:1.0 --format spdx-json --output app.spdx.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			defer softMemoryLimit()()
			if !validFormat(format) {
				return fmt.Errorf("--format %q: want one of %s", format, strings.Join(sbom.Formats, ", "))
			}
			ts, err := sbomTime()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			img, err := invOpen(ctx, g, args[0], &inv)
			if err != nil {
				return err
			}
			defer img.Close()
			inv.digests = true // every SBOM names the image and its layers by digest
			// An SBOM names no functions: Go binaries' symbols are left in
			// the layer cache, not held in memory.
			inv.keepSymbols = func(*inventory.Package) (bool, error) { return false, nil }
			in, err := invInventory(ctx, g, img, &inv)
			if err != nil {
				return err
			}
			// After the walk: a docker-archive's layer digests are learned
			// by the walk's read when they are not known.
			meta, err := sbom.ImageFrom(img.Name, img.Image)
			if err != nil {
				return err
			}
			meta.RepoTags = img.RepoTags
			for _, w := range in.Warnings {
				g.logger.Warn(w)
			}
			opt := sbom.Options{Time: ts, NoFiles: noFiles, ToolVersion: wardenVersion()}
			return writeOutput(cmd.OutOrStdout(), output, func(w io.Writer) error {
				return sbom.Write(w, format, in, meta, opt)
			})
		},
	}
	inv.add(cmd)
	cmd.Flags().StringVarP(&format, "format", "f", sbom.FormatCycloneDX, "output format: "+strings.Join(sbom.Formats, ", "))
	cmd.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	cmd.Flags().BoolVar(&noFiles, "no-files", false, "leave out the files each package owns")
	return cmd
}

func validFormat(f string) bool {
	for _, v := range sbom.Formats {
		if f == v {
			return true
		}
	}
	return false
}

// writeOutput runs write against stdout, or against the file at path through
// pkg/outfile (all or nothing for a regular file; a device, FIFO or symlink
// keeps what it is).
func writeOutput(stdout io.Writer, path string, write func(io.Writer) error) error {
	if path == "" || path == "-" {
		return write(stdout)
	}
	return outfile.Write(path, 0o644, write)
}
