package meta

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestTagsAndQueue(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "meta.db")
	m, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range []string{"b", "a", "c", "a1"} {
		if err := m.PutManifest(ctx, Manifest{Repo: "r", Digest: "sha256:" + tag, MediaType: "x", Size: 1}, nil, []string{tag}); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := m.Tags(ctx, "r", "a", 2); strings.Join(got, ",") != "a1,b" {
		t.Errorf("Tags after a, n=2 = %v", got)
	}
	if _, err := m.ResolveTag(ctx, "r", "zzz"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown tag: %v", err)
	}
	// The queue: claim, fail (retry later, not now), survive a reopen.
	m.Enqueue(ctx, "r", "sha256:a")
	m.Enqueue(ctx, "r", "sha256:a") // no duplicate
	j, err := m.Claim(ctx)
	if err != nil || j == nil || j.Digest != "sha256:a" {
		t.Fatalf("Claim = %+v, %v", j, err)
	}
	if err := m.Finish(ctx, j, nil, errors.New("db missing")); err != nil {
		t.Fatal(err)
	}
	if j2, _ := m.Claim(ctx); j2 != nil {
		t.Errorf("a failed job was retried at once: %+v", j2)
	}
	if st, last, _ := m.ScanState(ctx, "r", "sha256:a"); st != "queued" || last != "db missing" {
		t.Errorf("state %q %q", st, last)
	}
	m.Enqueue(ctx, "r", "sha256:b")
	j, _ = m.Claim(ctx)
	m.Close()
	m, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.RequeueRunning(ctx); err != nil {
		t.Fatal(err)
	}
	j, _ = m.Claim(ctx)
	if j == nil || j.Digest != "sha256:b" || j.Attempts != 1 {
		t.Fatalf("after reopen: %+v", j)
	}
	if err := m.Finish(ctx, j, []byte(`{"findings":[]}`), nil); err != nil {
		t.Fatal(err)
	}
	if b, _, err := m.ScanResult(ctx, "r", "sha256:b"); err != nil || string(b) != `{"findings":[]}` {
		t.Errorf("result %s %v", b, err)
	}
	if n, _ := m.RequeueScanned(ctx); n != 1 {
		t.Errorf("RequeueScanned = %d", n)
	}
}
