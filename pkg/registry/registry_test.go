package registry_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/registry/gc"
)

type testReg struct {
	*registry.Registry
	srv  *httptest.Server
	host string
	root string
}

func newTestReg(t *testing.T, opt registry.Options) *testReg {
	t.Helper()
	if opt.Root == "" {
		opt.Root = t.TempDir()
	}
	reg, err := registry.New(opt)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v2/", reg)
	mux.Handle("/api/v1/", reg.APIHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); reg.Close() })
	return &testReg{Registry: reg, srv: srv, host: strings.TrimPrefix(srv.URL, "http://"), root: opt.Root}
}

func (r *testReg) ref(t *testing.T, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.host+"/"+s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func do(t *testing.T, method, url string, body []byte, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = nil
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func errCode(t *testing.T, resp *http.Response) string {
	t.Helper()
	var e struct {
		Errors []struct{ Code, Message string } `json:"errors"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &e); err != nil || len(e.Errors) == 0 {
		return fmt.Sprintf("no error body (%q)", b)
	}
	return e.Errors[0].Code + ": " + e.Errors[0].Message
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestPushPullInProcess: ggcr's remote client pushes random images and an
// index; what comes back validates and has the same digests.
func TestPushPullInProcess(t *testing.T) {
	r := newTestReg(t, registry.Options{})
	img, err := random.Image(3000, 3)
	if err != nil {
		t.Fatal(err)
	}
	ref := r.ref(t, "team/app:v1")
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Fatalf("pulled image does not validate: %v", err)
	}
	want, _ := img.Digest()
	if d, _ := got.Digest(); d != want {
		t.Fatalf("digest %s, want %s", d, want)
	}
	idx, err := random.Index(1000, 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(r.ref(t, "team/app:multi"), idx); err != nil {
		t.Fatal(err)
	}
	gotIdx, err := remote.Index(r.ref(t, "team/app:multi"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(gotIdx); err != nil {
		t.Fatalf("pulled index does not validate: %v", err)
	}
	tags, err := remote.List(r.ref(t, "team/app:v1").Context())
	if err != nil || strings.Join(tags, ",") != "multi,v1" {
		t.Fatalf("tags = %v, %v", tags, err)
	}
	// Pagination: n=1 gives one tag and a Link to the next page.
	resp := do(t, "GET", r.srv.URL+"/v2/team/app/tags/list?n=1", nil)
	if link := resp.Header.Get("Link"); link != `</v2/team/app/tags/list?n=1&last=multi>; rel="next"` {
		t.Errorf("Link = %q", link)
	}
}

// TestCrane: the real crane CLI pushes, pulls and copies.
func TestCrane(t *testing.T) {
	crane := testutil.RequireTool(t, "crane")
	r := newTestReg(t, registry.Options{})
	dir := t.TempDir()
	img, _ := random.Image(100000, 2)
	tarPath := filepath.Join(dir, "img.tar")
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(crane, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("crane %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if err := writeTarball(tarPath, img); err != nil {
		t.Fatal(err)
	}
	run("push", "--insecure", tarPath, r.host+"/src/app:1")
	run("copy", "--insecure", r.host+"/src/app:1", r.host+"/dst/app:1")
	run("pull", "--insecure", r.host+"/dst/app:1", filepath.Join(dir, "out.tar"))
	want, _ := img.Digest()
	if got := strings.TrimSpace(run("digest", "--insecure", r.host+"/dst/app:1")); got != want.String() {
		t.Errorf("crane digest after copy = %s, want %s", got, want)
	}
	if got := run("ls", "--insecure", r.host+"/dst/app"); strings.TrimSpace(got) != "1" {
		t.Errorf("crane ls = %q", got)
	}
	// The copy mounted the layers across repositories: dst has them without a second upload.
	layers, _ := img.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		if resp := do(t, "HEAD", r.srv.URL+"/v2/dst/app/blobs/"+d.String(), nil); resp.StatusCode != 200 {
			t.Errorf("HEAD layer %s in dst: %d", d, resp.StatusCode)
		}
	}
	run("delete", "--insecure", r.host+"/dst/app@"+want.String())
	if resp := do(t, "GET", r.srv.URL+"/v2/dst/app/manifests/1", nil); resp.StatusCode != 404 {
		t.Errorf("after delete: %d", resp.StatusCode)
	}
}

// TestLyingDigest: a client that claims the wrong digest is rejected in every
// upload flavour and nothing becomes visible under either digest.
func TestLyingDigest(t *testing.T) {
	r := newTestReg(t, registry.Options{})
	body := []byte("the real content")
	lie := digestOf([]byte("something else"))
	base := r.srv.URL + "/v2/liar/app/blobs/"
	// Monolithic POST.
	resp := do(t, "POST", base+"uploads/?digest="+lie, body)
	if resp.StatusCode != 400 || !strings.HasPrefix(errCode(t, resp), "DIGEST_INVALID") {
		t.Errorf("monolithic lie: %d", resp.StatusCode)
	}
	// POST + PUT.
	resp = do(t, "POST", base+"uploads/", nil)
	loc := resp.Header.Get("Location")
	resp = do(t, "PUT", r.srv.URL+loc+"?digest="+lie, body)
	if resp.StatusCode != 400 || !strings.HasPrefix(errCode(t, resp), "DIGEST_INVALID") {
		t.Errorf("PUT lie: %d", resp.StatusCode)
	}
	// The session is gone after a lie.
	if resp := do(t, "GET", r.srv.URL+loc, nil); resp.StatusCode != 404 {
		t.Errorf("session after lie: %d", resp.StatusCode)
	}
	for _, d := range []string{lie, digestOf(body)} {
		if resp := do(t, "HEAD", base+d, nil); resp.StatusCode != 404 {
			t.Errorf("blob %s visible after lie: %d", d, resp.StatusCode)
		}
	}
	assertNoStrayFiles(t, r.root)
	// A bad manifest digest too.
	man := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
	resp = do(t, "PUT", r.srv.URL+"/v2/liar/app/manifests/"+lie, man, "Content-Type", "application/vnd.oci.image.index.v1+json")
	if resp.StatusCode != 400 || !strings.HasPrefix(errCode(t, resp), "DIGEST_INVALID") {
		t.Errorf("manifest lie: %d", resp.StatusCode)
	}
}

func assertNoStrayFiles(t *testing.T, root string) {
	t.Helper()
	ents, _ := os.ReadDir(filepath.Join(root, "uploads"))
	for _, e := range ents {
		t.Errorf("stray temporary file %s", e.Name())
	}
}

// TestConcurrentSameBlob: many clients push the same blob at once, with
// different upload flavours; all succeed and the stored blob is intact.
func TestConcurrentSameBlob(t *testing.T) {
	r := newTestReg(t, registry.Options{})
	blob := make([]byte, 4<<20)
	_, _ = rand.Read(blob)
	d := digestOf(blob)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 12; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			repo := fmt.Sprintf("%s/v2/same/r%d/blobs/uploads/", r.srv.URL, i%3)
			var resp *http.Response
			var err error
			if i%2 == 0 {
				resp, err = http.Post(repo+"?digest="+d, "application/octet-stream", bytes.NewReader(blob))
			} else {
				resp, err = http.Post(repo, "", nil)
				if err == nil {
					loc := resp.Header.Get("Location")
					resp.Body.Close()
					req, _ := http.NewRequest("PATCH", r.srv.URL+loc, bytes.NewReader(blob[:1<<20]))
					resp, err = http.DefaultClient.Do(req)
					if err == nil {
						resp.Body.Close()
						req, _ = http.NewRequest("PUT", r.srv.URL+resp.Header.Get("Location")+"?digest="+d, bytes.NewReader(blob[1<<20:]))
						resp, err = http.DefaultClient.Do(req)
					}
				}
			}
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 201 {
				errs <- fmt.Errorf("client %d: status %d", i, resp.StatusCode)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i := 0; i < 3; i++ {
		resp := do(t, "GET", fmt.Sprintf("%s/v2/same/r%d/blobs/%s", r.srv.URL, i, d), nil)
		got, _ := io.ReadAll(resp.Body)
		if !bytes.Equal(got, blob) {
			t.Errorf("repo r%d: blob differs (%d bytes)", i, len(got))
		}
	}
	assertNoStrayFiles(t, r.root)
}

// fakeGate denies images whose repository starts with "prod/" and records what it saw.
type fakeGate struct {
	mu   sync.Mutex
	seen []registry.Subject
	err  error
}

func (g *fakeGate) Decide(ctx context.Context, s registry.Subject) (registry.Decision, error) {
	g.mu.Lock()
	g.seen = append(g.seen, s)
	g.mu.Unlock()
	if g.err != nil {
		return registry.Decision{}, g.err
	}
	if strings.HasPrefix(s.Repo, "prod/") {
		return registry.Decision{Reasons: []string{"CVE-2024-9143 (HIGH) in libssl3 3.1.7-r0", "no valid signature"}}, nil
	}
	return registry.Decision{Allow: true}, nil
}

// TestGate: GET and HEAD, by tag and by digest, are refused with DENIED and
// the reasons; signature tags and referrers stay readable; a gate error denies.
func TestGate(t *testing.T) {
	g := &fakeGate{}
	r := newTestReg(t, registry.Options{Gate: g})
	img, _ := random.Image(1000, 1)
	d, _ := img.Digest()
	for _, repo := range []string{"prod/app", "dev/app"} {
		if err := remote.Write(r.ref(t, repo+":1"), img); err != nil {
			t.Fatal(err)
		}
	}
	// A cosign-style signature under the sha256-<hex>.sig tag, and an OCI 1.1 referrer.
	sig := mutate.MediaType(mutate.ConfigMediaType(empty.Image, types.OCIConfigJSON), types.OCIManifestSchema1)
	sig, _ = mutate.Append(sig, mutate.Addendum{Layer: static.NewLayer([]byte(`{"critical":{}}`), "application/vnd.dev.cosign.simplesigning.v1+json")})
	sigTag := "prod/app:sha256-" + d.Hex + ".sig"
	if err := remote.Write(r.ref(t, sigTag), sig); err != nil {
		t.Fatal(err)
	}
	desc, _ := partialDescriptor(img)
	att := mutate.Subject(sig, *desc).(v1.Image)
	attRef := r.ref(t, "prod/app:att")
	if err := remote.Write(attRef, att); err != nil {
		t.Fatal(err)
	}
	attDigest, _ := att.Digest()

	base := r.srv.URL + "/v2/"
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "prod/app/manifests/1", 403},
		{"HEAD", "prod/app/manifests/1", 403},
		{"GET", "prod/app/manifests/" + d.String(), 403},
		{"HEAD", "prod/app/manifests/" + d.String(), 403},
		{"GET", "prod/app/blobs/" + d.String(), 403}, // the manifest through the blobs endpoint
		{"HEAD", "prod/app/blobs/" + d.String(), 403},
		{"GET", "dev/app/manifests/1", 200},
		{"GET", "dev/app/blobs/" + d.String(), 200},
		{"GET", "prod/app/manifests/sha256-" + d.Hex + ".sig", 200},
		{"GET", "prod/app/manifests/" + attDigest.String(), 200},
		{"GET", "prod/app/referrers/" + d.String(), 200},
	} {
		resp := do(t, tc.method, base+tc.path, nil, "Accept", string(types.OCIManifestSchema1))
		if resp.StatusCode != tc.want {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
			continue
		}
		if tc.want == 403 && tc.method == "GET" {
			msg := errCode(t, resp)
			if !strings.HasPrefix(msg, "DENIED") || !strings.Contains(msg, "CVE-2024-9143") || !strings.Contains(msg, "no valid signature") {
				t.Errorf("%s: error %q lacks the reasons", tc.path, msg)
			}
		}
	}
	// Mounting the denied manifest into another repository does not work (202: upload it yourself).
	for _, q := range []string{"?mount=" + d.String() + "&from=prod/app", "?mount=" + d.String()} {
		if resp := do(t, "POST", base+"dev/other/blobs/uploads/"+q, nil); resp.StatusCode != 202 {
			t.Errorf("mount of a gated manifest %s: %d", q, resp.StatusCode)
		}
	}
	// ggcr's client sees the DENIED error too.
	_, err := remote.Image(r.ref(t, "prod/app:1"))
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != 403 || !strings.Contains(err.Error(), "CVE-2024-9143") {
		t.Errorf("remote.Image of a denied image: %v", err)
	}
	// The gate got the image itself.
	g.mu.Lock()
	if len(g.seen) == 0 || g.seen[0].Image == nil || g.seen[0].Digest != d {
		t.Errorf("gate saw %+v", g.seen)
	}
	g.mu.Unlock()
	// Fail closed.
	g.err = errors.New("policy file unreadable")
	resp := do(t, "GET", base+"dev/app/manifests/1", nil)
	if msg := errCode(t, resp); resp.StatusCode != 403 || !strings.Contains(msg, "policy evaluation failed: policy file unreadable") {
		t.Errorf("gate error: %d %s", resp.StatusCode, msg)
	}
}

func partialDescriptor(img v1.Image) (*v1.Descriptor, error) {
	d, err := img.Digest()
	if err != nil {
		return nil, err
	}
	sz, _ := img.Size()
	mt, _ := img.MediaType()
	return &v1.Descriptor{MediaType: mt, Digest: d, Size: sz}, nil
}

// blockScanner blocks until its context ends (a crash mid-scan).
type blockScanner struct{ started chan struct{} }

func (b *blockScanner) Scan(ctx context.Context, repo string, d v1.Hash, img v1.Image) (*registry.ScanResult, error) {
	close(b.started)
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestScanQueueSurvivesRestart: a scan interrupted by shutdown runs after restart,
// its result is stored and served by the JSON API, findings most severe first.
func TestScanQueueSurvivesRestart(t *testing.T) {
	root := t.TempDir()
	bs := &blockScanner{started: make(chan struct{})}
	r1 := newTestReg(t, registry.Options{Root: root, Scanner: bs})
	img, _ := random.Image(500, 2)
	if err := remote.Write(r1.ref(t, "app/x:1"), img); err != nil {
		t.Fatal(err)
	}
	select {
	case <-bs.started:
	case <-time.After(10 * time.Second):
		t.Fatal("scan never started")
	}
	r1.srv.Close()
	r1.Close()

	done := make(chan struct{})
	var layers int
	sc := registry.ScannerFunc(func(ctx context.Context, repo string, d v1.Hash, img v1.Image) (*registry.ScanResult, error) {
		ls, err := img.Layers()
		if err != nil {
			return nil, err
		}
		for _, l := range ls { // layers are readable from local storage
			rc, err := l.Compressed()
			if err != nil {
				return nil, err
			}
			io.Copy(io.Discard, rc)
			rc.Close()
		}
		layers = len(ls)
		defer close(done)
		return &registry.ScanResult{Packages: 2, Findings: []registry.Finding{
			{ID: "CVE-1", Package: "a", Severity: "LOW"},
			{ID: "CVE-2", Package: "b", Severity: "CRITICAL"},
		}}, nil
	})
	r2 := newTestReg(t, registry.Options{Root: root, Scanner: sc})
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("queued scan did not run after restart")
	}
	if layers != 2 {
		t.Errorf("scanner saw %d layers", layers)
	}
	d, _ := img.Digest()
	var info registry.ScanInfo
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp := do(t, "GET", r2.srv.URL+"/api/v1/scan?repo=app/x&digest="+d.String(), nil)
		_ = json.NewDecoder(resp.Body).Decode(&info)
		if info.State == "done" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if info.State != "done" || info.Result == nil || len(info.Result.Findings) != 2 || info.Result.Findings[0].ID != "CVE-2" {
		t.Fatalf("scan info = %+v", info)
	}
}

// TestGC: unreferenced blobs go, referenced ones stay and still pull.
func TestGC(t *testing.T) {
	root := t.TempDir()
	r := newTestReg(t, registry.Options{Root: root})
	keep, _ := random.Image(2000, 2)
	drop, _ := random.Image(2000, 2)
	if err := remote.Write(r.ref(t, "gc/keep:1"), keep); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r.ref(t, "gc/drop:1"), drop); err != nil {
		t.Fatal(err)
	}
	orphan := []byte("never referenced by any manifest")
	if resp := do(t, "POST", r.srv.URL+"/v2/gc/keep/blobs/uploads/?digest="+digestOf(orphan), orphan); resp.StatusCode != 201 {
		t.Fatalf("orphan push: %d", resp.StatusCode)
	}
	dd, _ := drop.Digest()
	if resp := do(t, "DELETE", r.srv.URL+"/v2/gc/drop/manifests/"+dd.String(), nil); resp.StatusCode != 202 {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	r.srv.Close()
	r.Close()
	st, err := gc.Run(context.Background(), root, gc.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// drop: manifest + config + 2 layers; plus the orphan. keep: manifest + config + 2 layers.
	if st.Deleted != 5 || st.Kept != 4 {
		t.Errorf("gc stats %+v, want 5 deleted and 4 kept", st)
	}
	r2 := newTestReg(t, registry.Options{Root: root})
	got, err := remote.Image(r2.ref(t, "gc/keep:1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(got); err != nil {
		t.Errorf("kept image after gc: %v", err)
	}
	if resp := do(t, "GET", r2.srv.URL+"/v2/gc/keep/blobs/"+digestOf(orphan), nil); resp.StatusCode != 404 {
		t.Errorf("orphan after gc: %d", resp.StatusCode)
	}
}

func writeTarball(path string, img v1.Image) error {
	tag, err := name.NewTag("example.com/test:1")
	if err != nil {
		return err
	}
	return tarball.WriteToFile(path, tag, img)
}

// TestRescanWebhook: Rescan re-queues scanned images; a rescan that finds a
// new vulnerability posts it to the webhook, with the image's tags.
func TestRescanWebhook(t *testing.T) {
	events := make(chan registry.WebhookEvent, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev registry.WebhookEvent
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		events <- ev
	}))
	defer hook.Close()
	var mu sync.Mutex
	db := []registry.Finding{{ID: "CVE-OLD", Package: "a", Version: "1", Severity: "LOW"}}
	scans := make(chan struct{}, 4)
	sc := registry.ScannerFunc(func(ctx context.Context, repo string, d v1.Hash, img v1.Image) (*registry.ScanResult, error) {
		mu.Lock()
		defer mu.Unlock()
		defer func() { scans <- struct{}{} }()
		return &registry.ScanResult{Findings: append([]registry.Finding(nil), db...)}, nil
	})
	r := newTestReg(t, registry.Options{Scanner: sc, Webhook: hook.URL})
	img, _ := random.Image(100, 1)
	if err := remote.Write(r.ref(t, "hook/app:1.0"), img); err != nil {
		t.Fatal(err)
	}
	wait := func(ch chan struct{}) {
		t.Helper()
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatal("timeout")
		}
	}
	wait(scans)
	waitState := func() {
		t.Helper()
		d, _ := img.Digest()
		for i := 0; i < 200; i++ {
			if info, err := r.Scan(context.Background(), "hook/app", d.String()); err == nil && info.State == "done" {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatal("scan not done")
	}
	waitState()
	// The database learns a new vulnerability.
	mu.Lock()
	db = append(db, registry.Finding{ID: "CVE-NEW", Package: "b", Version: "2", Severity: "HIGH"})
	mu.Unlock()
	if n, err := r.Rescan(context.Background()); err != nil || n != 1 {
		t.Fatalf("Rescan = %d, %v", n, err)
	}
	wait(scans)
	select {
	case ev := <-events:
		if ev.Repository != "hook/app" || len(ev.NewFindings) != 1 || ev.NewFindings[0].ID != "CVE-NEW" || strings.Join(ev.Tags, ",") != "1.0" {
			t.Errorf("webhook event %+v", ev)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook call")
	}
	// A rescan with nothing new posts nothing.
	waitState()
	r.Rescan(context.Background())
	wait(scans)
	select {
	case ev := <-events:
		t.Errorf("webhook called without new findings: %+v", ev)
	case <-time.After(500 * time.Millisecond):
	}
}
