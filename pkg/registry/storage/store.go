package storage

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Store is a content-addressed blob store. A blob is visible under its digest
// only once its content has been verified against that digest; resumable
// upload sessions live in the store itself (and so, for a shared backend,
// survive a move to another registry process).
type Store interface {
	Stat(ctx context.Context, d Digest) (int64, error)
	// Open opens a blob for reading; Seek (for Range requests) is cheap.
	Open(ctx context.Context, d Digest) (io.ReadSeekCloser, error)
	ReadAll(ctx context.Context, d Digest, limit int64) ([]byte, error)
	PutBytes(ctx context.Context, want Digest, b []byte) error
	// Delete removes a blob (garbage collection only).
	Delete(ctx context.Context, d Digest) error
	// Walk calls fn for every stored blob.
	Walk(ctx context.Context, fn func(b BlobInfo) error) error

	StartUpload(ctx context.Context, id string) (Upload, error)
	GetUpload(ctx context.Context, id string) (Upload, error)
	// Commit verifies an upload against want and makes it visible under want.
	Commit(ctx context.Context, up Upload, want Digest) error
	Cancel(ctx context.Context, id string) error
	// Forget drops cached state of a session (after a failed commit).
	Forget(id string)

	// Describe names the store (a directory or s3://bucket/prefix) for logs.
	Describe() string
}

// Redirector is a Store that can hand clients a time-limited URL of a blob
// (a presigned S3 GET), so pulls need not stream through the registry.
type Redirector interface {
	BlobURL(ctx context.Context, d Digest, expiry time.Duration) (string, error)
}

// Upload is one resumable upload session.
type Upload interface {
	ID() string
	// Size is the number of bytes received so far.
	Size() int64
	// Append writes r (n bytes, or -1 when unknown) at offset start (-1:
	// wherever the upload ends) and returns the new size. A failed append
	// leaves the session as it was.
	Append(ctx context.Context, r io.Reader, start, n int64) (int64, error)
}

// BlobInfo is one stored blob, as Walk reports it.
type BlobInfo struct {
	Digest   Digest
	Size     int64
	Modified time.Time
}

// OpenURL opens the store named by spec: "" or a directory path (the
// filesystem store under dir), or s3://BUCKET/PREFIX?endpoint=URL&region=R.
func OpenURL(ctx context.Context, spec, dir string) (Store, error) {
	switch {
	case strings.HasPrefix(spec, "s3://"):
		return OpenS3(ctx, spec)
	case spec == "":
		return Open(dir)
	case strings.Contains(spec, "://"):
		return nil, fmt.Errorf("storage %q: unknown scheme (want a directory or s3://BUCKET/PREFIX)", spec)
	}
	return Open(spec)
}
