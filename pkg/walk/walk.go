// Package walk builds the inventory of an image: it streams each layer once
// (layers in parallel, never unpacked to disk), hands the files that some
// extractor asked for to that extractor, and merges the per-layer results in
// layer order with the OCI whiteout rules, so that only the final filesystem
// counts. Per-layer results are cached by the layer's content digest and the
// extractor names and versions (see CacheKey); the bytes read are checked
// against that digest, so a cached result always belongs to its bytes.
//
// Paths are normalised inside the layer root ("../x", "/x" and "./x" are all
// "x"); nothing is written to disk except wanted files larger than
// Options.SpoolThreshold, spooled to an unlinked temp file. Symbolic and hard
// links are never followed: one at a wanted path only hides what lower layers
// had there. An extractor's Input is valid only during its Extract call (the
// buffer is reused for the next file). Extractor panics and errors become
// warnings; a corrupt layer, a layer or wanted file over its size limit
// (ErrTooLarge) or a digest mismatch (ErrDigestMismatch) is an error naming the
// image, the layer and, where there is one, the path.
package walk

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sort"
	"strconv"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wardensec/warden/internal/arena"
	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/os/distro"
	"github.com/wardensec/warden/pkg/inflate"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/layercache"
)

// FormatVersion changes whenever the walk's per-layer result can change for
// the same layer and extractors; it is part of the cache key.
const FormatVersion = 5 // 2: binary result encoding (was gob); 3: the packages' Files in a trailer; 4: and their Symbols; 5: Symbols as hashes

// Defaults for Options.
const (
	DefaultMaxLayerSize   int64 = 8 << 30   // decompressed bytes of one layer
	DefaultMaxFileSize    int64 = 512 << 20 // one file an extractor reads
	DefaultSpoolThreshold int64 = 8 << 20   // larger wanted files go to a temp file
)

// ErrTooLarge is wrapped by the error returned when a layer or a wanted file
// is larger than the configured limit (a decompression bomb, or a limit too small).
var ErrTooLarge = errors.New("decompression bomb: size limit exceeded")

// ErrDigestMismatch is wrapped by the error returned when a layer's bytes do
// not hash to the digest (or diff ID) the image gives for it.
var ErrDigestMismatch = errors.New("layer digest mismatch")

// Options configure Inventory. The zero value of every field is a sane default.
type Options struct {
	// Extractors are run on every layer; nil means none (only the distro is detected).
	Extractors []extract.Extractor
	// Cache stores per-layer results; nil means no cache.
	Cache *layercache.Cache
	// Logger receives debug messages; nil is silent.
	Logger *slog.Logger
	// ImageName names the image in errors and warnings ("alpine:3.19", "oci-layout:dir").
	ImageName string
	// Parallel bounds how many layers are read at once (default GOMAXPROCS).
	Parallel int
	// MaxLayerSize bounds the decompressed size of one layer (default 8 GiB).
	MaxLayerSize int64
	// MaxFileSize bounds the size of one file an extractor reads (default 512 MiB).
	MaxFileSize int64
	// SpoolThreshold: wanted files larger than this are spooled to a temp file
	// instead of memory (default 8 MiB).
	SpoolThreshold int64
	// TempDir is where large files are spooled ("" is os.TempDir()).
	TempDir string
	// Gzip inflates gzip layers; nil means inflate.FromEnv() (ISA-L when
	// built in or installed, unless WARDEN_IGZIP=off).
	Gzip *inflate.Gzip
	// LearnDigests: the caller asks the image for its digests after the walk
	// (an SBOM, a signature check). A layer whose digest costs a read of its
	// own (a docker-archive's compressed layers) then learns it from the
	// walk's read; otherwise, without a Cache, it is read without hashing.
	LearnDigests bool
	// OwnerFilesOnly: the caller needs the OS packages' Files only for
	// Inventory.MarkOwned (a scan; not an SBOM). Results read from the
	// Cache then keep only the files that some language package's location
	// names (what MarkOwned looks up), so MarkOwned marks the same packages
	// and an image's ~100,000 owned file names are not copied out of the
	// cache. Layers read from the image keep all their files.
	OwnerFilesOnly bool
	// KeepSymbols, when set, says which of a Go package's Symbols the caller
	// can use (a scan: those its advisories name); the Inventory keeps a
	// package's symbols only when it says so (the Cache is given them all).
	// An error fails the walk. It is called by one goroutine at a time.
	KeepSymbols func(p *inventory.Package) (keep bool, err error)
	// Strings, when set, holds the copies of whole file lists read from the
	// Cache (an SBOM's: 12 MB for the bench image), in memory that is never
	// given back; nil is the Go heap. Only for a process that walks once.
	Strings *arena.Arena
}

