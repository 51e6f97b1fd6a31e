package ui_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/policy/registrygate"
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/registry/ui"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
)

// server pushes three images, signs two of them, waits for their (fake)
// scans and serves the registry, the JSON API and the UI. library/alpine:3.19.4
// is signed by the trusted key release.pub (cosign .sig tag and Sigstore
// bundle referrer), library/alpine:other by a key the server does not trust,
// library/alpine:unsigned not at all.
func server(t *testing.T) string {
	t.Helper()
	scanned := make(chan struct{}, 8)
	sc := registry.ScannerFunc(func(ctx context.Context, repo string, d v1.Hash, img v1.Image) (*registry.ScanResult, error) {
		defer func() { scanned <- struct{}{} }()
		return &registry.ScanResult{Distro: "alpine 3.19.4", Packages: 15, Findings: []registry.Finding{
			{ID: "CVE-2024-0001", Package: "busybox", Version: "1.36.1-r15", Severity: "LOW"},
			{ID: "CVE-2024-9143", Package: "libssl3", Version: "3.1.7-r0", FixedVersion: "3.1.7-r1", Severity: "HIGH", URL: "https://nvd.nist.gov/vuln/detail/CVE-2024-9143"},
			{ID: "CVE-2024-0002", Package: "zlib", Version: "1.3.1-r0", Severity: "CRITICAL"},
		}}, nil
	})
	trusted, other := newKey(t), newKey(t)
	sigs := &registrygate.SignatureChecker{Keys: []verify.Key{verify.NewKey("release.pub", trusted.Public())}}
	reg, err := registry.New(registry.Options{Root: t.TempDir(), Scanner: sc, Signatures: sigs,
		Gate: &registry.SeverityGate{Repos: []string{"**"}, MaxSeverity: "MEDIUM"}})
	if err != nil {
		t.Fatal(err)
	}
	sigs.SetHandler(reg.InternalHandler())
	mux := http.NewServeMux()
	mux.Handle("/v2/", reg)
	mux.Handle("/api/v1/", reg.APIHandler())
	mux.Handle("/ui/", ui.Handler(reg, "/ui/"))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); reg.Close() })
	host := strings.TrimPrefix(srv.URL, "http://")
	// The signer: reads go past the gate (the images are denied: HIGH and
	// CRITICAL findings), as they do for a client authorized to push.
	signer := verify.HandlerTransport(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			reg.InternalHandler().ServeHTTP(w, r)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	for _, c := range []struct {
		tag string
		key crypto.Signer
	}{{"3.19.4", trusted}, {"other", other}, {"unsigned", nil}} {
		img, _ := random.Image(100, 1)
		ref, _ := name.ParseReference(host+"/library/alpine:"+c.tag, name.Insecure)
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
		if c.key != nil {
			if _, err := sign.Image(context.Background(), ref, c.key, sign.Options{RemoteOptions: []remote.Option{remote.WithTransport(signer)}}); err != nil {
				t.Fatalf("signing %s: %v", ref, err)
			}
		}
	}
	for range 3 {
		select {
		case <-scanned:
		case <-time.After(10 * time.Second):
			t.Fatal("no scan")
		}
	}
	time.Sleep(100 * time.Millisecond) // the result is stored right after the scanner returns
	return srv.URL
}

func newKey(t *testing.T) crypto.Signer {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return string(b)
}

