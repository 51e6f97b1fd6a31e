package feeds

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

// fakeNVD serves real NVD records (testdata/feeds/nvd and the corpus's) in the
// CVE API 2.0 page shape: the whole list, or for a lastModified window the
// records given by window.
type fakeNVD struct {
	mu      sync.Mutex
	all     []json.RawMessage
	window  []json.RawMessage
	failAt  int // a full download answers 503 at this startIndex (-1: never)
	queries []string
	keys    []string
}

func (f *fakeNVD) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	f.queries = append(f.queries, r.URL.RawQuery)
	f.keys = append(f.keys, r.Header.Get("apiKey"))
	start, _ := strconv.Atoi(q.Get("startIndex"))
	size, _ := strconv.Atoi(q.Get("resultsPerPage"))
	recs := f.all
	if q.Get("lastModStartDate") != "" {
		recs = f.window
	} else if start == f.failAt {
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	end := min(start+size, len(recs))
	var page []map[string]json.RawMessage
	for _, c := range recs[min(start, end):end] {
		page = append(page, map[string]json.RawMessage{"cve": c})
	}
	json.NewEncoder(w).Encode(map[string]any{"resultsPerPage": len(page), "startIndex": start, "totalResults": len(recs),
		"format": "NVD_CVE", "version": "2.0", "vulnerabilities": page})
}

func (f *fakeNVD) take() ([]string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q, k := f.queries, f.keys
	f.queries, f.keys = nil, nil
	return q, k
}

func readRecord(t *testing.T, path string) json.RawMessage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestNVDIncremental: a full download cut off by the API resumes at its page
// on the next update; later updates ask only for lastModified windows of at
// most 120 days from the last sync, send NVD_API_KEY, and merge what they get.
func TestNVDIncremental(t *testing.T) {
	oldDelay, oldKeyDelay, oldSize, oldRetries := NVDPageDelay, NVDPageDelayWithKey, NVDPageSize, NVDRetries
	NVDPageDelay, NVDPageDelayWithKey, NVDPageSize, NVDRetries = time.Millisecond, time.Millisecond, 1, 1
	t.Cleanup(func() {
		NVDPageDelay, NVDPageDelayWithKey, NVDPageSize, NVDRetries = oldDelay, oldKeyDelay, oldSize, oldRetries
	})

	root := testutil.RepoRoot(t)
	r44906 := readRecord(t, filepath.Join(testutil.Corpus(t), "feeds", "nvd-api2", "CVE-2021-44906.json"))
	r6119 := readRecord(t, filepath.Join(root, "testdata", "feeds", "nvd", "CVE-2024-6119.json"))
	r9143 := readRecord(t, filepath.Join(root, "testdata", "feeds", "nvd", "CVE-2024-9143.json"))
	api := &fakeNVD{all: []json.RawMessage{r44906, r6119, r9143}, window: []json.RawMessage{r6119}, failAt: 1}
	srv := httptest.NewServer(api)
	defer srv.Close()
	nvdFeed := Feed{Name: "nvd", Kind: feed.KindNVD, URLs: []string{srv.URL + "/rest/json/cves/2.0"}}
	path := filepath.Join(t.TempDir(), "db")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	run := func() FeedResult {
		t.Helper()
		res, err := Update(context.Background(), path, UpdateOptions{Feeds: []Feed{nvdFeed}, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	scores := func() map[string]int {
		db, err := vulndb.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		out := map[string]int{}
		for _, id := range []string{"CVE-2021-44906", "CVE-2024-6119"} {
			cs, _ := db.Scores(id)
			out[id] = len(cs)
		}
		return out
	}

	// 1: the API fails at the second page; the first is kept.
	res := run()
	if res.Err != nil || !strings.Contains(strings.Join(res.Warnings, "\n"), "the next update resumes there") {
		t.Fatalf("cut-off download: %v %v", res.Err, res.Warnings)
	}
	if s := scores(); s["CVE-2021-44906"] != 2 || s["CVE-2024-6119"] != 0 {
		t.Fatalf("after the cut-off download: %v", s)
	}
	api.take()

	// 2: resumes at startIndex 1 (not from the start).
	api.failAt = -1
	res = run()
	qs, _ := api.take()
	if res.Err != nil || len(qs) != 2 || !strings.Contains(qs[0], "startIndex=1") {
		t.Fatalf("resumed download: %v, queries %v", res.Err, qs)
	}
	if s := scores(); s["CVE-2021-44906"] != 2 || s["CVE-2024-6119"] != 1 {
		t.Fatalf("after the resumed download: %v", s)
	}

	// 3: 200 days later, with a key: two windows (120 + 80 days) from the
	// first run's start, merged (CVE-2021-44906 stays).
	synced := now
	now = now.Add(200 * 24 * time.Hour)
	t.Setenv("NVD_API_KEY", "test-key")
	res = run()
	qs, keys := api.take()
	if res.Err != nil || len(qs) != 2 {
		t.Fatalf("incremental update: %v, queries %v", res.Err, qs)
	}
	mid := synced.Add(120 * 24 * time.Hour)
	for i, w := range [][2]time.Time{{synced, mid}, {mid, now}} {
		want := fmt.Sprintf("lastModEndDate=%s&lastModStartDate=%s", urlQ(nvdTime(w[1])), urlQ(nvdTime(w[0])))
		if !strings.HasPrefix(qs[i], want) {
			t.Errorf("window %d: query %q, want it to start with %q", i, qs[i], want)
		}
		if keys[i] != "test-key" {
			t.Errorf("window %d: apiKey header %q", i, keys[i])
		}
	}
	if s := scores(); s["CVE-2021-44906"] != 2 || s["CVE-2024-6119"] != 1 {
		t.Fatalf("the incremental update did not merge: %v", s)
	}

	// 4: nothing new since: one window, synced to now again.
	res = run()
	if qs, _ := api.take(); res.Err != nil || len(qs) != 0 {
		t.Fatalf("update with nothing due: %v, queries %v", res.Err, qs)
	}
}

func urlQ(s string) string { return strings.NewReplacer(":", "%3A", "+", "%2B").Replace(s) }
