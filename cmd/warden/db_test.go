package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/cachedir"
	"github.com/wardensec/warden/pkg/vulndb"
)

func feedsDir(t *testing.T) string {
	return filepath.Join(testutil.RepoRoot(t), "testdata", "feeds")
}

func TestDBImportStatusExport(t *testing.T) {
	dir := t.TempDir()
	feeds := feedsDir(t)
	out, stderr, code := runWardenCmd(t, "--cache-dir", dir, "db", "import", feeds+"/alpine-secdb", "debian-json:"+feeds+"/debian-bookworm-slice.json")
	if code != 0 {
		t.Fatalf("db import: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"alpine-secdb", "debian-tracker", "imported in"} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	out, stderr, code = runWardenCmd(t, "--cache-dir", dir, "db", "status")
	if code != 0 || !strings.Contains(out, "alpine:3.19") || !strings.Contains(out, "debian:12") || !strings.Contains(out, " AGE ") || strings.Contains(stderr, "older than") {
		t.Errorf("db status: exit %d\n%s\n%s", code, out, stderr)
	}
	out, _, code = runWardenCmd(t, "--cache-dir", dir, "db", "status", "--json")
	var st vulndb.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != 0 || len(st.Imports) != 2 || st.Schema != vulndb.SchemaVersion {
		t.Errorf("db status --json: exit %d, %v: %s", code, err, out)
	}
	bundle := filepath.Join(t.TempDir(), "warden-db.bundle")
	if _, stderr, code := runWardenCmd(t, "--cache-dir", dir, "db", "export", bundle); code != 0 {
		t.Fatalf("db export: exit %d: %s", code, stderr)
	}
	// An air-gapped site loads the bundle.
	other := t.TempDir()
	if _, stderr, code := runWardenCmd(t, "--cache-dir", other, "db", "import", bundle); code != 0 {
		t.Fatalf("db import bundle: exit %d: %s", code, stderr)
	}
	db, err := vulndb.Open(cachedir.DBPath(other))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	advs, err := db.Lookup(context.Background(), "alpine:3.19", "openssl")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, a := range advs {
		found = found || (a.ID == "CVE-2024-9143" && a.FixedVersion == "3.1.7-r1")
	}
	if !found {
		t.Errorf("CVE-2024-9143 not in the imported bundle (%d advisories)", len(advs))
	}
}

func TestDBErrors(t *testing.T) {
	dir := t.TempDir()
	_, stderr, code := runWardenCmd(t, "--cache-dir", dir, "db", "status")
	if code != exitError || !strings.Contains(stderr, "warden db update") {
		t.Errorf("status without a database: exit %d: %s", code, stderr)
	}
	bad := filepath.Join(dir, "x.txt")
	os.WriteFile(bad, []byte("hello"), 0o644)
	_, stderr, code = runWardenCmd(t, "--cache-dir", dir, "db", "import", bad)
	if code != exitError || !strings.Contains(stderr, "KIND:PATH") {
		t.Errorf("import of an unknown file: exit %d: %s", code, stderr)
	}
	if _, err := os.Stat(cachedir.DBPath(dir)); err == nil {
		t.Error("a failed import created a database")
	}
}

func TestDBStatusStale(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-10 * 24 * time.Hour)
	err := vulndb.Update(context.Background(), cachedir.DBPath(dir), vulndb.UpdateOptions{Now: func() time.Time { return old }}, func(ctx context.Context, w *vulndb.Writer) error {
		return w.Put(&vulndb.Batch{Source: "osv-npm", Records: 1, Advisories: []vulndb.Advisory{{ID: "GHSA-1", Namespace: "npm", Package: "x", Status: vulndb.StatusUnfixed}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	_, stderr, code := runWardenCmd(t, "--cache-dir", dir, "db", "status")
	if code != 0 || !strings.Contains(stderr, "older than 7 days: osv-npm") {
		t.Errorf("stale status: exit %d: %s", code, stderr)
	}
}

func TestDBUpdateMirror(t *testing.T) {
	feeds := feedsDir(t)
	// The mirror layout puts Alpine at alpine/vX.Y/{main,community}.json.
	mux := http.NewServeMux()
	mux.Handle("/alpine/", http.StripPrefix("/alpine", http.FileServer(http.Dir(filepath.Join(feeds, "alpine-secdb")))))
	mirror := httptest.NewServer(mux)
	defer mirror.Close()
	dir := t.TempDir()
	out, stderr, code := runWardenCmd(t, "--cache-dir", dir, "db", "update", "--mirror", mirror.URL, "--feed", "alpine-v3.19", "--feed", "alpine-v3.20")
	// v3.20 is not on the mirror: that feed fails, v3.19 is updated, exit 1.
	if code != exitError || !strings.Contains(out, "alpine-v3.19  updated") || !strings.Contains(out, "alpine-v3.20  FAILED") || !strings.Contains(stderr, "404") {
		t.Errorf("db update: exit %d\n%s\n%s", code, out, stderr)
	}
	out, _, code = runWardenCmd(t, "--cache-dir", dir, "db", "update", "--mirror", mirror.URL, "--feed", "alpine-v3.19")
	if code != 0 || !strings.Contains(out, "not modified") {
		t.Errorf("second db update: exit %d\n%s", code, out)
	}
	_, stderr, code = runWardenCmd(t, "--cache-dir", dir, "db", "update", "--feed", "nope")
	if code != exitError || !strings.Contains(stderr, "unknown feed") {
		t.Errorf("unknown feed: exit %d: %s", code, stderr)
	}
}
