package layercache

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	bolt "go.etcd.io/bbolt"
)

func TestPutGet(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "layers")
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get("sha256:missing/x"); err != nil || v != nil {
		t.Fatalf("miss: %q %v", v, err)
	}
	if err := c.Put("k", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	if err := c.Put("k", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Get("k"); err != nil || string(v) != "v2" {
		t.Fatalf("get: %q %v", v, err)
	}
	c.Close()
	// Persisted across opens.
	c2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if v, _ := c2.Get("k"); string(v) != "v2" {
		t.Fatalf("after reopen: %q", v)
	}
	if n, _ := c2.Len(); n != 1 {
		t.Errorf("len %d", n)
	}
	if _, err := c.Get("k"); err == nil {
		t.Error("Get after Close worked")
	}
}

func TestConcurrentUse(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := fmt.Sprint("key", i%5)
			if err := c.Put(k, bytes.Repeat([]byte{byte(i)}, 1000)); err != nil {
				errs <- err
			}
			if _, err := c.Get(k); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestLockedByAnotherProcess holds the bbolt file lock from a child process
// (this test binary re-run as a helper) and checks the clear error.
func TestLockedByAnotherProcess(t *testing.T) {
	if os.Getenv("LAYERCACHE_HOLD") != "" {
		db, err := bolt.Open(os.Getenv("LAYERCACHE_HOLD"), 0o644, nil)
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(1)
		}
		fmt.Println("LOCKED")
		time.Sleep(time.Second)
		db.Close()
		os.Exit(0)
	}
	dir := t.TempDir()
	c, err := OpenWith(dir, Options{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockedByAnotherProcess$")
	cmd.Env = append(os.Environ(), "LAYERCACHE_HOLD="+c.Path())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	if !strings.Contains(string(buf[:n]), "LOCKED") {
		t.Fatalf("helper: %q", buf[:n])
	}
	_, err = c.Get("k")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), c.Path()) || !strings.Contains(err.Error(), "--no-cache") {
		t.Fatalf("want a clear ErrLocked naming the file, got %v", err)
	}
	// A second cache (another process's view) works once the lock is gone.
	cmd.Wait()
	c2, err := OpenWith(dir, Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Put("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), bytes.Repeat([]byte("junk"), 2048), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir)
	if err == nil || !strings.Contains(err.Error(), FileName) {
		t.Fatalf("want an error naming the file, got %v", err)
	}
}

func TestView(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if found, err := c.View("k", func([]byte) error { t.Error("called on a miss"); return nil }); found || err != nil {
		t.Fatalf("miss: %v %v", found, err)
	}
	c.Put("k", []byte("value"))
	var got string
	found, err := c.View("k", func(v []byte) error { got = string(v); return nil })
	if !found || err != nil || got != "value" {
		t.Fatalf("hit: %v %v %q", found, err, got)
	}
	boom := errors.New("boom")
	if _, err := c.View("k", func([]byte) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("fn error not returned: %v", err)
	}
}

// TestDigestMemo: digests are kept apart from layer results, survive a
// reopen, and a malformed stored value is a miss, not a digest.
func TestDigestMemo(t *testing.T) {
	dir := t.TempDir()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.LookupDigest("1/2/3/4/5@512+100"); ok {
		t.Fatal("hit in an empty cache")
	}
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	c.StoreDigest("1/2/3/4/5@512+100", d)
	if n, _ := c.Len(); n != 0 {
		t.Errorf("digests counted as layer results: Len = %d", n)
	}
	c2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, ok := c2.LookupDigest("1/2/3/4/5@512+100"); !ok || got != d {
		t.Fatalf("after reopen: %v %v", got, ok)
	}
	db, err := bolt.Open(c.Path(), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(digestsBucket).Put([]byte("bad"), []byte("not a digest")) })
	db.Close()
	if _, ok := c2.LookupDigest("bad"); ok {
		t.Fatal("a malformed stored digest was returned")
	}
}

// TestDigestMemoBounded: past MaxDigests the older half goes, newer stay.
func TestDigestMemoBounded(t *testing.T) {
	c, err := OpenWith(t.TempDir(), Options{MaxDigests: 10})
	if err != nil {
		t.Fatal(err)
	}
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
	// Stored times are seconds: give the first five an older time by hand.
	for i := range 10 {
		c.StoreDigest(fmt.Sprintf("k%02d", i), d)
	}
	db, err := bolt.Open(c.Path(), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		for i := range 5 {
			tx.Bucket(digestsBucket).Put([]byte(fmt.Sprintf("k%02d", i)), []byte(d.String()+" 1000"))
		}
		return nil
	})
	db.Close()
	c.StoreDigest("k10", d)
	for i := range 11 {
		_, ok := c.LookupDigest(fmt.Sprintf("k%02d", i))
		if want := i >= 5; ok != want {
			t.Errorf("k%02d remembered = %v, want %v", i, ok, want)
		}
	}
}

func setUsed(t *testing.T, c *Cache, key string, at time.Time, remove bool) {
	t.Helper()
	db, err := bolt.Open(c.Path(), 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		u, err := tx.CreateBucketIfNotExists(usedBucket)
		if err != nil {
			return err
		}
		if remove {
			return u.Delete([]byte(key))
		}
		return u.Put([]byte(key), stamp(at))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func usedAt(t *testing.T, c *Cache, key string) time.Time {
	t.Helper()
	var at time.Time
	c.view(func(tx *bolt.Tx) error {
		if u := tx.Bucket(usedBucket); u != nil {
			at, _ = unstamp(u.Get([]byte(key)))
		}
		return nil
	})
	return at
}

// TestTouchAndPrune: results unused for longer than the age go, used and
// unrecorded ones stay; Touch writes only stale times; 0 empties the cache.
func TestTouchAndPrune(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"old", "recent", "unrecorded", "touched"} {
		if err := c.Put(k, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	day := 24 * time.Hour
	setUsed(t, c, "old", time.Now().Add(-40*day), false)
	setUsed(t, c, "recent", time.Now().Add(-10*day), false)
	setUsed(t, c, "unrecorded", time.Time{}, true)
	setUsed(t, c, "touched", time.Now().Add(-40*day), false)
	fresh := time.Now().Add(-time.Hour).Truncate(time.Second)
	setUsed(t, c, "recent-digest-check", fresh, false)
	if err := c.Touch("touched", "recent-digest-check"); err != nil {
		t.Fatal(err)
	}
	if at := usedAt(t, c, "touched"); time.Since(at) > time.Minute {
		t.Errorf("Touch left a 40-day-old use: %v", at)
	}
	if at := usedAt(t, c, "recent-digest-check"); !at.Equal(fresh) {
		t.Errorf("Touch rewrote a use an hour old: %v, want %v", at, fresh)
	}
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ef", 32)}
	c.StoreDigest("new-archive", d)
	db, _ := bolt.Open(c.Path(), 0o644, nil)
	db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(digestsBucket).Put([]byte("old-archive"), []byte(d.String()+" 1000"))
	})
	db.Close()

	res, err := c.Prune(30 * day)
	if err != nil {
		t.Fatal(err)
	}
	want := PruneResult{Removed: 1, Kept: 3, RemovedDigests: 1, KeptDigests: 1}
	if res != want {
		t.Errorf("Prune(30d) = %+v, want %+v", res, want)
	}
	for k, want := range map[string]bool{"old": false, "recent": true, "unrecorded": true, "touched": true} {
		if v, _ := c.Get(k); (v != nil) != want {
			t.Errorf("after Prune(30d): %s kept = %v, want %v", k, v != nil, want)
		}
	}
	if at := usedAt(t, c, "unrecorded"); time.Since(at) > time.Minute {
		t.Errorf("an unrecorded result was not stamped now: %v", at)
	}
	if _, ok := c.LookupDigest("old-archive"); ok {
		t.Error("an old remembered digest survived")
	}
	if res, err := c.Prune(0); err != nil || res.Kept != 0 || res.Removed != 3 || res.KeptDigests != 0 {
		t.Errorf("Prune(0) = %+v, %v", res, err)
	}
	if n, _ := c.Len(); n != 0 {
		t.Errorf("after Prune(0): %d entries", n)
	}
}
