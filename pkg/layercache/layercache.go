// Package layercache stores per-layer scan results in an embedded bbolt file
// under the state directory (cachedir.LayerCachePath). Keys are chosen by the
// caller (pkg/walk uses the layer diff ID plus a hash of the extractor names and
// versions); values are opaque bytes.
//
// The bbolt file is opened for each operation and closed right after, so the
// file lock is held only for milliseconds: several warden processes can share
// one cache. Reads take a shared lock, writes an exclusive one; a lock that
// cannot be had within Options.Timeout is a clear error wrapping ErrLocked.
package layercache

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// FileName is the bbolt file inside the cache directory.
const FileName = "layers.bolt"

var (
	bucket        = []byte("layers")
	digestsBucket = []byte("digests") // LookupDigest / StoreDigest
	usedBucket    = []byte("used")    // layer result key → when it was last stored or used (Touch, Prune)
	hintsBucket   = []byte("hints")   // Put's hints → when they were recorded (Hinted)
)

// ErrLocked is wrapped by errors returned when another process holds the cache's lock too long.
var ErrLocked = errors.New("layer cache is locked by another process")

// Options tune Open.
type Options struct {
	// Timeout is how long an operation waits for the file lock (default 10s).
	Timeout time.Duration
	// MaxDigests bounds the remembered archive digests (default DefaultMaxDigests).
	MaxDigests int
}

// Cache is a per-layer result store. It is safe for concurrent use.
type Cache struct {
	path       string
	timeout    time.Duration
	maxDigests int
	mu         sync.RWMutex // bbolt's flock is per open file: serialise writers against readers in-process
}

// Open creates (if needed) and opens the cache in dir, typically
// cachedir.LayerCachePath(stateDir).
func Open(dir string) (*Cache, error) { return OpenWith(dir, Options{}) }

