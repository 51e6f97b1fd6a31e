// Package testdb builds a throwaway vulnerability database from feed batches,
// for the tests that read a real feed slice and match packages against it.
package testdb

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/wardensec/warden/pkg/vulndb"
)

// Open writes the batches into a fresh database under t.TempDir and opens it;
// it is closed when the test ends.
func Open(t testing.TB, batches ...*vulndb.Batch) *vulndb.DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db")
	if err := vulndb.Update(context.Background(), path, vulndb.UpdateOptions{Fresh: true}, func(ctx context.Context, w *vulndb.Writer) error {
		for _, b := range batches {
			if err := w.Put(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	db, err := vulndb.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
