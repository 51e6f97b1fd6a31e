// Package gc is the registry's offline garbage collector: it deletes stored
// blobs that no manifest references. Run it while the registry is stopped.
package gc

import (
	"context"
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
