package registry_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wardensec/warden/internal/testsvc"
	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/registry/meta"
	"github.com/wardensec/warden/pkg/registry/storage"
)

// shared is one S3 server (SeaweedFS) and one PostgreSQL cluster, both real,
// that several registry replicas use.
type shared struct {
	s3  *testsvc.S3
	pg  *testsvc.PG
	url string // the --storage value
}

func newShared(t *testing.T) *shared {
	t.Helper()
	s3 := testsvc.SeaweedFS(t)
	pg := testsvc.Postgres(t)
	s3.SetEnv(t)
	var rnd [4]byte
	rand.Read(rnd[:])
	return &shared{s3: s3, pg: pg, url: s3.URL("warden-test", "reg-"+hex.EncodeToString(rnd[:]))}
}

// replica starts one registry on the shared S3 bucket and PostgreSQL
// database, with its own clients (as a separate process would have).
func (sh *shared) replica(t *testing.T, opt registry.Options) *testReg {
	t.Helper()
	ctx := context.Background()
	st, err := storage.OpenURL(ctx, sh.url, "")
	if err != nil {
		t.Fatal(err)
	}
	md, err := meta.OpenURL(ctx, sh.pg.DSN, "")
	if err != nil {
		t.Fatal(err)
	}
	opt.Store, opt.Meta = st, md
	return newTestReg(t, opt)
}

