package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/layercache"
)

// TestCacheStatusAndPrune: a scan fills the layer cache, `cache status`
// counts it, `cache prune` keeps what was just used and `--older-than 0`
// empties it.
func TestCacheStatusAndPrune(t *testing.T) {
	image := filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4")
	cache := t.TempDir()
	if _, stderr, code := runWardenCmd(t, "sbom", image, "--cache-dir", cache); code != 0 {
		t.Fatalf("sbom: exit %d: %s", code, stderr)
	}
	status := func() layercache.Stats {
		t.Helper()
		out, stderr, code := runWardenCmd(t, "cache", "status", "--json", "--cache-dir", cache)
		if code != 0 {
			t.Fatalf("cache status: exit %d: %s", code, stderr)
		}
		var st layercache.Stats
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("cache status --json: %v\n%s", err, out)
		}
		return st
	}
	if st := status(); st.Results != 1 || st.Size == 0 || !strings.HasPrefix(st.Path, cache) {
		t.Fatalf("after one scan of a one-layer image: %+v", st)
	}
	out, _, code := runWardenCmd(t, "cache", "prune", "--cache-dir", cache)
	if code != 0 || !strings.Contains(out, "removed 0 layer results (1 kept)") {
		t.Fatalf("prune of a fresh cache: exit %d: %s", code, out)
	}
	out, _, code = runWardenCmd(t, "cache", "prune", "--older-than", "0", "--cache-dir", cache)
	if code != 0 || !strings.Contains(out, "removed 1 layer results (0 kept)") {
		t.Fatalf("prune --older-than 0: exit %d: %s", code, out)
	}
	if st := status(); st.Results != 0 {
		t.Fatalf("after prune --older-than 0: %+v", st)
	}
	if _, stderr, code := runWardenCmd(t, "cache", "prune", "--older-than", "-1h", "--cache-dir", cache); code != exitError || !strings.Contains(stderr, "must not be negative") {
		t.Fatalf("negative age: exit %d: %s", code, stderr)
	}
}
