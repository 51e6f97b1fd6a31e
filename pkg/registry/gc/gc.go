// Package gc is the registry's garbage collector: it deletes stored blobs
// that no manifest references. Run works offline (the registry stopped);
// Online runs beside live replicas.
package gc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/wardensec/warden/pkg/registry/meta"
	"github.com/wardensec/warden/pkg/registry/storage"
)

// Options configure Run.
type Options struct {
	DryRun bool
	// UploadAge: upload sessions older than this are removed (default 24h).
	UploadAge time.Duration
	Logger    *slog.Logger
}

// Stats is what Run did.
type Stats struct {
	Kept, Deleted int
	DeletedBytes  int64
	Uploads       int
}

// Run marks every digest a manifest row or reference keeps alive and sweeps
// the rest of the blob store.
func Run(ctx context.Context, root string, opt Options) (Stats, error) {
	var st Stats
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.UploadAge <= 0 {
		opt.UploadAge = 24 * time.Hour
	}
	store, err := storage.Open(root)
	if err != nil {
		return st, err
	}
	md, err := meta.Open(filepath.Join(root, "meta.db"))
	if err != nil {
		return st, err
	}
	defer md.Close()
	live, err := md.LiveDigests(ctx)
	if err != nil {
		return st, fmt.Errorf("gc: reading live digests: %w", err)
	}
	var dead []storage.Digest
	var deadSize []int64
	err = store.Walk(ctx, func(b storage.BlobInfo) error {
		d, size := b.Digest, b.Size
		if live[d.String()] {
			st.Kept++
			return nil
		}
		dead = append(dead, d)
		deadSize = append(deadSize, size)
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("gc: walking %s: %w", root, err)
	}
	for i, d := range dead {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		log.Info("gc: unreferenced blob", "digest", d, "size", deadSize[i], "dry-run", opt.DryRun)
		st.Deleted++
		st.DeletedBytes += deadSize[i]
		if opt.DryRun {
			continue
		}
		// Drop the links first: a blob is never visible without its file.
		if err := md.DropBlobLinks(ctx, d.String()); err != nil {
			return st, fmt.Errorf("gc: unlinking %s: %w", d, err)
		}
		if err := store.Delete(ctx, d); err != nil {
			return st, fmt.Errorf("gc: deleting %s: %w", d, err)
		}
	}
	stale, err := md.StaleUploads(ctx, time.Now().Add(-opt.UploadAge))
	if err != nil {
		return st, err
	}
	for _, id := range stale {
		st.Uploads++
		if opt.DryRun {
			continue
		}
		_ = store.Cancel(ctx, id)
		if err := md.DeleteUpload(ctx, id); err != nil {
			return st, err
		}
	}
	return st, nil
}

// OnlineOptions configure Online.
type OnlineOptions struct {
	// Grace keeps blobs stored, and links made, less than this long ago
	// (default 1h): an image being pushed has its blobs before its manifest.
	Grace  time.Duration
	DryRun bool
	Logger *slog.Logger
}

// Online collects garbage while the registry (and other replicas sharing its
// storage and metadata) keep serving pushes: mark and sweep, where a blob is
// a candidate only if it is older than the grace period and than the oldest
// open upload, and each candidate is rechecked and deleted under the digest's
// exclusive lock (meta.SweepBlob), which uploads and manifest pushes share.
func Online(ctx context.Context, store storage.Store, md *meta.DB, opt OnlineOptions) (Stats, error) {
	var st Stats
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.Grace <= 0 {
		opt.Grace = time.Hour
	}
	start := time.Now()
	cutoff := start.Add(-opt.Grace)
	oldest, err := md.OldestUpload(ctx)
	if err != nil {
		return st, fmt.Errorf("gc: reading uploads: %w", err)
	}
	if !oldest.IsZero() && oldest.Before(cutoff) {
		cutoff = oldest
	}
	live, err := md.LiveDigests(ctx)
	if err != nil {
		return st, fmt.Errorf("gc: reading live digests: %w", err)
	}
	var cands []storage.BlobInfo
	err = store.Walk(ctx, func(b storage.BlobInfo) error {
		if live[b.Digest.String()] || !b.Modified.Before(cutoff) {
			st.Kept++
			return nil
		}
		cands = append(cands, b)
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("gc: walking %s: %w", store.Describe(), err)
	}
	for _, b := range cands {
		if err := ctx.Err(); err != nil {
			return st, err
		}
		if opt.DryRun {
			st.Deleted++
			st.DeletedBytes += b.Size
			continue
		}
		ok, err := md.SweepBlob(ctx, b.Digest.String(), start.Add(-opt.Grace), func() error {
			return store.Delete(ctx, b.Digest)
		})
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return st, fmt.Errorf("gc: sweeping %s: %w", b.Digest, err)
		}
		if !ok {
			st.Kept++
			continue
		}
		log.Info("gc: deleted unreferenced blob", "digest", b.Digest, "size", b.Size)
		st.Deleted++
		st.DeletedBytes += b.Size
	}
	return st, nil
}