// TestPages: the repository list, the tag list with severity counts, and the
// image page with findings ordered by severity, links, fixed versions and the verdict.
func TestPages(t *testing.T) {
	base := server(t)
	if p := get(t, base+"/ui/"); !strings.Contains(p, `href="/ui/repo?repo=library%2falpine"`) {
		t.Errorf("repository list:\n%s", p)
	}
	p := get(t, base+"/ui/repo?repo=library/alpine")
	for _, w := range []string{"3.19.4", "CRITICAL 1", "HIGH 1", "LOW 1", "done"} {
		if !strings.Contains(p, w) {
			t.Errorf("tag page lacks %q", w)
		}
	}
	p = get(t, base+"/ui/image?repo=library/alpine&ref=3.19.4")
	iC, iH, iL := strings.Index(p, "CVE-2024-0002"), strings.Index(p, "CVE-2024-9143"), strings.Index(p, "CVE-2024-0001")
	if iC < 0 || iH < 0 || iL < 0 || !(iC < iH && iH < iL) {
		t.Errorf("findings not ordered by severity (%d %d %d)", iC, iH, iL)
	}
	for _, w := range []string{`<a href="https://nvd.nist.gov/vuln/detail/CVE-2024-9143">`, "3.1.7-r1", "Denied", "vulnerabilities above MEDIUM", "alpine 3.19.4"} {
		if !strings.Contains(p, w) {
			t.Errorf("image page lacks %q", w)
		}
	}
	resp, _ := http.Get(base + "/ui/image?repo=library/alpine&ref=nope")
	if resp.StatusCode != 404 {
		t.Errorf("unknown tag: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

// TestNoSniff: every UI answer, pages and errors, says X-Content-Type-Options: nosniff.
func TestNoSniff(t *testing.T) {
	base := server(t)
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/ui/", 200},
		{"GET", "/ui/repo?repo=library/alpine", 200},
		{"GET", "/ui/image?repo=library/alpine&ref=3.19.4", 200},
		{"GET", "/ui/image?repo=library/alpine&ref=nope", 404},
		{"GET", "/ui/nope", 404},
		{"POST", "/ui/", 405},
	} {
		req, err := http.NewRequest(tc.method, base+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.code || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s %s: %d, X-Content-Type-Options %q; want %d, nosniff", tc.method, tc.path, resp.StatusCode, resp.Header.Get("X-Content-Type-Options"), tc.code)
		}
	}
}

// TestChromium loads the image page in headless Chromium (Debian's chromium
// package): the rendered DOM has the findings, and a screenshot is written.
func TestChromium(t *testing.T) {
	bin := testutil.RequireTool(t, "chromium")
	base := server(t)
	url := base + "/ui/image?repo=library/alpine&ref=3.19.4"
	dir := t.TempDir()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=" + dir}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dom, err := exec.CommandContext(ctx, bin, append(args, "--dump-dom", url)...).Output()
	if err != nil {
		t.Fatalf("chromium --dump-dom: %v", err)
	}
	for _, w := range []string{"CVE-2024-9143", "libssl3", "Denied", "<table>", "Signed by release.pub", `<tr class="signer"><td>release.pub</td>`} {
		if !strings.Contains(string(dom), w) {
			t.Errorf("rendered page lacks %q", w)
		}
	}
	shot := filepath.Join(dir, "image.png")
	if out, err := exec.CommandContext(ctx, bin, append(args, "--screenshot="+shot, "--window-size=1200,800", url)...).CombinedOutput(); err != nil {
		t.Fatalf("chromium --screenshot: %v\n%s", err, out)
	}
	b, err := os.ReadFile(shot)
	if err != nil || len(b) < 1000 || string(b[1:4]) != "PNG" {
		t.Fatalf("screenshot: %d bytes, %v", len(b), err)
	}
	if os.Getenv("WARDEN_UI_SHOT") != "" {
		os.WriteFile(os.Getenv("WARDEN_UI_SHOT"), b, 0o644)
	}
}

// TestSignatures: the JSON API and the image page name who signed — the
// trusted key, in both formats cosign writes (.sig tag, bundle referrer) —
// show a signature by an unknown key as invalid with the reason, and an
// unsigned image as not signed.
func TestSignatures(t *testing.T) {
	base := server(t)
	api := func(ref string) registry.ImageDetail {
		t.Helper()
		var det registry.ImageDetail
		if err := json.Unmarshal([]byte(get(t, base+"/api/v1/image?repo=library/alpine&ref="+ref)), &det); err != nil {
			t.Fatal(err)
		}
		if det.SignatureCheck == nil {
			t.Fatalf("%s: no signatureCheck in the API", ref)
		}
		return det
	}
	det := api("3.19.4")
	sc := det.SignatureCheck
	formats := map[string]bool{}
	for _, s := range sc.Signers {
		if s.Key != "release.pub" || len(s.KeyID) < 8 {
			t.Errorf("signer %+v", s)
		}
		formats[s.Format] = true
	}
	if sc.Status != registry.SigVerified || !formats["legacy"] || !formats["bundle"] || len(sc.Invalid) != 0 || strings.Join(sc.SignedBy, ",") != "release.pub" {
		t.Errorf("signed image: %+v", sc)
	}
	if det.Verdict == nil || det.Verdict.Allow {
		t.Errorf("the signed image is still denied for its findings: %+v", det.Verdict)
	}
	p := get(t, base+"/ui/image?repo=library/alpine&ref=3.19.4")
	for _, w := range []string{`data-status="verified"`, "Signed by release.pub</p>", sc.Signers[0].KeyID, "bundle", "legacy"} {
		if !strings.Contains(html.UnescapeString(p), w) {
			t.Errorf("image page of the signed image lacks %q", w)
		}
	}
	// The second look comes from verify's cache (same digest, keys and signatures).
	if again := api("3.19.4").SignatureCheck; !again.Cached || again.Status != registry.SigVerified {
		t.Errorf("second check not cached: %+v", again)
	}

	// The tag list says who signed each tag.
	var tags []registry.TagSummary
	if err := json.Unmarshal([]byte(get(t, base+"/api/v1/tags?repo=library/alpine")), &tags); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ts := range tags {
		got[ts.Tag] = ts.SignatureStatus + ":" + strings.Join(ts.SignedBy, ",")
	}
	if got["3.19.4"] != "verified:release.pub" || got["other"] != "invalid:" || got["unsigned"] != "not signed:" || len(got) != 3 {
		t.Errorf("tag list signatures: %v", got)
	}
	p = get(t, base+"/ui/repo?repo=library/alpine")
	if !strings.Contains(p, `<span class="allow">release.pub</span>`) || !strings.Contains(p, `<span class="deny">invalid</span>`) {
		t.Errorf("tag page lacks the signers:\n%s", p)
	}

	sc = api("other").SignatureCheck
	if sc.Status != registry.SigInvalid || len(sc.Signers) != 0 || len(sc.Invalid) != 2 {
		t.Errorf("image signed by an unknown key: %+v", sc)
	}
	for _, p := range sc.Invalid {
		if !strings.Contains(p.Reason, "verif") || !strings.Contains(p.Reason, "given keys (release.pub)") {
			t.Errorf("invalid signature without its reason: %+v", p)
		}
	}
	p = get(t, base+"/ui/image?repo=library/alpine&ref=other")
	for _, w := range []string{`data-status="invalid"`, "invalid or unknown signer", "signature does not verify with any of the given keys", "no DSSE signature verifies"} {
		if !strings.Contains(p, w) {
			t.Errorf("image page of the image signed by another key lacks %q", w)
		}
	}

	sc = api("unsigned").SignatureCheck
	if sc.Status != registry.SigUnsigned || len(sc.Signers)+len(sc.Invalid) != 0 {
		t.Errorf("unsigned image: %+v", sc)
	}
	if p = get(t, base+"/ui/image?repo=library/alpine&ref=unsigned"); !strings.Contains(p, "Not signed.") || !strings.Contains(p, `data-status="not signed"`) {
		t.Errorf("image page of the unsigned image:\n%s", p)
	}
}