func (o *Options) gzip() inflate.Gzip {
	if o.Gzip != nil {
		return *o.Gzip
	}
	return inflate.FromEnv()
}

func (o *Options) defaults() {
	if o.Parallel <= 0 {
		o.Parallel = runtime.GOMAXPROCS(0)
	}
	if o.MaxLayerSize <= 0 {
		o.MaxLayerSize = DefaultMaxLayerSize
	}
	if o.MaxFileSize <= 0 {
		o.MaxFileSize = DefaultMaxFileSize
	}
	if o.SpoolThreshold <= 0 {
		o.SpoolThreshold = DefaultSpoolThreshold
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ImageName == "" {
		o.ImageName = "image"
	}
}

// CacheKey is the per-layer cache key for a layer content ID (the digest of
// the bytes the walk reads: the blob digest of a compressed layer, the diff ID
// of an uncompressed one) and a set of extractors.
func CacheKey(contentID string, exts []extract.Extractor) string {
	return contentID + "/" + extractorsHash(exts)
}

func extractorsHash(exts []extract.Extractor) string {
	names := make([]string, 0, len(exts)+2)
	for _, e := range exts {
		names = append(names, e.Name()+"@"+strconv.Itoa(e.Version()))
	}
	sort.Strings(names)
	h := sha256.New()
	fmt.Fprintf(h, "walk@%d\ndistro@%d\n", FormatVersion, distro.Version)
	for _, n := range names {
		io.WriteString(h, n+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

// Inventory walks img and returns its final-state inventory.
func Inventory(ctx context.Context, img v1.Image, opt Options) (*inventory.Inventory, error) {
	opt.defaults()
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image %s: listing layers: %w", opt.ImageName, err)
	}
	// Diff IDs come from the config (go-containerregistry would otherwise
	// recompute some of them by inflating the whole layer).
	var diffIDs []v1.Hash
	if cf, err := img.ConfigFile(); err == nil && cf != nil && len(cf.RootFS.DiffIDs) == len(layers) {
		diffIDs = cf.RootFS.DiffIDs
	}
	if keep := opt.KeepSymbols; keep != nil {
		var mu sync.Mutex // layers call it as they end, in parallel
		opt.KeepSymbols = func(p *inventory.Package) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			return keep(p)
		}
	}
	results := make([]*layerResult, len(layers))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		hits     []string // cache keys found
		sem      = make(chan struct{}, opt.Parallel)
	)
	hash := extractorsHash(opt.Extractors)
	// Slots are taken in layer order, base layer first (usually the
	// largest, the floor of the whole walk), not in whatever order the
	// goroutines happen to run. (Not by size: Size can cost a recompression
	// for some layer types.)
	for i, l := range layers {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var diffID v1.Hash
			if diffIDs != nil {
				diffID = diffIDs[i]
			}
			r, hit, err := layerWithCache(ctx, l, i, diffID, hash, &opt)
			if hit != "" {
				mu.Lock()
				hits = append(hits, hit)
				mu.Unlock()
			}
			if err != nil {
				mu.Lock()
				if firstErr == nil {
					firstErr = err
					cancel()
				}
				mu.Unlock()
				return
			}
			results[i] = r
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opt.OwnerFilesOnly || opt.KeepSymbols != nil {
		if err := readDeferred(results, &opt); err != nil {
			return nil, err
		}
	}
	if len(hits) > 0 {
		// For the cache's pruning: these results are still in use.
		if err := opt.Cache.Touch(hits...); err != nil {
			opt.Logger.Warn("layer cache: recording use failed", "err", err)
		}
	}
	return merge(results, &opt), nil
}

// readDeferred reads the Files and Symbols of the results decoded without
// them (Options.OwnerFilesOnly, KeepSymbols): a second look at their cache
// entries that copies out only the OS packages' files a language package's
// location names, in any layer, and the symbols KeepSymbols keeps.
func readDeferred(results []*layerResult, opt *Options) error {
	f := &trailerFilter{symbols: opt.KeepSymbols, strings: opt.Strings}
	pending := false
	for _, r := range results {
		pending = pending || r.deferred != nil
	}
	if !pending {
		return nil
	}
	if opt.OwnerFilesOnly {
		f.files = map[string]struct{}{}
		for _, r := range results {
			for path, fr := range r.Files {
				for _, pkgs := range fr.Results {
					for i := range pkgs {
						p := &pkgs[i]
						if inventory.IsOS(p.Ecosystem) {
							continue
						}
						if len(p.Locations) == 0 { // merge's default location
							inventory.OwnerPaths(f.files, "/"+path)
						}
						inventory.OwnerPaths(f.files, p.Locations...)
					}
				}
			}
		}
	}
	for _, r := range results {
		if r.deferred == nil {
			continue
		}
		var derr error
		found, err := opt.Cache.View(r.key, func(b []byte) error {
			derr = readTrailer(b, r, f)
			return nil
		})
		if err == nil && !found {
			err = errors.New("the entry is gone")
		}
		if err == nil {
			err = derr
		}
		if err != nil {
			// The first read decoded this entry a moment ago: a failure now is the cache's (or KeepSymbols').
			return fmt.Errorf("image %s: layer %s: reading its files and symbols from the layer cache: %w", opt.ImageName, r.DiffID, err)
		}
	}
	return nil
}

// layerWithCache returns the layer's result, from the cache when it is there
// (hit is then its cache key).
func layerWithCache(ctx context.Context, l v1.Layer, idx int, d v1.Hash, hash string, opt *Options) (res *layerResult, hit string, err error) {
	if d.Hex == "" {
		var err error
		if d, err = l.DiffID(); err != nil {
			return nil, "", fmt.Errorf("image %s: layer %d: reading diff ID: %w", opt.ImageName, idx, err)
		}
	}
	diffID := d.String()
	// A layer whose digest costs a read of its own (a docker-archive's) is
	// hashed for a cache lookup only when a layer with its diff ID was read
	// before; a new one is read at once and its digest learned on the way.
	hint := "diffid:" + diffID + "/" + hash
	src, err := layerSource(l, d, opt.Cache != nil && opt.Cache.Hinted(hint), opt.Cache != nil || opt.LearnDigests)
	if err != nil {
		return nil, "", fmt.Errorf("image %s: layer %d (%s): %w", opt.ImageName, idx, diffID, err)
	}
	if opt.Cache != nil && src.id.Hex != "" {
		key := src.id.String() + "/" + hash
		var r *layerResult
		var derr error
		found, err := opt.Cache.View(key, func(b []byte) error {
			r, derr = decodeResult(b, opt.OwnerFilesOnly || opt.KeepSymbols != nil, opt.Strings)
			return nil
		})
		switch {
		case err != nil:
			opt.Logger.Warn("layer cache unavailable; reading the layer", "layer", diffID, "err", err)
		case found && derr == nil:
			opt.Logger.Debug("layer cache hit", "layer", diffID)
			r.DiffID, r.key = diffID, key
			return r, key, nil
		case found:
			opt.Logger.Warn("layer cache entry unreadable; reading the layer", "layer", diffID, "err", derr)
		}
	}
	r, err := scanLayer(ctx, src, idx, diffID, opt)
	if err != nil {
		return nil, "", err
	}
	if opt.Cache != nil {
		id := src.id
		if id.Hex == "" {
			id, err = l.Digest() // learned by the read: no second read
		}
		var b []byte
		if err == nil {
			b, err = encodeResult(r)
		}
		if err == nil {
			err = opt.Cache.Put(id.String()+"/"+hash, b, hint)
		}
		if err != nil {
			opt.Logger.Warn("layer cache not updated", "layer", diffID, "err", err)
		}
	}
	if opt.KeepSymbols != nil {
		// The cache has the whole result; the caller gets the symbols it
		// keeps, as from a cached one (readLists), and does not hold a large
		// image's millions of others to its end.
		if err := keepSymbols(r, opt.KeepSymbols); err != nil {
			return nil, "", fmt.Errorf("image %s: layer %s: %w", opt.ImageName, diffID, err)
		}
	}
	return r, "", nil
}

// keepSymbols empties the Symbols of the packages in r that keep refuses.
func keepSymbols(r *layerResult, keep func(p *inventory.Package) (bool, error)) error {
	for _, fr := range r.Files {
		for _, pkgs := range fr.Results {
			for i := range pkgs {
				p := &pkgs[i]
				if len(p.Symbols.Funcs) == 0 && len(p.Symbols.Pkgs) == 0 {
					continue
				}
				ok, err := keep(p)
				if err != nil {
					return err
				}
				if !ok {
					p.Symbols = inventory.Symbols{}
				}
			}
		}
	}
	return nil
}
