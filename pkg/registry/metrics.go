package registry

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// metrics are counters exposed in the Prometheus text format at /metrics.
type metrics struct {
	mu          sync.Mutex
	requests    map[string]int64 // "method code" -> count
	reqSeconds  float64
	bytesOut    int64
	blobsPushed int64
	bytesIn     int64
	manPushed   int64
	manPulled   int64
	denials     int64
	scansOK     int64
	scansFailed int64
	scanSeconds float64
}

func newMetrics() *metrics { return &metrics{requests: map[string]int64{}} }

func (m *metrics) observe(method string, code int, n int64, d time.Duration) {
	m.mu.Lock()
	m.requests[fmt.Sprintf("%s\x00%d", method, code)]++
	m.reqSeconds += d.Seconds()
	m.bytesOut += n
	m.mu.Unlock()
}

func (m *metrics) blobPushed(n int64) {
	m.mu.Lock()
	m.blobsPushed++
	m.bytesIn += n
	m.mu.Unlock()
}
func (m *metrics) manifestPushed() { m.mu.Lock(); m.manPushed++; m.mu.Unlock() }
func (m *metrics) manifestPulled() { m.mu.Lock(); m.manPulled++; m.mu.Unlock() }
func (m *metrics) denied()         { m.mu.Lock(); m.denials++; m.mu.Unlock() }
func (m *metrics) scanned(ok bool, d time.Duration) {
	m.mu.Lock()
	if ok {
		m.scansOK++
	} else {
		m.scansFailed++
	}
	m.scanSeconds += d.Seconds()
	m.mu.Unlock()
}

// MetricsHandler serves the registry's counters in the Prometheus text format.
func (r *Registry) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		r.writeMetrics(w, req)
	})
}

func (r *Registry) writeMetrics(w io.Writer, req *http.Request) {
	m := r.metrics
	m.mu.Lock()
	keys := make([]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintln(w, "# HELP warden_registry_requests_total HTTP requests to the registry API by method and status code.")
	fmt.Fprintln(w, "# TYPE warden_registry_requests_total counter")
	for _, k := range keys {
		var method string
		var code int
		for i := 0; i < len(k); i++ {
			if k[i] == 0 {
				method = k[:i]
				fmt.Sscanf(k[i+1:], "%d", &code)
				break
			}
		}
		fmt.Fprintf(w, "warden_registry_requests_total{method=%q,code=\"%d\"} %d\n", method, code, m.requests[k])
	}
	counter := func(name, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %v\n", name, help, name, name, v)
	}
	counter("warden_registry_request_seconds_total", "Time spent serving registry requests.", m.reqSeconds)
	counter("warden_registry_sent_bytes_total", "Bytes sent in registry responses.", m.bytesOut)
	counter("warden_registry_blobs_pushed_total", "Blobs committed by uploads.", m.blobsPushed)
	counter("warden_registry_received_blob_bytes_total", "Bytes of committed blobs.", m.bytesIn)
	counter("warden_registry_manifests_pushed_total", "Manifests pushed.", m.manPushed)
	counter("warden_registry_manifests_pulled_total", "Manifests served by GET.", m.manPulled)
	counter("warden_registry_pulls_denied_total", "Manifest pulls refused by the policy gate.", m.denials)
	fmt.Fprintf(w, "# HELP warden_registry_scans_total Background scans by result.\n# TYPE warden_registry_scans_total counter\n")
	fmt.Fprintf(w, "warden_registry_scans_total{result=\"ok\"} %d\nwarden_registry_scans_total{result=\"failed\"} %d\n", m.scansOK, m.scansFailed)
	counter("warden_registry_scan_seconds_total", "Time spent scanning.", m.scanSeconds)
	m.mu.Unlock()
	if n, err := r.meta.QueueLength(req.Context()); err == nil {
		fmt.Fprintf(w, "# HELP warden_registry_scan_queue_length Manifests queued or being scanned.\n# TYPE warden_registry_scan_queue_length gauge\nwarden_registry_scan_queue_length %d\n", n)
	}
}
