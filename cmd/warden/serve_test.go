package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/crypto/bcrypt"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/registry"
)

// lockedBuffer is a bytes.Buffer safe for the server goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startServe runs `warden serve` in-process on a free loopback port and
// returns host:port; the server stops at the end of the test.
func startServe(t *testing.T, args ...string) string {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCmd()
	var out lockedBuffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"serve", "--addr", addr}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("warden serve did not stop")
		}
	})
	waitUp(t, addr, done, &out)
	return addr
}

func waitUp(t *testing.T, addr string, done chan error, out fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("warden serve exited: %v\n%s", err, out)
		default:
		}
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("warden serve did not come up on %s:\n%s", addr, out)
}

func TestServeRefusesNonLoopbackWithoutAuth(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:5000"} {
		_, stderr, code := runWardenCmd(t, "serve", "--addr", addr, "--root", t.TempDir(), "--no-scan")
		if code != exitError || !strings.Contains(stderr, "without authentication") {
			t.Errorf("serve --addr %s: exit %d, %q", addr, code, stderr)
		}
	}
	_, stderr, code := runWardenCmd(t, "serve", "--root", t.TempDir(), "--no-scan", "--htpasswd", filepath.Join(t.TempDir(), "missing"))
	if code != exitError || !strings.Contains(stderr, "htpasswd") {
		t.Errorf("missing htpasswd: exit %d, %q", code, stderr)
	}
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("addr: 127.0.0.1:0\nbogus: 1\n"), 0o644)
	_, stderr, code = runWardenCmd(t, "serve", "--config", cfg)
	if code != exitError || !strings.Contains(stderr, "bogus") {
		t.Errorf("unknown config key: exit %d, %q", code, stderr)
	}
}

func crane(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := testutil.RequireTool(t, "crane")
	out, err := exec.Command(bin, args...).CombinedOutput()
	return string(out), err
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil && resp.StatusCode == 200 {
		t.Fatalf("%s: %v", url, err)
	}
	return resp.StatusCode
}