// roundRobin is a small load balancer: each request goes to the next backend.
func roundRobin(t *testing.T, backends ...*testReg) *httptest.Server {
	var n atomic.Uint64
	proxies := make([]*httputil.ReverseProxy, len(backends))
	for i, b := range backends {
		u, _ := url.Parse(b.srv.URL)
		proxies[i] = httputil.NewSingleHostReverseProxy(u)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proxies[n.Add(1)%uint64(len(proxies))].ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestConformanceReplicas runs the OCI conformance suite with 0 failures
// against a registry on S3 (SeaweedFS) + PostgreSQL, then against three such
// replicas behind a round-robin proxy: each request of a chunked upload, a
// push and its pulls lands on another replica.
func TestConformanceReplicas(t *testing.T) {
	bin := testutil.RequireTool(t, "conformance")
	sh := newShared(t)
	reps := []*testReg{sh.replica(t, registry.Options{}), sh.replica(t, registry.Options{}), sh.replica(t, registry.Options{})}
	optional := []string{
		"OCI_API_BLOBS_UPLOAD_CANCEL=true",
		"OCI_API_MANIFESTS_TAG_PARAM=true",
		"OCI_API_BLOBS_DIGEST_HEADER=true",
		"OCI_API_MANIFESTS_DIGEST_HEADER=true",
	}
	t.Run("s3-postgres", func(t *testing.T) {
		runConformance(t, bin, reps[0].host, "S3 + PostgreSQL", optional)
	})
	t.Run("round-robin-3-replicas", func(t *testing.T) {
		lb := roundRobin(t, reps...)
		runConformance(t, bin, strings.TrimPrefix(lb.URL, "http://"), "3 replicas round-robin", optional)
	})
}

// TestReplicaUploadMoves: POST on replica A, PATCH on B, PATCH on C, PUT on
// A; the blob is not visible before the PUT, and reads back whole from each.
func TestReplicaUploadMoves(t *testing.T) {
	sh := newShared(t)
	a, b, c := sh.replica(t, registry.Options{}), sh.replica(t, registry.Options{}), sh.replica(t, registry.Options{})
	blob := make([]byte, 11<<20+123) // two chunks of S3's minimum part size and a small tail
	rand.Read(blob)
	dig := storage.FromBytes("sha256", blob).String()
	resp := do(t, "POST", a.srv.URL+"/v2/moves/app/blobs/uploads/", nil)
	if resp.StatusCode != 202 {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	loc := resp.Header.Get("Location")
	chunks := []struct {
		r      *testReg
		lo, hi int
	}{{b, 0, 5 << 20}, {c, 5 << 20, 10 << 20}}
	for _, ch := range chunks {
		resp := do(t, "PATCH", ch.r.srv.URL+loc, blob[ch.lo:ch.hi], "Content-Range", rangeStr(ch.lo, ch.hi))
		if resp.StatusCode != 202 {
			t.Fatalf("PATCH %d-%d: %d", ch.lo, ch.hi, resp.StatusCode)
		}
	}
	if resp := do(t, "GET", b.srv.URL+loc, nil); resp.StatusCode != 204 || resp.Header.Get("Range") != rangeStr(0, 10<<20) {
		t.Fatalf("upload status through another replica: %d %q", resp.StatusCode, resp.Header.Get("Range"))
	}
	if resp := do(t, "HEAD", c.srv.URL+"/v2/moves/app/blobs/"+dig, nil); resp.StatusCode != 404 {
		t.Fatalf("blob visible before its upload finished: %d", resp.StatusCode)
	}
	// A wrong digest is refused and nothing appears under it.
	wrong := storage.FromBytes("sha256", []byte("not this")).String()
	resp = do(t, "PUT", b.srv.URL+loc+"?digest="+wrong, blob[10<<20:], "Content-Range", rangeStr(10<<20, len(blob)))
	if resp.StatusCode != 400 {
		t.Fatalf("PUT with a wrong digest: %d", resp.StatusCode)
	}
	if resp := do(t, "HEAD", a.srv.URL+"/v2/moves/app/blobs/"+wrong, nil); resp.StatusCode != 404 {
		t.Fatalf("wrong digest visible: %d", resp.StatusCode)
	}

	// Again, properly.
	resp = do(t, "POST", c.srv.URL+"/v2/moves/app/blobs/uploads/", nil)
	loc = resp.Header.Get("Location")
	for i, r := range []*testReg{a, b, c} {
		lo, hi := i*4<<20, min((i+1)*4<<20, len(blob))
		if i == 2 {
			hi = len(blob)
		}
		method := "PATCH"
		u := r.srv.URL + loc
		if i == 2 {
			method, u = "PUT", u+"?digest="+dig
		}
		resp := do(t, method, u, blob[lo:hi], "Content-Range", rangeStr(lo, hi))
		if want := map[bool]int{true: 201, false: 202}[i == 2]; resp.StatusCode != want {
			t.Fatalf("%s on replica %d: %d, want %d", method, i, resp.StatusCode, want)
		}
	}
	for i, r := range []*testReg{a, b, c} {
		resp := do(t, "GET", r.srv.URL+"/v2/moves/app/blobs/"+dig, nil)
		got := readAll(t, resp)
		if resp.StatusCode != 200 || !bytes.Equal(got, blob) {
			t.Fatalf("GET through replica %d: %d, %d bytes (want %d)", i, resp.StatusCode, len(got), len(blob))
		}
		// Ranged GET.
		resp = do(t, "GET", r.srv.URL+"/v2/moves/app/blobs/"+dig, nil, "Range", "bytes=7340032-7340041")
		if got := readAll(t, resp); resp.StatusCode != 206 || !bytes.Equal(got, blob[7340032:7340042]) {
			t.Fatalf("ranged GET through replica %d: %d %x", i, resp.StatusCode, got)
		}
	}
}

// TestReplicaRedirect: with Redirect on, a blob GET is a 307 to a presigned
// S3 URL that serves the blob; the repository link is still checked first.
func TestReplicaRedirect(t *testing.T) {
	sh := newShared(t)
	r := sh.replica(t, registry.Options{Redirect: true})
	blob := []byte("redirected blob " + t.Name())
	dig := storage.FromBytes("sha256", blob).String()
	if resp := do(t, "POST", r.srv.URL+"/v2/redir/app/blobs/uploads/?digest="+dig, blob); resp.StatusCode != 201 {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(r.srv.URL + "/v2/redir/app/blobs/" + dig)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 307 || !strings.HasPrefix(loc, sh.s3.Endpoint) || !strings.Contains(loc, "X-Amz-Signature=") {
		t.Fatalf("GET: %d Location %q", resp.StatusCode, loc)
	}
	resp, err = http.Get(r.srv.URL + "/v2/redir/app/blobs/" + dig) // following it
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, resp); resp.StatusCode != 200 || !bytes.Equal(got, blob) {
		t.Fatalf("following the redirect: %d %q", resp.StatusCode, got)
	}
	if resp := do(t, "GET", r.srv.URL+"/v2/other/app/blobs/"+dig, nil); resp.StatusCode != 404 {
		t.Fatalf("blob of another repository: %d", resp.StatusCode)
	}
}

// TestDockerReplicas: docker push through replica 1, docker pull through
// replica 2, and a pull the gate denies through replica 3, with its reasons.
func TestDockerReplicas(t *testing.T) {
	testutil.RequireDocker(t)
	sh := newShared(t)
	var rs []*testReg
	for range 3 {
		rs = append(rs, sh.replica(t, registry.Options{Gate: &fakeGate{}}))
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	img := dockerImage(t, "hello from three replicas "+id+"\n")
	push1 := rs[0].host + "/dev/replicas:" + id
	pull2 := rs[1].host + "/dev/replicas:" + id
	prod1 := rs[0].host + "/prod/replicas:" + id
	prod3 := rs[2].host + "/prod/replicas:" + id
	tag, _ := name.NewTag(push1, name.Insecure)
	archive := filepath.Join(t.TempDir(), "img.tar")
	if err := tarball.WriteToFile(archive, tag, img); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { docker(t, "rmi", "-f", push1, pull2, prod1, prod3) })
	for _, args := range [][]string{
		{"load", "-i", archive},
		{"tag", push1, prod1},
		{"push", push1},
		{"push", prod1},
		{"rmi", push1, prod1},
		{"pull", pull2},
	} {
		if out, err := docker(t, args...); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	if out, _ := docker(t, "image", "inspect", "--format", "{{json .RepoDigests}}", pull2); !strings.Contains(out, "sha256:") {
		t.Errorf("image pulled through replica 2 has no digest: %s", out)
	}
	out, err := docker(t, "pull", prod3)
	if err == nil {
		t.Fatalf("docker pull of a denied image through replica 3 succeeded:\n%s", out)
	}
	for _, w := range []string{"warden policy denied", "CVE-2024-9143", "no valid signature"} {
		if !strings.Contains(out, w) {
			t.Errorf("docker pull output lacks %q:\n%s", w, out)
		}
	}
}

func rangeStr(lo, hi int) string { return strconv.Itoa(lo) + "-" + strconv.Itoa(hi-1) }

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScanQueueReplicas: 100 images sharing a base layer are queued, then
// drained by 1 replica and, separately, by 3; every image is scanned exactly
// once either way. The scanner reads every layer of the image from S3 and
// hashes it (the I/O a real scan does; matching is not in it). It logs the
// throughput of each.
func TestScanQueueReplicas(t *testing.T) {
	sh := newShared(t)
	ctx := context.Background()
	base := make([]byte, 2<<20)
	rand.Read(base)
	rates := map[int]float64{}
	for _, n := range []int{1, 3} {
		sh.url = sh.s3.URL("warden-test", fmt.Sprintf("scanq-%d", n))
		sh.pg.DSN = sh.pg.CreateDB(t, fmt.Sprintf("scanq%d", n))
		pusher := sh.replica(t, registry.Options{})
		var want []string
		for i := 0; i < 100; i++ {
			layer := make([]byte, 64<<10)
			rand.Read(layer)
			config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","i":%d}`, i))
			for _, b := range [][]byte{base, layer, config} {
				if _, err := pushBlob(pusher.srv.URL, "scanq/app", b); err != nil {
					t.Fatal(err)
				}
			}
			d, err := pushImage(pusher.srv.URL, "scanq/app", fmt.Sprint(i), config, base, layer)
			if err != nil {
				t.Fatal(err)
			}
			if err := pusher.Meta().Enqueue(ctx, "scanq/app", d); err != nil {
				t.Fatal(err)
			}
			want = append(want, d)
		}
		var mu sync.Mutex
		scans := map[string]int{}
		scanner := registry.ScannerFunc(func(ctx context.Context, repo string, d v1.Hash, img v1.Image) (*registry.ScanResult, error) {
			ls, err := img.Layers()
			if err != nil {
				return nil, err
			}
			for _, l := range ls {
				rc, err := l.Compressed()
				if err != nil {
					return nil, err
				}
				h := sha256.New()
				_, err = io.Copy(h, rc)
				rc.Close()
				if err != nil {
					return nil, err
				}
			}
			mu.Lock()
			scans[d.String()]++
			mu.Unlock()
			return &registry.ScanResult{Scanner: "layer-reader", Packages: len(ls)}, nil
		})
		start := time.Now()
		for range n {
			sh.replica(t, registry.Options{Scanner: scanner})
		}
		for {
			left, err := pusher.Meta().QueueLength(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if left == 0 {
				break
			}
			if time.Since(start) > 3*time.Minute {
				t.Fatalf("%d replicas: %d scans still queued after 3 minutes", n, left)
			}
			time.Sleep(20 * time.Millisecond)
		}
		took := time.Since(start)
		mu.Lock()
		for _, d := range want {
			if scans[d] != 1 {
				t.Errorf("%d replicas: image %s scanned %d times", n, d, scans[d])
			}
			if st, _, _ := pusher.Meta().ScanState(ctx, "scanq/app", d); st != "done" {
				t.Errorf("%d replicas: image %s is %q", n, d, st)
			}
		}
		mu.Unlock()
		rates[n] = 100 / took.Seconds()
		line := fmt.Sprintf("scan queue, 100 images sharing a 2 MiB base layer, on S3 + PostgreSQL: %d replica(s) drained it in %v (%.1f images/s)", n, took.Round(time.Millisecond), rates[n])
		t.Log(line)
		appendSummary(t, line)
	}
	t.Logf("3 replicas / 1 replica throughput: %.2fx", rates[3]/rates[1])
}

// TestReplicaPostgresRestart: PostgreSQL is restarted while clients push
// through two replicas that also scan. Clients see at worst 5xx answers
// (retriable); every push that was answered 201 reads back whole afterwards,
// and the scan queue drains: every pushed image is scanned.
func TestReplicaPostgresRestart(t *testing.T) {
	sh := newShared(t)
	ctx := context.Background()
	scanner := registry.ScannerFunc(func(ctx context.Context, repo string, d v1.Hash, img v1.Image) (*registry.ScanResult, error) {
		return &registry.ScanResult{Scanner: "noop"}, nil
	})
	regs := []*testReg{sh.replica(t, registry.Options{Scanner: scanner}), sh.replica(t, registry.Options{Scanner: scanner})}
	for _, r := range regs { // a claim lost with the connection is taken again soon
		r.Meta().SetLease(3 * time.Second)
	}
	type pushed struct{ tag, digest string }
	var mu sync.Mutex
	var ok []pushed
	var failures []string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				u := regs[(c+i)%2].srv.URL
				layer := make([]byte, 8<<10)
				rand.Read(layer)
				config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","c":%d,"i":%d}`, c, i))
				_, err := pushBlob(u, "pgrestart/app", layer)
				if err == nil {
					_, err = pushBlob(u, "pgrestart/app", config)
				}
				var d string
				if err == nil {
					d, err = pushImage(u, "pgrestart/app", fmt.Sprintf("c%d-%d", c, i), config, layer)
				}
				mu.Lock()
				if err == nil {
					ok = append(ok, pushed{fmt.Sprintf("c%d-%d", c, i), d})
				} else {
					failures = append(failures, err.Error())
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(100 * time.Millisecond) // a client backing off before its retry
				}
			}
		}()
	}
	time.Sleep(2 * time.Second)
	sh.pg.Stop(t)
	time.Sleep(time.Second)
	sh.pg.Start(t)
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d pushes answered 201, %d failed while PostgreSQL restarted", len(ok), len(failures))
	for _, f := range failures {
		if !strings.Contains(f, ": 50") { // 500, 502, 503: a server error the client may retry
			t.Errorf("a push failed with other than a 5xx: %s", f)
		}
	}
	if len(ok) == 0 {
		t.Fatal("no push succeeded")
	}
	for _, p := range ok {
		resp := do(t, "GET", regs[1].srv.URL+"/v2/pgrestart/app/manifests/"+p.tag, nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
		if b := readAll(t, resp); resp.StatusCode != 200 || storage.FromBytes("sha256", b).String() != p.digest {
			t.Fatalf("image %s pushed before/after the restart: %d", p.tag, resp.StatusCode)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for {
		left, err := regs[0].Meta().QueueLength(ctx)
		if err == nil && left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the scan queue did not drain after the restart: %d left (%v)", left, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range ok {
		if st, _, err := regs[0].Meta().ScanState(ctx, "pgrestart/app", p.digest); err != nil || st != "done" {
			t.Errorf("image %s: scan state %q %v", p.tag, st, err)
		}
	}
}
