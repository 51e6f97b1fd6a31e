package vulndb

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// InstallOptions tune Install.
type InstallOptions struct {
	// Check runs after r is read to its end and before the new file is
	// opened: the caller's digest check. An error aborts the install.
	Check func() error
	// LockTimeout bounds the wait for another writer (default 1 minute).
	LockTimeout time.Duration
	Logger      *slog.Logger
}

// Install replaces the database at path with the database file r holds
// (a prebuilt database, as `warden db pull` fetches), atomically and under the
// writers' lock: r goes to a temporary file beside path, opt.Check runs, the
// file must open as a database of this SchemaVersion, then it is synced and
// renamed over path. On any error, or if the process dies, the database at
// path is untouched (leftover temporary files are removed by the next writer).
// It returns the build time recorded in the new database.
func Install(ctx context.Context, path string, r io.Reader, opt InstallOptions) (built time.Time, err error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opt.LockTimeout == 0 {
		opt.LockTimeout = time.Minute
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return built, fmt.Errorf("creating database directory %s: %w", dir, err)
	}
	unlock, err := lockFile(ctx, path+".lock", opt.LockTimeout)
	if err != nil {
		return built, err
	}
	defer unlock()
	removeLeftovers(dir, base, log)

	f, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return built, fmt.Errorf("creating a temporary database in %s: %w", dir, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	_, err = io.Copy(f, ctxReader{ctx, r})
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return built, fmt.Errorf("writing the new database to %s: %w", tmp, err)
	}
	if opt.Check != nil {
		if err := opt.Check(); err != nil {
			return built, err
		}
	}
	bdb, err := bolt.Open(tmp, 0o444, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return built, fmt.Errorf("the new database does not open: %w", err)
	}
	err = bdb.View(func(tx *bolt.Tx) error {
		var err error
		built, err = checkSchema(tx)
		return err
	})
	bdb.Close()
	if err != nil {
		return built, fmt.Errorf("the new database: %w", err)
	}
	return built, installFile(tmp, path, dir)
}

// removeLeftovers deletes the temporary files of a writer that was killed.
func removeLeftovers(dir, base string, log *slog.Logger) {
	old, _ := filepath.Glob(filepath.Join(dir, base+".tmp-*"))
	for _, f := range old {
		log.Debug("removing a leftover temporary database", "file", f)
		os.Remove(f)
	}
}

// installFile makes tmp readable, syncs it and renames it over path (then
// syncs the directory). tmp is removed on failure.
func installFile(tmp, path, dir string) error {
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("installing the new database: %w", err)
	}
	if err := syncFile(tmp); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("installing the new database at %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// ctxReader stops a copy when ctx is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// LockFile takes the exclusive advisory lock on path that the writers of this
// package use (flock; a no-op where there is none), waiting at most timeout.
// Callers preparing an Install (a download) use it to keep one at a time.
func LockFile(ctx context.Context, path string, timeout time.Duration) (unlock func(), err error) {
	return lockFile(ctx, path, timeout)
}
