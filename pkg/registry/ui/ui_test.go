package ui_test

import (
	"context"
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
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/registry/ui"
)

// server pushes one image, waits for its (fake) scan and serves the UI.
func server(t *testing.T) string {
	t.Helper()
	scanned := make(chan struct{}, 1)
	sc := registry.ScannerFunc(func(ctx context.Context, repo string, d v1.Hash, img v1.Image) (*registry.ScanResult, error) {
		defer func() { scanned <- struct{}{} }()
		return &registry.ScanResult{Distro: "alpine 3.19.4", Packages: 15, Findings: []registry.Finding{
			{ID: "CVE-2024-0001", Package: "busybox", Version: "1.36.1-r15", Severity: "LOW"},
			{ID: "CVE-2024-9143", Package: "libssl3", Version: "3.1.7-r0", FixedVersion: "3.1.7-r1", Severity: "HIGH", URL: "https://nvd.nist.gov/vuln/detail/CVE-2024-9143"},
			{ID: "CVE-2024-0002", Package: "zlib", Version: "1.3.1-r0", Severity: "CRITICAL"},
		}}, nil
	})
	reg, err := registry.New(registry.Options{Root: t.TempDir(), Scanner: sc, Gate: &registry.SeverityGate{Repos: []string{"**"}, MaxSeverity: "MEDIUM"}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v2/", reg)
	mux.Handle("/ui/", ui.Handler(reg, "/ui/"))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); reg.Close() })
	img, _ := random.Image(100, 1)
	ref, _ := name.ParseReference(strings.TrimPrefix(srv.URL, "http://")+"/library/alpine:3.19.4", name.Insecure)
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	select {
	case <-scanned:
	case <-time.After(10 * time.Second):
		t.Fatal("no scan")
	}
	time.Sleep(100 * time.Millisecond) // the result is stored right after the scanner returns
	return srv.URL
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
	for _, w := range []string{`<a href="https://nvd.nist.gov/vuln/detail/CVE-2024-9143">`, "3.1.7-r1", "Denied", "vulnerabilities above MEDIUM", "Not signed", "alpine 3.19.4"} {
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
	for _, w := range []string{"CVE-2024-9143", "libssl3", "Denied", "<table>"} {
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
