//go:build !unix

package vulndb

import (
	"context"
	"time"
)

// lockFile is a no-op where flock is not available; concurrent writers are
// still safe for readers (each writes its own temporary file and renames it).
func lockFile(ctx context.Context, path string, timeout time.Duration) (func(), error) {
	return func() {}, nil
}