// TestServeAlpineScanAndGate: pushing the Alpine 3.19.4 image makes its
// CVE-2024-9143 findings (MEDIUM, NVD's 4.3) appear in the JSON API and the UI,
// and a gate with max severity LOW then denies its pull with that CVE in the message.
func TestServeAlpineScanAndGate(t *testing.T) {
	state, _ := scanState(t, "alpine-secdb/v3.19", nvdFeeds(t))
	addr := startServe(t, "--cache-dir", state, "--root", t.TempDir(), "--gate-repos", "prod/**", "--gate-max-severity", "LOW")
	layout := filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4")
	for _, repo := range []string{"prod/alpine", "dev/alpine"} {
		if out, err := crane(t, "push", "--insecure", layout, addr+"/"+repo+":3.19.4"); err != nil {
			t.Fatalf("crane push: %v\n%s", err, out)
		}
	}
	var info registry.ImageDetail
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		info = registry.ImageDetail{}
		getJSON(t, "http://"+addr+"/api/v1/image?repo=prod/alpine&ref=3.19.4", &info)
		if info.Scan != nil && (info.Scan.State == "done" || info.Scan.State == "failed") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if info.Scan == nil || info.Scan.Result == nil {
		t.Fatalf("no scan result: %+v", info.Scan)
	}
	var ids []string
	for _, f := range info.Scan.Result.Findings {
		ids = append(ids, f.ID+"/"+f.Package+"/"+f.Version+"/"+f.FixedVersion+"/"+f.Severity)
		if f.Title != alpineTitle {
			t.Errorf("%s on %s: title %q, want NVD's %q", f.ID, f.Package, f.Title, alpineTitle)
		}
	}
	got := strings.Join(ids, " ")
	for _, want := range []string{"CVE-2024-9143/libcrypto3/3.1.7-r0/3.1.7-r1", "CVE-2024-9143/libssl3/3.1.7-r0/3.1.7-r1"} {
		if !strings.Contains(got, want) {
			t.Errorf("findings %q lack %s", got, want)
		}
	}
	if len(ids) != 2 {
		t.Errorf("want exactly the two CVE-2024-9143 findings, got %v", ids)
	}
	if info.Verdict == nil || info.Verdict.Allow || !strings.Contains(strings.Join(info.Verdict.Reasons, " "), "CVE-2024-9143") {
		t.Errorf("verdict %+v", info.Verdict)
	}
	// The UI shows the finding on the image page.
	resp, err := http.Get("http://" + addr + "/ui/image?repo=prod/alpine&ref=3.19.4")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Each finding links to the Alpine tracker's page (the secdb has no URL of its own).
	for _, want := range []string{"CVE-2024-9143", "libssl3", "3.1.7-r1", "Denied", `<a href="https://security.alpinelinux.org/vuln/CVE-2024-9143">CVE-2024-9143</a>`,
		`<span class="badge sev-medium">MEDIUM</span>`, "docker pull " + addr + "/prod/alpine@sha256:", "<td>" + alpineTitle + "</td>"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("UI image page lacks %q", want)
		}
	}
	// The SBOM download lists the image's packages.
	if !info.SBOM || !bytes.Contains(page, []byte("format=cyclonedx-json")) {
		t.Errorf("no SBOM link (sbomAvailable=%v)", info.SBOM)
	}
	resp, err = http.Get("http://" + addr + "/api/v1/sbom?repo=dev/alpine&ref=3.19.4&format=cyclonedx-json")
	if err != nil {
		t.Fatal(err)
	}
	bom, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(bom, []byte(`"bomFormat"`)) || !bytes.Contains(bom, []byte("pkg:apk/alpine/libssl3@3.1.7-r0")) {
		t.Errorf("SBOM download: %d %.300s", resp.StatusCode, bom)
	}
	// The denied image's SBOM is gated like its manifest (the json format names
	// every layer blob: enough to rebuild the image).
	for _, f := range []string{"json", "cyclonedx-json", "spdx-json"} {
		resp, err = http.Get("http://" + addr + "/api/v1/sbom?repo=prod/alpine&ref=3.19.4&format=" + f)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 403 || !bytes.Contains(b, []byte("DENIED")) || !bytes.Contains(b, []byte("CVE-2024-9143")) {
			t.Errorf("SBOM (%s) of the denied image: %d %.300s", f, resp.StatusCode, b)
		}
	}
	// crane pull of the gated repository fails with the CVE; the ungated one works.
	out, err := crane(t, "manifest", "--insecure", addr+"/prod/alpine:3.19.4")
	if err == nil || !strings.Contains(out, "DENIED") || !strings.Contains(out, "CVE-2024-9143") {
		t.Errorf("pull of prod/alpine: err=%v\n%s", err, out)
	}
	if out, err := crane(t, "pull", "--insecure", addr+"/dev/alpine:3.19.4", filepath.Join(t.TempDir(), "a.tar")); err != nil {
		t.Errorf("pull of dev/alpine: %v\n%s", err, out)
	}
	// Metrics count the denial.
	resp, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(m, []byte("warden_registry_pulls_denied_total")) || !bytes.Contains(m, []byte(`warden_registry_scans_total{result="ok"} 2`)) {
		t.Errorf("metrics:\n%s", m)
	}
}

// TestServeHelperProcess is not a test: TestServeKillDuringUpload runs the
// test binary with WARDEN_SERVE_CHILD set to make it a `warden serve` child.
func TestServeHelperProcess(t *testing.T) {
	env := os.Getenv("WARDEN_SERVE_CHILD")
	if env == "" {
		t.Skip("helper process for TestServeKillDuringUpload")
	}
	var args []string
	if err := json.Unmarshal([]byte(env), &args); err != nil {
		t.Fatal(err)
	}
	root := newRootCmd()
	root.SetArgs(args)
	if err := root.ExecuteContext(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func startChild(t *testing.T, addr, root string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	args, _ := json.Marshal([]string{"serve", "--addr", addr, "--root", root, "--no-scan"})
	cmd.Env = append(os.Environ(), "WARDEN_SERVE_CHILD="+string(args))
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })
	waitUp(t, addr, done, &out)
	return cmd
}