// OpenWith is Open with options.
func OpenWith(dir string, opt Options) (*Cache, error) {
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating layer cache directory %s: %w", dir, err)
	}
	if opt.MaxDigests <= 0 {
		opt.MaxDigests = DefaultMaxDigests
	}
	c := &Cache{path: filepath.Join(dir, FileName), timeout: opt.Timeout, maxDigests: opt.MaxDigests}
	// A read checks that the file is a bbolt file; only a new one is
	// written to (a write transaction costs an fsync on every run).
	ready := false
	if _, err := os.Stat(c.path); err == nil {
		err = c.view(func(tx *bolt.Tx) error {
			ready = tx.Bucket(bucket) != nil
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if !ready {
		err := c.update(func(tx *bolt.Tx) error {
			_, err := tx.CreateBucketIfNotExists(bucket)
			return err
		})
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Path is the bbolt file.
func (c *Cache) Path() string { return c.path }

// Close releases the cache. Operations after Close fail.
func (c *Cache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.path = ""
	return nil
}

// Get returns the value stored under key, or nil and no error when there is none.
func (c *Cache) Get(key string) ([]byte, error) {
	var out []byte
	err := c.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		if v := b.Get([]byte(key)); v != nil {
			out = append([]byte(nil), v...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading key %q: %w", key, err)
	}
	return out, nil
}

// View calls fn with the value stored under key, without copying it: val is
// only valid during fn (decode it there). found is false when there is none.
func (c *Cache) View(key string, fn func(val []byte) error) (found bool, err error) {
	err = c.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		v := b.Get([]byte(key))
		if v == nil {
			return nil
		}
		found = true
		return fn(v)
	})
	if err != nil {
		return found, fmt.Errorf("reading key %q: %w", key, err)
	}
	return found, nil
}

// Put stores val under key, replacing what was there, and records each
// hint (Hinted): pkg/walk records the diff ID a result was read from, so
// that a docker-archive layer with that diff ID is hashed for a lookup
// before it is read, and one never seen is read at once.
func (c *Cache) Put(key string, val []byte, hints ...string) error {
	err := c.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucket)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(key), val); err != nil {
			return err
		}
		now := stamp(time.Now())
		u, err := tx.CreateBucketIfNotExists(usedBucket)
		if err != nil {
			return err
		}
		if err := u.Put([]byte(key), now); err != nil {
			return err
		}
		if len(hints) == 0 {
			return nil
		}
		h, err := tx.CreateBucketIfNotExists(hintsBucket)
		if err != nil {
			return err
		}
		for _, hint := range hints {
			if err := h.Put([]byte(hint), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("writing key %q: %w", key, err)
	}
	return nil
}

// Hinted reports whether a Put recorded hint. A hint is only ever a reason
// to look for a result; what is found is keyed by content.
func (c *Cache) Hinted(hint string) bool {
	found := false
	_ = c.view(func(tx *bolt.Tx) error {
		if h := tx.Bucket(hintsBucket); h != nil {
			found = h.Get([]byte(hint)) != nil
		}
		return nil
	})
	return found
}

func stamp(t time.Time) []byte { return binary.BigEndian.AppendUint64(nil, uint64(t.Unix())) } //nolint:gosec // after 1970

func unstamp(v []byte) (time.Time, bool) {
	if len(v) != 8 {
		return time.Time{}, false
	}
	return time.Unix(int64(binary.BigEndian.Uint64(v)), 0), true //nolint:gosec // written by stamp
}

// touchEvery is how stale a last-use time gets before Touch writes it again:
// warm runs on the same day write nothing (a write costs an fsync).
const touchEvery = 24 * time.Hour

// Touch records that the results under keys were used now, for Prune. It
// writes only the keys last recorded over a day ago (or never).
func (c *Cache) Touch(keys ...string) error {
	now := time.Now()
	var stale []string
	err := c.view(func(tx *bolt.Tx) error {
		u := tx.Bucket(usedBucket)
		for _, k := range keys {
			var v []byte
			if u != nil {
				v = u.Get([]byte(k))
			}
			if t, ok := unstamp(v); !ok || now.Sub(t) > touchEvery {
				stale = append(stale, k)
			}
		}
		return nil
	})
	if err != nil || len(stale) == 0 {
		return err
	}
	return c.update(func(tx *bolt.Tx) error {
		u, err := tx.CreateBucketIfNotExists(usedBucket)
		if err != nil {
			return err
		}
		for _, k := range stale {
			if err := u.Put([]byte(k), stamp(now)); err != nil {
				return err
			}
		}
		return nil
	})
}

// PruneResult says what Prune removed and what is left.
type PruneResult struct {
	Removed, Kept               int // layer results
	RemovedDigests, KeptDigests int // remembered archive digests
}

// Prune removes the layer results not stored or used (Touch) for longer than
// maxAge, and the remembered archive digests and hints older than that; 0
// removes everything. A result with no recorded use (written before uses were
// recorded) counts as used now. The file keeps its size; bbolt reuses the
// freed pages.
func (c *Cache) Prune(maxAge time.Duration) (PruneResult, error) {
	var res PruneResult
	now := time.Now()
	old := func(t time.Time) bool { return maxAge <= 0 || now.Sub(t) > maxAge }
	err := c.update(func(tx *bolt.Tx) error {
		u, err := tx.CreateBucketIfNotExists(usedBucket)
		if err != nil {
			return err
		}
		if b := tx.Bucket(bucket); b != nil {
			var drop, unstamped [][]byte
			err := b.ForEach(func(k, _ []byte) error {
				t, ok := unstamp(u.Get(k))
				switch {
				case !ok && maxAge > 0:
					unstamped = append(unstamped, bytes.Clone(k))
					res.Kept++
				case !ok || old(t):
					drop = append(drop, bytes.Clone(k))
				default:
					res.Kept++
				}
				return nil
			})
			if err != nil {
				return err
			}
			for _, k := range drop {
				if err := b.Delete(k); err != nil {
					return err
				}
				if err := u.Delete(k); err != nil {
					return err
				}
			}
			for _, k := range unstamped {
				if err := u.Put(k, stamp(now)); err != nil {
					return err
				}
			}
			res.Removed = len(drop)
		}
		if _, _, err := deleteWhere(tx.Bucket(hintsBucket), func(v []byte) bool {
			t, ok := unstamp(v)
			return !ok || old(t)
		}); err != nil {
			return err
		}
		res.RemovedDigests, res.KeptDigests, err = deleteWhere(tx.Bucket(digestsBucket), func(v []byte) bool {
			_, ts, _ := strings.Cut(string(v), " ")
			at, _ := strconv.ParseInt(ts, 10, 64)
			return old(time.Unix(at, 0))
		})
		if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("pruning layer cache %s: %w", c.path, err)
	}
	return res, nil
}

// LookupDigest and StoreDigest make the cache a source.DigestMemo: the
// digests of compressed layers inside archive files, under keys naming the
// file as it was (see source.DigestMemo). They are kept apart from the
// layer results. A failing lookup is a miss; a failing store is dropped
// (the digest is computed again next time). Each value is the digest and
// the time it was stored; past Options.MaxDigests entries the older half is dropped
// (every new archive file adds keys, and old files are gone).
func (c *Cache) LookupDigest(key string) (v1.Hash, bool) {
	var d v1.Hash
	found := false
	_ = c.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(digestsBucket); b != nil {
			if v := b.Get([]byte(key)); v != nil {
				digest, _, _ := strings.Cut(string(v), " ")
				h, err := v1.NewHash(digest)
				d, found = h, err == nil
			}
		}
		return nil
	})
	return d, found
}

// DefaultMaxDigests bounds the remembered archive digests (Options.MaxDigests).
const DefaultMaxDigests = 20000

// StoreDigest: see LookupDigest.
func (c *Cache) StoreDigest(key string, d v1.Hash) {
	_ = c.update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(digestsBucket)
		if err != nil {
			return err
		}
		if b.Stats().KeyN >= c.maxDigests {
			if err := dropOlderHalf(b); err != nil {
				return err
			}
		}
		return b.Put([]byte(key), []byte(d.String()+" "+strconv.FormatInt(time.Now().Unix(), 10)))
	})
}

