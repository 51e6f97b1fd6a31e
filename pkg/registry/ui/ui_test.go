package ui_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"html"
	"image"
	"image/color"
	"image/png"
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
// library/alpine:unsigned not at all; library/alpine:clean (unsigned) has no
// findings, and is the one image the gate allows.
func server(t *testing.T) string {
	t.Helper()
	scanned := make(chan struct{}, 8)
	cleanImg, _ := random.Image(120, 1)
	cleanDigest, _ := cleanImg.Digest()
	sc := registry.ScannerFunc(func(ctx context.Context, repo string, d v1.Hash, img v1.Image) (*registry.ScanResult, error) {
		defer func() { scanned <- struct{}{} }()
		if d == cleanDigest {
			return &registry.ScanResult{Distro: "alpine 3.19.4", Packages: 15, Findings: []registry.Finding{}}, nil
		}
		return &registry.ScanResult{Distro: "alpine 3.19.4", Packages: 15, Findings: []registry.Finding{
			{ID: "CVE-2024-0001", Package: "busybox", Version: "1.36.1-r15", Severity: "LOW", URL: "https://security.alpinelinux.org/vuln/CVE-2024-0001"},
			{ID: "CVE-2024-9143", Package: "libssl3", Version: "3.1.7-r0", FixedVersion: "3.1.7-r1", Severity: "HIGH", CVSS: 7.5, URL: "https://nvd.nist.gov/vuln/detail/CVE-2024-9143",
				Title: "Low-level invalid GF(2^m) parameters lead to OOB memory access"},
			{ID: "CVE-2024-0002", Package: "zlib", Version: "1.3.1-r0", Severity: "CRITICAL", URL: "https://security.alpinelinux.org/vuln/CVE-2024-0002"},
			{ID: "GHSA-xvch-5gv4-984h", Aliases: []string{"CVE-2021-44906"}, Package: "minimist", Version: "1.2.0", FixedVersion: "1.2.6", Severity: "MEDIUM",
				URL: "https://github.com/advisories/GHSA-xvch-5gv4-984h", Title: "Prototype Pollution in minimist"},
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
	cleanRef, _ := name.ParseReference(host+"/library/alpine:clean", name.Insecure)
	if err := remote.Write(cleanRef, cleanImg); err != nil {
		t.Fatal(err)
	}
	for range 4 {
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
	for _, w := range []string{`<a href="https://nvd.nist.gov/vuln/detail/CVE-2024-9143">`, "3.1.7-r1", "<td>7.5</td>", "Denied", "vulnerabilities above MEDIUM", "alpine 3.19.4"} {
		if !strings.Contains(p, w) {
			t.Errorf("image page lacks %q", w)
		}
	}
	// Each finding links to its advisory page; a GHSA shows its CVE alias.
	for _, w := range []string{`<a href="https://security.alpinelinux.org/vuln/CVE-2024-0002">CVE-2024-0002</a>`,
		`<a href="https://github.com/advisories/GHSA-xvch-5gv4-984h">GHSA-xvch-5gv4-984h</a> <span class="alias">(<a href="https://nvd.nist.gov/vuln/detail/CVE-2021-44906">CVE-2021-44906</a>)</span>`} {
		if !strings.Contains(p, w) {
			t.Errorf("image page lacks %q", w)
		}
	}
	// A copyable pull by digest, at the host the browser used.
	host := strings.TrimPrefix(base, "http://")
	var det registry.ImageDetail
	if err := json.Unmarshal([]byte(get(t, base+"/api/v1/image?repo=library/alpine&ref=3.19.4")), &det); err != nil {
		t.Fatal(err)
	}
	if w := `<code id="pull">docker pull ` + host + `/library/alpine@` + det.Digest + `</code>`; !strings.Contains(p, w) {
		t.Errorf("image page lacks %q", w)
	}
	// A clean image says so, on its page and in the tag list.
	if p := get(t, base+"/ui/image?repo=library/alpine&ref=clean"); !strings.Contains(p, `<span class="clean">no known vulnerabilities</span>`) || !strings.Contains(p, `<p class="allow">Allowed</p>`) {
		t.Errorf("clean image page:\n%s", p)
	}
	rows := tagRows(get(t, base+"/ui/repo?repo=library/alpine"))
	for tag, want := range map[string][]string{
		"3.19.4":   {`<span class="verdict deny"`, ">denied</span>", `<div class="bar"`, `class="sev-critical" style="width:25%"`, `class="sev-medium" style="width:25%"`},
		"unsigned": {">denied</span>", `<div class="bar"`},
		"clean":    {`<span class="verdict allow">allowed</span>`, `<span class="clean">no known vulnerabilities</span>`},
	} {
		for _, w := range want {
			if !strings.Contains(rows[tag], w) {
				t.Errorf("tag list row %q lacks %q:\n%s", tag, w, rows[tag])
			}
		}
	}
	if strings.Contains(rows["clean"], `class="bar"`) {
		t.Errorf("clean tag has a severity bar:\n%s", rows["clean"])
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

// tagRows splits the tag list page into its rows, by tag.
func tagRows(page string) map[string]string {
	rows := map[string]string{}
	for _, r := range strings.Split(page, `<tr class="tag">`)[1:] {
		r, _, _ = strings.Cut(r, "</tr>")
		if _, rest, ok := strings.Cut(r, "&amp;ref="); ok {
			tag, _, _ := strings.Cut(rest, `"`)
			rows[tag] = r
		}
	}
	return rows
}

// TestChromium renders the tag list and the image page in headless Chromium
// (Debian's chromium package): the rendered DOM has the verdicts, the bar, the
// findings and the pull command, and the screenshots show the colours of the
// severity bar and of the verdicts (pixels are looked for, not assumed).
// WARDEN_UI_SHOTS=DIR keeps the screenshots (tags.png, image.png) to look at.
func TestChromium(t *testing.T) {
	bin := testutil.RequireTool(t, "chromium")
	base := server(t)
	dir := t.TempDir()
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir=" + dir}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	for _, page := range []struct {
		name, url, size string
		dom             []string
		colours         map[string]color.RGBA // what must be visible, by what it shows
	}{
		{"tags", base + "/ui/repo?repo=library/alpine", "1280,500",
			[]string{"<th>Verdict</th>", `<span class="verdict allow">allowed</span>`, `<span class="verdict deny"`, "no known vulnerabilities", `class="bar"`},
			map[string]color.RGBA{"critical segment": {0x7b, 0x0d, 0x1e, 255}, "medium segment": {0xf2, 0xa5, 0x16, 255},
				"low segment": {0x5a, 0xa0, 0xd8, 255}, "allowed badge": {0xe3, 0xf4, 0xe8, 255}, "denied badge": {0xfb, 0xe4, 0xe5, 255}}},
		{"image", base + "/ui/image?repo=library/alpine&ref=3.19.4", "1280,1200",
			[]string{"CVE-2024-9143", "libssl3", "Denied", "<table>", "Signed by release.pub", `<tr class="signer"><td>release.pub</td>`,
				`<code id="pull">docker pull ` + strings.TrimPrefix(base, "http://") + "/library/alpine@sha256:", `>CVE-2021-44906</a>)</span>`},
			map[string]color.RGBA{"critical segment": {0x7b, 0x0d, 0x1e, 255}, "pull command": {0x1d, 0x23, 0x30, 255}}},
	} {
		t.Run(page.name, func(t *testing.T) {
			dom, err := exec.CommandContext(ctx, bin, append(args, "--dump-dom", page.url)...).Output()
			if err != nil {
				t.Fatalf("chromium --dump-dom: %v", err)
			}
			for _, w := range page.dom {
				if !strings.Contains(string(dom), w) {
					t.Errorf("rendered page lacks %q", w)
				}
			}
			shot := filepath.Join(dir, page.name+".png")
			if out, err := exec.CommandContext(ctx, bin, append(args, "--screenshot="+shot, "--window-size="+page.size, page.url)...).CombinedOutput(); err != nil {
				t.Fatalf("chromium --screenshot: %v\n%s", err, out)
			}
			f, err := os.Open(shot)
			if err != nil {
				t.Fatal(err)
			}
			img, err := png.Decode(f)
			f.Close()
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			for what, c := range page.colours {
				if n := countColour(img, c); n < 20 {
					t.Errorf("the %s (#%02x%02x%02x) is not visible in the screenshot (%d pixels)", what, c.R, c.G, c.B, n)
				}
			}
			if d := os.Getenv("WARDEN_UI_SHOTS"); d != "" {
				b, _ := os.ReadFile(shot)
				if err := os.WriteFile(filepath.Join(d, page.name+".png"), b, 0o644); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// countColour counts the pixels within a small distance of c.
func countColour(img image.Image, c color.RGBA) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if near(r>>8, c.R) && near(g>>8, c.G) && near(bl>>8, c.B) {
				n++
			}
		}
	}
	return n
}

func near(v uint32, want uint8) bool { d := int(v) - int(want); return d >= -6 && d <= 6 }

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
	if got["3.19.4"] != "verified:release.pub" || got["other"] != "invalid:" || got["unsigned"] != "not signed:" || got["clean"] != "not signed:" || len(got) != 4 {
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
