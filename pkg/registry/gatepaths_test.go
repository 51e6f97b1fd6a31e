package registry_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/wardensec/warden/pkg/registry"
)

// prodGate denies every image (and every manifest it cannot look into, such
// as Docker schema 1) in prod/ and allows indexes, as the policy gate does: an
// index is allowed, each platform image is decided when pulled by digest.
var prodGate = registry.GateFunc(func(_ context.Context, s registry.Subject) (registry.Decision, error) {
	if s.Index != nil || !strings.HasPrefix(s.Repo, "prod/") {
		return registry.Decision{Allow: true}, nil
	}
	if s.Image == nil {
		return registry.Decision{Reasons: []string{"cannot be checked: " + string(s.MediaType)}}, nil
	}
	return registry.Decision{Reasons: []string{"denied " + s.Digest.String()}}, nil
})

type sbomFunc func(ctx context.Context, w io.Writer, format, repo string, d v1.Hash, img v1.Image) error

func (f sbomFunc) WriteSBOM(ctx context.Context, w io.Writer, format, repo string, d v1.Hash, img v1.Image) error {
	return f(ctx, w, format, repo, d, img)
}

type gateFixture struct {
	img, withSubject v1.Image
	d, subjD, layer  v1.Hash
	idx              v1.ImageIndex
}

// pushGateFixture pushes to repo prod/app: a denied image as :1, the same
// image under a cosign-style signature tag, a runnable image with a subject
// (as if it were a referrer), and an index holding the denied image.
func pushGateFixture(t *testing.T, r *testReg) gateFixture {
	t.Helper()
	var f gateFixture
	f.img, _ = random.Image(1000, 1)
	f.d, _ = f.img.Digest()
	ls, _ := f.img.Layers()
	f.layer, _ = ls[0].Digest()
	other, _ := random.Image(500, 1)
	desc, _ := partialDescriptor(f.img)
	f.withSubject = mutate.Subject(other, *desc).(v1.Image)
	f.subjD, _ = f.withSubject.Digest()
	f.idx = mutate.AppendManifests(empty.Index, mutate.IndexAddendum{Add: f.img, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1}})
	for tag, img := range map[string]v1.Image{"1": f.img, "sha256-" + strings.Repeat("a", 64) + ".sig": f.img, "ref": f.withSubject} {
		if err := remote.Write(r.ref(t, "prod/app:"+tag), img); err != nil {
			t.Fatal(err)
		}
	}
	if err := remote.WriteIndex(r.ref(t, "prod/app:idx"), f.idx); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestGatePaths: no route leads to a denied image's manifest — by tag, by
// digest, HEAD (which leaks no digest) then GET, a conditional GET, the blobs
// endpoint, a cosign-style tag, a runnable image carrying a subject, an index
// holding it, the referrers API, Docker schema 1, the SBOM download — while indexes, referrers,
// and layer blobs stay readable (layers by decision: docs/registry.md).
func TestGatePaths(t *testing.T) {
	sbom := sbomFunc(func(_ context.Context, w io.Writer, _, _ string, _ v1.Hash, _ v1.Image) error {
		_, err := io.WriteString(w, `{"layers":["…"]}`)
		return err
	})
	r := newTestReg(t, registry.Options{Gate: prodGate, SBOM: sbom})
	f := pushGateFixture(t, r)
	// A Docker schema 1 manifest (stored as an artifact; older clients run it).
	s1 := []byte(`{"schemaVersion":1,"name":"prod/app","tag":"old","architecture":"amd64","fsLayers":[],"history":[]}`)
	for _, repo := range []string{"prod/app", "dev/app"} {
		if resp := do(t, "PUT", r.srv.URL+"/v2/"+repo+"/manifests/old", s1, "Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws"); resp.StatusCode != 201 {
			t.Fatalf("PUT schema 1 in %s: %d %s", repo, resp.StatusCode, errCode(t, resp))
		}
	}
	idxD, _ := f.idx.Digest()
	base := r.srv.URL + "/v2/"
	for _, tc := range []struct {
		name, method, path string
		hdr                []string
		want               int
	}{
		{"tag", "GET", "prod/app/manifests/1", nil, 403},
		{"HEAD tag", "HEAD", "prod/app/manifests/1", nil, 403},
		{"digest", "GET", "prod/app/manifests/" + f.d.String(), nil, 403},
		{"HEAD digest", "HEAD", "prod/app/manifests/" + f.d.String(), nil, 403},
		{"conditional GET", "GET", "prod/app/manifests/1", []string{"If-None-Match", `"` + f.d.String() + `"`}, 403},
		{"blobs endpoint", "GET", "prod/app/blobs/" + f.d.String(), nil, 403},
		{"blobs endpoint range", "GET", "prod/app/blobs/" + f.d.String(), []string{"Range", "bytes=0-10"}, 403},
		{"HEAD blobs endpoint", "HEAD", "prod/app/blobs/" + f.d.String(), nil, 403},
		{"cosign-style tag", "GET", "prod/app/manifests/sha256-" + strings.Repeat("a", 64) + ".sig", nil, 403},
		{"image with a subject", "GET", "prod/app/manifests/ref", nil, 403},
		{"image with a subject by digest", "GET", "prod/app/manifests/" + f.subjD.String(), nil, 403},
		{"schema 1", "GET", "prod/app/manifests/old", nil, 403},
		{"index holding it", "GET", "prod/app/manifests/idx", nil, 200},
		{"index by digest", "GET", "prod/app/manifests/" + idxD.String(), nil, 200},
		{"referrers", "GET", "prod/app/referrers/" + f.d.String(), nil, 200},
		{"layer blob", "GET", "prod/app/blobs/" + f.layer.String(), nil, 200},
		{"uncovered repo schema 1", "GET", "dev/app/manifests/old", nil, 200},
	} {
		resp := do(t, tc.method, base+tc.path, nil, append([]string{"Accept", string(types.OCIManifestSchema1) + "," + string(types.OCIImageIndex)}, tc.hdr...)...)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %s %s: %d, want %d", tc.name, tc.method, tc.path, resp.StatusCode, tc.want)
			continue
		}
		if tc.want != 403 {
			continue
		}
		if dg := resp.Header.Get("Docker-Content-Digest"); dg != "" {
			t.Errorf("%s: the refusal names the digest %s", tc.name, dg)
		}
		if tc.method == "GET" {
			if msg := errCode(t, resp); !strings.HasPrefix(msg, "DENIED") {
				t.Errorf("%s: %s", tc.name, msg)
			}
		}
	}
	// The referrers index lists the referrer, never the denied manifest's bytes.
	resp := do(t, "GET", base+"prod/app/referrers/"+f.d.String(), nil)
	b, _ := io.ReadAll(resp.Body)
	raw, _ := f.img.RawManifest()
	if !strings.Contains(string(b), f.subjD.String()) || bytes.Contains(b, raw) {
		t.Errorf("referrers of the denied image: %s", b)
	}
	// The SBOM names every layer blob: it is gated like the manifest.
	if resp := do(t, "GET", r.srv.URL+"/api/v1/sbom?repo=prod/app&ref=1&format=json", nil); resp.StatusCode != 403 {
		t.Errorf("SBOM of the denied image: %d", resp.StatusCode)
	}
	// ggcr's pull of the index fails at the denied child.
	if _, err := remote.Image(r.ref(t, "prod/app@"+f.d.String())); err == nil || !strings.Contains(err.Error(), "DENIED") {
		t.Errorf("child of an allowed index: %v", err)
	}
}

