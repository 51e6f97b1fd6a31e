package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"sync"
	"time"
)

// Online garbage collection races with pushes on every replica. Three writers
// meet on a digest: an upload that commits (or finds already stored) a blob and
// links it, a manifest push that references it, and the collector deleting it.
// Each takes a per-digest lock — shared for the first two, exclusive for the
// collector — and rechecks under it: a PostgreSQL transaction-scoped advisory
// lock (so across processes), or for SQLite (one process) striped in-memory
// locks. So the collector either runs wholly before an upload's link (which
// then writes the blob again) or sees the fresh link or reference and keeps it.

// ErrMissingRef is returned by PutManifestGuarded when a blob the manifest
// needs is no longer linked in the repository (collected meanwhile).
var ErrMissingRef = errors.New("referenced blob is not in the repository")

type stripes [256]sync.RWMutex

var localLocks sync.Map // *DB → *stripes (SQLite only)

func (m *DB) stripes() *stripes {
	v, _ := localLocks.LoadOrStore(m, &stripes{})
	return v.(*stripes)
}

func stripe(d string) int {
	h := fnv.New32a()
	h.Write([]byte(d))
	return int(h.Sum32() % 256)
}

// rlockLocal read-locks the stripes of digests (in order) and returns the unlock.
func (m *DB) rlockLocal(digests []string) func() {
	set := map[int]bool{}
	for _, d := range digests {
		set[stripe(d)] = true
	}
	idx := make([]int, 0, len(set))
	for i := range set {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	st := m.stripes()
	for _, i := range idx {
		st[i].RLock()
	}
	return func() {
		for _, i := range idx {
			st[i].RUnlock()
		}
	}
}

// pgLock takes transaction-scoped advisory locks on digests (sorted).
func (m *DB) pgLock(ctx context.Context, tx *sql.Tx, shared bool, digests []string) error {
	ds := append([]string(nil), digests...)
	sort.Strings(ds)
	fn := "pg_advisory_xact_lock"
	if shared {
		fn = "pg_advisory_xact_lock_shared"
	}
	for i, d := range ds {
		if i > 0 && d == ds[i-1] {
			continue
		}
		if _, err := tx.ExecContext(ctx, `SELECT `+fn+`(hashtextextended($1, 7347))`, d); err != nil {
			return fmt.Errorf("locking %s: %w", d, err)
		}
	}
	return nil
}

// LinkBlobGuarded runs under (which stores or checks the blob) and links the
// blob to repo, both under the digest's shared lock.
func (m *DB) LinkBlobGuarded(ctx context.Context, repo, digest string, size int64, under func() error) error {
	if !m.postgres {
		unlock := m.rlockLocal([]string{digest})
		defer unlock()
		if err := under(); err != nil {
			return err
		}
		return m.LinkBlob(ctx, repo, digest, size)
	}
	return m.tx(ctx, func(tx *sql.Tx) error {
		if err := m.pgLock(ctx, tx, true, []string{digest}); err != nil {
			return err
		}
		if err := under(); err != nil {
			return err
		}
		return m.linkTx(ctx, tx, repo, digest, size)
	})
}

// PutManifestGuarded is PutManifest that first, under the shared locks of the
// manifest's digest and refs, runs under (which stores the manifest's bytes)
// and checks that every digest in required is still linked in the repository.
func (m *DB) PutManifestGuarded(ctx context.Context, man Manifest, refs, tags, required []string, under func() error) error {
	lockSet := append(append([]string{man.Digest}, refs...), required...)
	body := func(tx *sql.Tx) error {
		if err := under(); err != nil {
			return err
		}
		for _, d := range required {
			var n int
			if err := tx.QueryRowContext(ctx, m.q(`SELECT count(*) FROM blobs WHERE repo = ? AND digest = ?`), man.Repo, d).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("%w: %s in %s", ErrMissingRef, d, man.Repo)
			}
		}
		return m.putManifestTx(ctx, tx, man, refs, tags)
	}
	if !m.postgres {
		unlock := m.rlockLocal(lockSet)
		defer unlock()
		return m.tx(ctx, body)
	}
	return m.tx(ctx, func(tx *sql.Tx) error {
		if err := m.pgLock(ctx, tx, true, lockSet); err != nil {
			return err
		}
		return body(tx)
	})
}

// SweepBlob deletes digest if nothing keeps it alive: no manifest is it, no
// manifest references it, and no repository linked it after linkedBefore
// (an upload whose manifest is still to come). Under the digest's exclusive
// lock it drops the links and calls del to delete the stored bytes. It
// reports whether the blob was deleted.
func (m *DB) SweepBlob(ctx context.Context, digest string, linkedBefore time.Time, del func() error) (bool, error) {
	check := func(tx *sql.Tx) (bool, error) {
		var n int
		err := tx.QueryRowContext(ctx, m.q(`SELECT (SELECT count(*) FROM manifests WHERE digest = ?) + (SELECT count(*) FROM manifest_refs WHERE ref = ?)
			+ (SELECT count(*) FROM blobs WHERE digest = ? AND linked >= ?)`), digest, digest, digest, linkedBefore.Unix()).Scan(&n)
		if err != nil || n > 0 {
			return false, err
		}
		_, err = tx.ExecContext(ctx, m.q(`DELETE FROM blobs WHERE digest = ?`), digest)
		return err == nil, err
	}
	var swept bool
	if !m.postgres {
		st := &m.stripes()[stripe(digest)]
		st.Lock()
		defer st.Unlock()
		err := m.tx(ctx, func(tx *sql.Tx) error {
			var err error
			swept, err = check(tx)
			return err
		})
		if err != nil || !swept {
			return false, err
		}
		return true, del()
	}
	err := m.tx(ctx, func(tx *sql.Tx) error {
		if err := m.pgLock(ctx, tx, false, []string{digest}); err != nil {
			return err
		}
		var err error
		if swept, err = check(tx); err != nil || !swept {
			return err
		}
		return del() // a failure rolls the links back
	})
	return swept && err == nil, err
}

// OldestUpload is the start of the oldest open upload session (zero: none).
func (m *DB) OldestUpload(ctx context.Context) (time.Time, error) {
	var t sql.NullInt64
	if err := m.db.QueryRowContext(ctx, `SELECT MIN(started) FROM uploads`).Scan(&t); err != nil {
		return time.Time{}, err
	}
	if !t.Valid {
		return time.Time{}, nil
	}
	return time.Unix(t.Int64, 0), nil
}