// TestServeKillDuringUpload: SIGKILL of the server in the middle of a blob
// upload leaves no partial blob; after a restart the upload can be resumed
// or redone.
func TestServeKillDuringUpload(t *testing.T) {
	root := t.TempDir()
	addr := freeAddr(t)
	child := startChild(t, addr, root)
	blob := make([]byte, 8<<20)
	_, _ = rand.Read(blob)
	sum := sha256.Sum256(blob)
	dig := "sha256:" + hex.EncodeToString(sum[:])
	base := "http://" + addr + "/v2/crash/app/blobs/"

	resp, err := http.Post(base+"uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	// First chunk completes.
	req, _ := http.NewRequest("PATCH", "http://"+addr+loc, bytes.NewReader(blob[:2<<20]))
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 202 {
		t.Fatalf("first chunk: %v %v", err, resp)
	}
	resp.Body.Close()
	// Second chunk: the server is killed while the body streams in.
	pr, pw := io.Pipe()
	go func() {
		pw.Write(blob[2<<20 : 3<<20])
		child.Process.Signal(syscall.SIGKILL)
		time.Sleep(200 * time.Millisecond)
		pw.CloseWithError(io.ErrUnexpectedEOF)
	}()
	req, _ = http.NewRequest("PATCH", "http://"+addr+loc, pr)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Logf("PATCH during kill answered %d", resp.StatusCode)
	}
	time.Sleep(300 * time.Millisecond)

	startChild(t, addr, root)
	// No blob under the digest, in the API or on disk.
	if resp, err := http.Head(base + dig); err != nil || resp.StatusCode != 404 {
		t.Fatalf("HEAD after crash: %v %v", err, resp)
	}
	if _, err := os.Stat(filepath.Join(root, "blobs", "sha256", dig[7:9], dig[7:])); err == nil {
		t.Fatal("partial blob stored under its digest")
	}
	// The session survived with the bytes that made it to disk; resume from there.
	resp, err = http.Get("http://" + addr + loc)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("upload status after restart: %v %v", err, resp)
	}
	var end int64
	fmt.Sscanf(resp.Header.Get("Range"), "0-%d", &end)
	have := end + 1
	if have < 2<<20 || have > 3<<20 {
		t.Fatalf("resumed upload has %d bytes; want between the first chunk and what was sent", have)
	}
	req, _ = http.NewRequest("PUT", "http://"+addr+loc+"?digest="+dig, bytes.NewReader(blob[have:]))
	req.Header.Set("Content-Range", fmt.Sprintf("%d-%d", have, len(blob)-1))
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("resumed upload: %v %v", err, resp)
	}
	resp.Body.Close()
	// And a fresh monolithic upload of the same blob also works (redo).
	resp, err = http.Post(base+"uploads/?digest="+dig, "application/octet-stream", bytes.NewReader(blob))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("redo: %v %v", err, resp)
	}
	resp.Body.Close()
	resp, err = http.Get(base + dig)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, blob) {
		t.Fatalf("blob after crash and resume differs (%d bytes)", len(got))
	}
}

