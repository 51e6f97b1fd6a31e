package meta

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testsvc"
)

// engines opens two handles on one fresh database of each engine (two
// handles: two registry processes sharing it).
func engines(t *testing.T) map[string]func(t *testing.T) (*DB, *DB) {
	return map[string]func(t *testing.T) (*DB, *DB){
		"sqlite": func(t *testing.T) (*DB, *DB) {
			p := filepath.Join(t.TempDir(), "meta.db")
			a, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close(); b.Close() })
			return a, b
		},
		"postgres": func(t *testing.T) (*DB, *DB) {
			pg := testsvc.Postgres(t)
			ctx := context.Background()
			var dbs [2]*DB
			var errs [2]error
			var wg sync.WaitGroup
			for i := range dbs { // two processes migrating at once
				wg.Add(1)
				go func() { defer wg.Done(); dbs[i], errs[i] = OpenURL(ctx, pg.DSN, "") }()
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() { dbs[0].Close(); dbs[1].Close() })
			return dbs[0], dbs[1]
		},
	}
}

func TestEngines(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a, b := open(t)
			if v, err := b.SchemaVersion(ctx); err != nil || v != len(migrations) {
				t.Fatalf("schema version %d, %v; want %d", v, err, len(migrations))
			}
			if a.Postgres() != (name == "postgres") {
				t.Errorf("Postgres() = %v", a.Postgres())
			}

			// Tags list in bytewise order whatever the server's locale.
			for _, tag := range []string{"b", "a", "B", "a1", "_x"} {
				if err := a.PutManifest(ctx, Manifest{Repo: "r", Digest: "sha256:" + tag, MediaType: "x", Size: 1 << 40}, []string{"sha256:l"}, []string{tag}); err != nil {
					t.Fatal(err)
				}
			}
			// Written again (the same manifest pushed twice): no duplicate.
			if err := b.PutManifest(ctx, Manifest{Repo: "r", Digest: "sha256:a", MediaType: "y", Size: 2}, []string{"sha256:l"}, []string{"a"}); err != nil {
				t.Fatal(err)
			}
			if got, _ := b.Tags(ctx, "r", "", 0); strings.Join(got, ",") != "B,_x,a,a1,b" {
				t.Errorf("Tags = %v", got)
			}
			if got, _ := b.Tags(ctx, "r", "a", 2); strings.Join(got, ",") != "a1,b" {
				t.Errorf("Tags after a, n=2 = %v", got)
			}
			if man, err := b.GetManifest(ctx, "r", "sha256:B"); err != nil || man.Size != 1<<40 {
				t.Errorf("GetManifest = %+v, %v (sizes are 64-bit)", man, err)
			}
			if man, _ := a.GetManifest(ctx, "r", "sha256:a"); man.MediaType != "y" {
				t.Errorf("re-put manifest media type %q", man.MediaType)
			}

			// Upload sessions started through one process are found through the other.
			if err := a.AddUpload(ctx, "up-1", "r"); err != nil {
				t.Fatal(err)
			}
			if repo, err := b.UploadRepo(ctx, "up-1"); err != nil || repo != "r" {
				t.Errorf("UploadRepo through b = %q, %v", repo, err)
			}

			// Once: the first caller of a key wins, in either process.
			if ok, err := a.Once(ctx, "rematch:1"); !ok || err != nil {
				t.Errorf("first Once = %v, %v", ok, err)
			}
			if ok, err := b.Once(ctx, "rematch:1"); ok || err != nil {
				t.Errorf("second Once = %v, %v", ok, err)
			}
		})
	}
}

// TestQueueShared: two processes claiming concurrently take every job exactly
// once; a job whose holder died is taken again after its lease.
func TestQueueShared(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			a, b := open(t)
			const jobs = 60
			for i := 0; i < jobs; i++ {
				if err := a.Enqueue(ctx, "r", fmt.Sprintf("sha256:%03d", i)); err != nil {
					t.Fatal(err)
				}
			}
			var mu sync.Mutex
			seen := map[string]int{}
			var wg sync.WaitGroup
			errs := make(chan error, 8)
			for w := 0; w < 8; w++ {
				db := a
				if w%2 == 1 {
					db = b
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						j, err := db.Claim(ctx)
						if err != nil {
							errs <- err
							return
						}
						if j == nil {
							return
						}
						mu.Lock()
						seen[j.Digest]++
						mu.Unlock()
						if err := db.Finish(ctx, j, []byte(`{}`), nil); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if len(seen) != jobs {
				t.Errorf("%d distinct jobs claimed, want %d", len(seen), jobs)
			}
			for d, n := range seen {
				if n != 1 {
					t.Errorf("%s claimed %d times", d, n)
				}
			}

			// A crashed holder: a claims and never finishes.
			a.SetLease(time.Second)
			b.SetLease(time.Second)
			a.Enqueue(ctx, "r", "sha256:crash")
			j, err := a.Claim(ctx)
			if err != nil || j == nil || j.Digest != "sha256:crash" {
				t.Fatalf("Claim = %+v, %v", j, err)
			}
			if j2, _ := b.Claim(ctx); j2 != nil {
				t.Fatalf("a job under a live lease was claimed again: %+v", j2)
			}
			time.Sleep(2100 * time.Millisecond)
			j2, err := b.Claim(ctx)
			if err != nil || j2 == nil || j2.Digest != "sha256:crash" || j2.Attempts != 1 {
				t.Fatalf("after the lease: %+v, %v", j2, err)
			}
			if err := b.Finish(ctx, j2, []byte(`{"findings":[]}`), nil); err != nil {
				t.Fatal(err)
			}
			if st, _, _ := a.ScanState(ctx, "r", "sha256:crash"); st != "done" {
				t.Errorf("state %q", st)
			}
		})
	}
}