// deleteWhere deletes the entries of b (nil: none) whose value drop says
// to, and counts what it deleted and kept.
func deleteWhere(b *bolt.Bucket, drop func(v []byte) bool) (removed, kept int, err error) {
	if b == nil {
		return 0, 0, nil
	}
	var keys [][]byte
	err = b.ForEach(func(k, v []byte) error {
		if drop(v) {
			keys = append(keys, bytes.Clone(k))
		} else {
			kept++
		}
		return nil
	})
	for _, k := range keys {
		if err == nil {
			err = b.Delete(k)
		}
	}
	return len(keys), kept, err
}

// dropOlderHalf deletes the older half of b's entries by their stored time.
func dropOlderHalf(b *bolt.Bucket) error {
	type entry struct {
		key []byte
		at  int64
	}
	var all []entry
	err := b.ForEach(func(k, v []byte) error {
		_, t, _ := strings.Cut(string(v), " ")
		at, _ := strconv.ParseInt(t, 10, 64) // unparsable: oldest
		all = append(all, entry{bytes.Clone(k), at})
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(all, func(x, y entry) int { return cmp.Compare(x.at, y.at) })
	for _, e := range all[:len(all)/2] {
		if err := b.Delete(e.key); err != nil {
			return err
		}
	}
	return nil
}

// Stats describes the cache file.
type Stats struct {
	Path    string `json:"path"`
	Size    int64  `json:"size_bytes"`
	Results int    `json:"layer_results"`
	Digests int    `json:"archive_digests"`
}

// Stats counts what the cache holds.
func (c *Cache) Stats() (Stats, error) {
	st := Stats{Path: c.path}
	err := c.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucket); b != nil {
			st.Results = b.Stats().KeyN
		}
		if b := tx.Bucket(digestsBucket); b != nil {
			st.Digests = b.Stats().KeyN
		}
		return nil
	})
	if err != nil {
		return st, err
	}
	if fi, err := os.Stat(c.path); err == nil {
		st.Size = fi.Size()
	}
	return st, nil
}

// Len returns the number of entries.
func (c *Cache) Len() (int, error) {
	n := 0
	err := c.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucket); b != nil {
			n = b.Stats().KeyN
		}
		return nil
	})
	return n, err
}

func (c *Cache) view(fn func(*bolt.Tx) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	db, err := c.open(true)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.View(fn)
}

func (c *Cache) update(fn func(*bolt.Tx) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	db, err := c.open(false)
	if err != nil {
		return err
	}
	err = db.Update(fn)
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing layer cache %s: %w", c.path, cerr)
	}
	return err
}

func (c *Cache) open(readOnly bool) (*bolt.DB, error) {
	if c.path == "" {
		return nil, errors.New("layer cache is closed")
	}
	db, err := bolt.Open(c.path, 0o644, &bolt.Options{Timeout: c.timeout, ReadOnly: readOnly, NoFreelistSync: true})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("opening layer cache %s: waited %s: %w (use --no-cache or another --cache-dir)", c.path, c.timeout, ErrLocked)
		}
		return nil, fmt.Errorf("opening layer cache %s: %w", c.path, err)
	}
	return db, nil
}