// TestServeGCCommand: `warden serve gc` removes blobs no manifest references.
func TestServeGCCommand(t *testing.T) {
	root := t.TempDir()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := newRootCmd()
	var out lockedBuffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs([]string{"serve", "--addr", addr, "--root", root, "--no-scan"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	waitUp(t, addr, done, &out)
	blob := []byte("an orphan blob")
	sum := sha256.Sum256(blob)
	dig := "sha256:" + hex.EncodeToString(sum[:])
	resp, err := http.Post("http://"+addr+"/v2/gc/x/blobs/uploads/?digest="+dig, "application/octet-stream", bytes.NewReader(blob))
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("push: %v %v", err, resp)
	}
	resp.Body.Close()
	cancel()
	<-done
	stdout, stderr, code := runWardenCmd(t, "serve", "gc", "--root", root, "--dry-run")
	if code != 0 || !strings.Contains(stdout, "would delete 1 blobs (14 bytes)") {
		t.Fatalf("gc --dry-run: %d %q %q", code, stdout, stderr)
	}
	stdout, stderr, code = runWardenCmd(t, "serve", "gc", "--root", root)
	if code != 0 || !strings.Contains(stdout, "deleted 1 blobs (14 bytes)") {
		t.Fatalf("gc: %d %q %q", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "blobs", "sha256", dig[7:9], dig[7:])); err == nil {
		t.Error("orphan still on disk")
	}
}

// TestServeTokenAuth: with an htpasswd file and the token flow, the real
// Docker CLI logs in and pushes, crane with credentials pulls, and anonymous
// or wrong-password clients are refused.
func TestServeTokenAuth(t *testing.T) {
	testutil.RequireDocker(t)
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(dir, "htpasswd")
	os.WriteFile(htpasswd, []byte("alice:"+string(hash)+"\n"), 0o600)
	addr := startServe(t, "--root", t.TempDir(), "--no-scan", "--htpasswd", htpasswd, "--token")

	// Anonymous: 401 with a Bearer challenge naming /token.
	resp, err := http.Get("http://" + addr + "/v2/team/app/tags/list")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if ch := resp.Header.Get("WWW-Authenticate"); resp.StatusCode != 401 || !strings.Contains(ch, `Bearer realm="http://`+addr+`/token"`) {
		t.Fatalf("anonymous: %d %q", resp.StatusCode, ch)
	}

	cfg := filepath.Join(dir, "docker")
	login := exec.Command("docker", "--config", cfg, "login", "--username", "alice", "--password-stdin", addr)
	login.Stdin = strings.NewReader("wrong\n")
	if out, err := login.CombinedOutput(); err == nil {
		t.Fatalf("docker login with a wrong password succeeded:\n%s", out)
	}
	login = exec.Command("docker", "--config", cfg, "login", "--username", "alice", "--password-stdin", addr)
	login.Stdin = strings.NewReader("s3cret\n")
	if out, err := login.CombinedOutput(); err != nil {
		t.Fatalf("docker login: %v\n%s", err, out)
	}
	ref := addr + "/team/app:1"
	img := filepath.Join(dir, "img.tar")
	if err := crane2Tar(img); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", ref).Run() })
	for _, args := range [][]string{{"load", "-i", img}, {"tag", "warden-test/auth:1", ref}, {"--config", cfg, "push", ref}} {
		if out, err := exec.Command("docker", args...).CombinedOutput(); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	exec.Command("docker", "rmi", "-f", "warden-test/auth:1").Run()
	// crane: anonymous refused, with credentials fine.
	if out, err := crane(t, "manifest", "--insecure", ref); err == nil || !strings.Contains(out, "UNAUTHORIZED") {
		t.Errorf("anonymous crane manifest: %v\n%s", err, out)
	}
	craneCfg := filepath.Join(dir, "crane")
	bin := testutil.RequireTool(t, "crane")
	c := exec.Command(bin, "auth", "login", addr, "-u", "alice", "-p", "s3cret")
	c.Env = append(os.Environ(), "DOCKER_CONFIG="+craneCfg)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("crane auth login: %v\n%s", err, out)
	}
	c = exec.Command(bin, "manifest", "--insecure", ref)
	c.Env = append(os.Environ(), "DOCKER_CONFIG="+craneCfg)
	if out, err := c.CombinedOutput(); err != nil {
		t.Errorf("crane manifest with credentials: %v\n%s", err, out)
	}
}

// crane2Tar writes a one-layer image tagged warden-test/auth:1 as a docker archive.
func crane2Tar(path string) error {
	tag, err := name.NewTag("warden-test/auth:1")
	if err != nil {
		return err
	}
	img, err := random.Image(2048, 1)
	if err != nil {
		return err
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	return tarball.WriteToFile(path, tag, img)
}

// TestServePolicy: with --policy, the registry decides pulls with pkg/policy
// (the same Evaluate as `warden check`): Alpine 3.19.4 under prod/ is denied
// for CVE-2024-9143 (UNKNOWN severity counts as CRITICAL), dev/ is allowed.
func TestServePolicy(t *testing.T) {
	state, _ := scanState(t, "alpine-secdb/v3.19")
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	writeFile(t, pol, "version: 1\ndefault: allow\nrules:\n  - match: [\"registry.test/prod/**\"]\n    vulnerabilities: {max_severity: MEDIUM}\n")
	addr := startServe(t, "--cache-dir", state, "--root", t.TempDir(), "--policy", pol, "--host", "registry.test")
	layout := filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4")
	for _, repo := range []string{"prod/alpine", "dev/alpine"} {
		if out, err := crane(t, "push", "--insecure", layout, addr+"/"+repo+":3.19.4"); err != nil {
			t.Fatalf("crane push: %v\n%s", err, out)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	var out string
	var err error
	for time.Now().Before(deadline) {
		out, err = crane(t, "manifest", "--insecure", addr+"/prod/alpine:3.19.4")
		if strings.Contains(out, "CVE-2024-9143") {
			break
		}
		time.Sleep(250 * time.Millisecond) // denied as not scanned until the scan lands
	}
	if err == nil || !strings.Contains(out, "DENIED") || !strings.Contains(out, "CVE-2024-9143") {
		t.Errorf("pull of prod/alpine under the policy: err=%v\n%s", err, out)
	}
	t.Logf("denied pull: %s", strings.TrimSpace(out))
	if out, err := crane(t, "manifest", "--insecure", addr+"/dev/alpine:3.19.4"); err != nil {
		t.Errorf("pull of dev/alpine: %v\n%s", err, out)
	}
	_, stderr, code := runWardenCmd(t, "serve", "--root", t.TempDir(), "--no-scan", "--policy", filepath.Join(t.TempDir(), "missing.yaml"))
	if code != exitError || !strings.Contains(stderr, "--policy") {
		t.Errorf("missing policy: exit %d %q", code, stderr)
	}
}

// TestServeGateway: `warden serve --upstream` in front of another `warden
// serve`: crane pulls through it, and the gateway's gate applies.
func TestServeGateway(t *testing.T) {
	up := startServe(t, "--root", t.TempDir(), "--no-scan")
	layout := filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4")
	for _, repo := range []string{"prod/alpine", "dev/alpine"} {
		if out, err := crane(t, "push", "--insecure", layout, up+"/"+repo+":3.19.4"); err != nil {
			t.Fatalf("crane push: %v\n%s", err, out)
		}
	}
	gw := startServe(t, "--root", t.TempDir(), "--no-scan", "--upstream", "http://"+up, "--gate-repos", "prod/**")
	if out, err := crane(t, "pull", "--insecure", gw+"/dev/alpine:3.19.4", filepath.Join(t.TempDir(), "a.tar")); err != nil {
		t.Errorf("pull through the gateway: %v\n%s", err, out)
	}
	out, err := crane(t, "manifest", "--insecure", gw+"/prod/alpine:3.19.4")
	if err == nil || !strings.Contains(out, "DENIED") || !strings.Contains(out, "has not been scanned") {
		t.Errorf("gated pull through the gateway: %v\n%s", err, out)
	}
}

// TestServeCosign: cosign signs and verifies against warden serve. The repository
// is gated (images are unscanned, so plain pulls are denied), yet the signer,
// granted bypass there, can sign and verify, while a pull-only user gets DENIED.
func TestServeCosign(t *testing.T) {
	cosign := testutil.RequireTool(t, "cosign")
	dir := t.TempDir()
	var users strings.Builder
	for _, u := range []string{"alice", "bob"} {
		h, _ := bcrypt.GenerateFromPassword([]byte(u+"-pw"), bcrypt.MinCost)
		users.WriteString(u + ":" + string(h) + "\n")
	}
	writeFile(t, filepath.Join(dir, "htpasswd"), users.String())
	writeFile(t, filepath.Join(dir, "serve.yaml"), `auth:
  htpasswd: `+filepath.Join(dir, "htpasswd")+`
  token: true
  access:
    - {repo: "**", users: [alice], actions: ["*", bypass]}
    - {repo: "**", users: [bob], actions: [pull]}
gate: {repos: ["prod/**"]}
scan: {disabled: true}
`)
	addr := startServe(t, "--root", t.TempDir(), "--config", filepath.Join(dir, "serve.yaml"))
	login := func(user string) []string {
		cfg := filepath.Join(dir, user)
		bin := testutil.RequireTool(t, "crane")
		c := exec.Command(bin, "auth", "login", addr, "-u", user, "-p", user+"-pw")
		c.Env = append(os.Environ(), "DOCKER_CONFIG="+cfg)
		if out, err := c.CombinedOutput(); err != nil {
			t.Fatalf("crane auth login %s: %v\n%s", user, err, out)
		}
		return append(os.Environ(), "DOCKER_CONFIG="+cfg, "HOME="+dir, "TUF_ROOT="+filepath.Join(dir, "tuf"),
			"COSIGN_PASSWORD=", "COSIGN_EXPERIMENTAL=0", "SIGSTORE_NO_CACHE=true")
	}
	alice, bob := login("alice"), login("bob")
	run := func(env []string, bin string, args ...string) (string, error) {
		c := exec.Command(bin, args...)
		c.Dir, c.Env = dir, env
		out, err := c.CombinedOutput()
		return string(out), err
	}
	craneBin := testutil.RequireTool(t, "crane")
	img := filepath.Join(dir, "img.tar")
	if err := crane2Tar(img); err != nil {
		t.Fatal(err)
	}
	if out, err := run(alice, craneBin, "push", img, addr+"/prod/app:1"); err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	d, err := run(alice, craneBin, "digest", addr+"/prod/app:1")
	if err != nil {
		t.Fatalf("digest as alice (granted bypass, so not gated): %v\n%s", err, d)
	}
	ref := addr + "/prod/app@" + strings.TrimSpace(d)
	if out, err := run(bob, craneBin, "manifest", ref); err == nil || !strings.Contains(out, "DENIED") || !strings.Contains(out, "has not been scanned") {
		t.Errorf("bob (pull only) got the gated image: %v\n%s", err, out)
	}
	if out, err := run(alice, cosign, "generate-key-pair"); err != nil {
		t.Fatalf("cosign generate-key-pair: %v\n%s", err, out)
	}
	if out, err := run(alice, cosign, "sign", "--key", "cosign.key", "--tlog-upload=false", "--use-signing-config=false", "--new-bundle-format=false", "-y", ref); err != nil {
		t.Fatalf("cosign sign: %v\n%s", err, out)
	}
	if out, err := run(alice, cosign, "verify", "--key", "cosign.pub", "--insecure-ignore-tlog=true", "--new-bundle-format=false", ref); err != nil {
		t.Fatalf("cosign verify: %v\n%s", err, out)
	}
	// The signature tag is readable by the pull-only user.
	if out, err := run(bob, craneBin, "manifest", addr+"/prod/app:"+strings.Replace(strings.TrimSpace(d), ":", "-", 1)+".sig"); err != nil {
		t.Errorf("bob reading the .sig tag: %v\n%s", err, out)
	}
}

// TestServeRescanOnDBUpdate: Alpine 3.19.4 is pushed while the database has no
// Alpine data (no findings); `warden db import` of the Alpine secdb then makes
// the server re-match the stored image and post CVE-2024-9143 to the webhook.
func TestServeRescanOnDBUpdate(t *testing.T) {
	state, _ := scanState(t, "ghsa-osv")
	events := make(chan registry.WebhookEvent, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev registry.WebhookEvent
		json.NewDecoder(r.Body).Decode(&ev)
		events <- ev
	}))
	defer hook.Close()
	cfg := filepath.Join(t.TempDir(), "serve.yaml")
	writeFile(t, cfg, "scan: {webhook: \""+hook.URL+"\", dbCheck: 100ms}\n")
	addr := startServe(t, "--cache-dir", state, "--root", t.TempDir(), "--config", cfg)
	layout := filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4")
	if out, err := crane(t, "push", "--insecure", layout, addr+"/library/alpine:3.19.4"); err != nil {
		t.Fatalf("crane push: %v\n%s", err, out)
	}
	var info registry.ImageDetail
	for i := 0; i < 300; i++ {
		info = registry.ImageDetail{}
		getJSON(t, "http://"+addr+"/api/v1/image?repo=library/alpine&ref=3.19.4", &info)
		if info.Scan != nil && info.Scan.State == "done" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if info.Scan == nil || info.Scan.Result == nil || len(info.Scan.Result.Findings) != 0 {
		t.Fatalf("first scan: %+v", info.Scan)
	}
	if _, stderr, code := runWardenCmd(t, "--cache-dir", state, "db", "import", filepath.Join(testutil.Corpus(t), "feeds", "alpine-secdb", "v3.19")); code != 0 {
		t.Fatalf("db import: %s", stderr)
	}
	select {
	case ev := <-events:
		var ids []string
		for _, f := range ev.NewFindings {
			ids = append(ids, f.ID+"/"+f.Package)
		}
		if ev.Repository != "library/alpine" || strings.Join(ev.Tags, ",") != "3.19.4" ||
			strings.Join(ids, " ") != "CVE-2024-9143/libcrypto3 CVE-2024-9143/libssl3" {
			t.Errorf("webhook event: %+v", ev)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("no webhook after the database update")
	}
}

// TestServeTLS: --tls-cert/--tls-key serve HTTPS; a certificate without its key is refused.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "warden test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	writeFile(t, filepath.Join(dir, "cert.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, filepath.Join(dir, "key.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	addr := startServe(t, "--root", t.TempDir(), "--no-scan", "--tls-cert", filepath.Join(dir, "cert.pem"), "--tls-key", filepath.Join(dir, "key.pem"))
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get("https://" + addr + "/v2/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Docker-Distribution-API-Version") != "registry/2.0" {
		t.Errorf("https ping: %d %v", resp.StatusCode, resp.Header)
	}
	_, stderr, code := runWardenCmd(t, "serve", "--root", t.TempDir(), "--no-scan", "--tls-cert", filepath.Join(dir, "cert.pem"))
	if code != exitError || !strings.Contains(stderr, "both --tls-cert and --tls-key") {
		t.Errorf("cert without key: %d %q", code, stderr)
	}
}
