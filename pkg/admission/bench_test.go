package admission

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testpolicy"
	"github.com/wardensec/warden/pkg/policy/imagegate"
)

// Numbers in the branch note (go test ./pkg/admission -run XXX -bench . -benchtime 200x):
// the review of a Pod with one signed image on a loopback registry, through
// the webhook's HTTP handler; p50/p99 are of the single reviews.

func benchReviews(b *testing.B, ttl, resolve time.Duration, concurrent int) {
	f := testpolicy.New(b)
	gate := imagegate.New(imagegate.Options{Policy: f.Policy, CacheTTL: ttl, ResolveTTL: resolve, Timeout: 30 * time.Second})
	srv := httptest.NewServer(New(Options{Gate: gate}))
	defer srv.Close()
	spec := podSpec(f.Signed, f.Signed, "")
	spec.InitContainers = nil // one image
	obj, gvk, _ := workload("Pod", spec)
	body := review(b, obj, gvk, "prod")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrent}}
	one := func() time.Duration {
		start := time.Now()
		res, err := client.Post(srv.URL+"/validate", "application/json", bytes.NewReader(body))
		if err != nil {
			b.Error(err)
			return 0
		}
		var buf bytes.Buffer
		buf.ReadFrom(res.Body)
		res.Body.Close()
		if !strings.Contains(buf.String(), `"allowed":true`) {
			b.Errorf("not admitted: %s", buf.String())
		}
		return time.Since(start)
	}
	one() // warm: connections, and the cache when there is one
	// The peak resident set of the reviews, not of the fixture's making
	// (scrypt for the signing key alone takes 32 MiB): the fixture's garbage
	// is returned to the kernel, then writing 5 to clear_refs resets VmHWM
	// to the current RSS, which is reported as rss-before-MB.
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	before := peakRSS()
	var mu sync.Mutex
	var lat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var wg sync.WaitGroup
		for j := 0; j < concurrent; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := one()
				mu.Lock()
				lat = append(lat, d)
				mu.Unlock()
			}()
		}
		wg.Wait()
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) float64 {
		return float64(lat[int(float64(len(lat)-1)*p)].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	if rss := peakRSS(); rss > 0 {
		b.ReportMetric(float64(rss)/(1<<20), "peak-rss-MB")
		b.ReportMetric(float64(before)/(1<<20), "rss-before-MB")
	}
}

// peakRSS is the process's peak resident set (VmHWM), in bytes; 0 when unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkReviewUncached: every review resolves the tag and verifies the
// signature at the registry (budget: p99 ≤ 50 ms).
func BenchmarkReviewUncached(b *testing.B) { benchReviews(b, 0, 0, 1) }

// BenchmarkReviewCached: the digest's decision is cached; the tag is still
// resolved at the registry (the default, resolve_ttl 0).
func BenchmarkReviewCached(b *testing.B) { benchReviews(b, time.Hour, 0, 1) }

// BenchmarkReviewCachedResolved: the decision and the tag's digest are
// cached (resolve_ttl): no registry request (budget: p99 ≤ 2 ms).
func BenchmarkReviewCachedResolved(b *testing.B) { benchReviews(b, time.Hour, time.Minute, 1) }

// BenchmarkReview200Concurrent: 200 reviews at once, uncached.
func BenchmarkReview200Concurrent(b *testing.B) { benchReviews(b, 0, 0, 200) }

// BenchmarkReview200ConcurrentCached: 200 reviews at once, cached.
func BenchmarkReview200ConcurrentCached(b *testing.B) { benchReviews(b, time.Hour, 0, 200) }

// BenchmarkReview200ConcurrentCachedResolved: 200 reviews at once, the
// decision and the tag's digest cached.
func BenchmarkReview200ConcurrentCachedResolved(b *testing.B) {
	benchReviews(b, time.Hour, time.Minute, 200)
}