// TestGatePathsGateway: in gateway mode, a denied image's manifest is not
// readable through the blobs endpoint either, even before anything was cached
// (the gateway fetches a digest asked for as a blob as a manifest first), nor
// by tag, digest or HEAD; its index and layers pass through.
func TestGatePathsGateway(t *testing.T) {
	up := newTestReg(t, registry.Options{})
	f := pushGateFixture(t, up)
	u, err := registry.NewUpstream(up.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	gw := newTestReg(t, registry.Options{Upstream: u, Gate: prodGate})
	base := gw.srv.URL + "/v2/"
	for _, tc := range []struct {
		name, method, path string
		want               int
	}{
		// First request for the digest at all: through the blobs endpoint.
		{"blobs endpoint, not cached", "GET", "prod/app/blobs/" + f.d.String(), 403},
		{"blobs endpoint, cached", "GET", "prod/app/blobs/" + f.d.String(), 403},
		{"image with a subject via blobs", "GET", "prod/app/blobs/" + f.subjD.String(), 403},
		{"HEAD tag", "HEAD", "prod/app/manifests/1", 403},
		{"tag", "GET", "prod/app/manifests/1", 403},
		{"digest", "GET", "prod/app/manifests/" + f.d.String(), 403},
		{"cosign-style tag", "GET", "prod/app/manifests/sha256-" + strings.Repeat("a", 64) + ".sig", 403},
		{"index", "GET", "prod/app/manifests/idx", 200},
		{"layer blob", "GET", "prod/app/blobs/" + f.layer.String(), 200},
	} {
		resp := do(t, tc.method, base+tc.path, nil, "Accept", string(types.OCIManifestSchema1)+","+string(types.OCIImageIndex))
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %s %s: %d, want %d (%s)", tc.name, tc.method, tc.path, resp.StatusCode, tc.want, errCode(t, resp))
		}
	}
}

// TestInternalHandler: the in-process handler (signature verification, the
// policy gate's reads) reads past the gate, only reads, and is not counted
// in the metrics.
func TestInternalHandler(t *testing.T) {
	r := newTestReg(t, registry.Options{Gate: prodGate})
	f := pushGateFixture(t, r)
	h := r.InternalHandler()
	metrics := func() string {
		rec := httptest.NewRecorder()
		r.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	before := metrics()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v2/prod/app/manifests/"+f.d.String(), nil))
	if rec.Code != 200 || rec.Header().Get("Docker-Content-Digest") != f.d.String() {
		t.Errorf("internal GET of a denied image: %d", rec.Code)
	}
	for _, m := range []string{"PUT", "DELETE", "POST", "PATCH"} {
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/v2/prod/app/manifests/"+f.d.String(), strings.NewReader("{}")))
		if rec.Code != http.StatusMethodNotAllowed {
			t.Errorf("internal %s: %d", m, rec.Code)
		}
	}
	if after := metrics(); after != before {
		t.Errorf("internal reads counted as traffic:\n%s\n---\n%s", before, after)
	}
	// The same request from outside is gated.
	if resp := do(t, "GET", r.srv.URL+"/v2/prod/app/manifests/"+f.d.String(), nil); resp.StatusCode != 403 {
		t.Errorf("external GET: %d", resp.StatusCode)
	}
}
