package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
)

// pluginSpecDir is where dockerd finds plugin spec files (moby
// pkg/plugins/discovery_unix.go: /etc/docker/plugins, /usr/lib/docker/plugins).
const pluginSpecDir = "/etc/docker/plugins"

// helloImage is a runnable image: a static Go program that prints msg.
func helloImage(t *testing.T, msg string) v1.Image {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "go.mod"), "module hello\n\ngo 1.22\n")
	writeFile(t, filepath.Join(dir, "main.go"), "package main\n\nimport \"os\"\n\nfunc main() { os.Stdout.WriteString(\""+msg+"\\n\") }\n")
	c := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", "hello", ".")
	c.Dir = dir
	c.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("building the test program: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(filepath.Join(dir, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	img := testimage.Image(t, nil, testimage.Layer(t, testimage.File{Path: "hello", Content: bin, Mode: 0o755}))
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Config.Entrypoint = []string{"/hello"}
	cf.Config.User = "1000"
	cf.OS, cf.Architecture = "linux", "amd64"
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// testDockerd is a second Docker Engine started by the test as root, with its
// own roots and socket, its authorization plugin named warden.
type testDockerd struct {
	dir  string
	host string // unix://…
	cmd  *exec.Cmd
	log  string
}

// newDockerd prepares the second Engine's directory (short: containerd's
// sockets live under the exec root) and address; start starts it.
func newDockerd(t *testing.T) *testDockerd {
	t.Helper()
	testutil.RequireTool(t, "dockerd")
	testutil.RequireTool(t, "docker")
	if os.Geteuid() != 0 {
		testutil.Missing(t, "root (to start a second dockerd)")
	}
	dir, err := os.MkdirTemp("/tmp", "wdk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &testDockerd{dir: dir, host: "unix://" + filepath.Join(dir, "d.sock"), log: filepath.Join(dir, "dockerd.log")}
}

func (d *testDockerd) start(t *testing.T, plugin string) {
	t.Helper()
	dockerd := testutil.RequireTool(t, "dockerd")
	dir := d.dir
	writeFile(t, filepath.Join(dir, "daemon.json"), "{}\n")
	logf, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	bridge := testBridge(t)
	d.cmd = exec.Command(dockerd,
		"--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "x"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"-H", d.host,
		// Not --bridge=none: a daemon started so deletes the interface docker0
		// (moby's removeDefaultBridgeInterface), which in the host's network
		// namespace is the machine's Engine's bridge. A bridge of the test's own.
		"--bridge="+bridge, "--iptables=false", "--ip6tables=false", "--ip-masq=false",
		"--storage-driver", "vfs",
		"--authorization-plugin="+plugin)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("starting dockerd: %v", err)
	}
	t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(d.log)
			t.Logf("dockerd log (tail):\n%s", tail(string(b), 3000))
		}
		_ = exec.Command("umount", "-R", filepath.Join(dir, "data")).Run()
		os.RemoveAll(dir)
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := d.docker("version"); err == nil {
			return
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(d.log)
			t.Fatalf("the second dockerd did not come up:\n%s", tail(string(b), 3000))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// testBridge makes a bridge interface for the second dockerd and removes it at
// the end; it also checks that the machine's docker0, if there was one, is
// still there then.
func testBridge(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("wdk%d", os.Getpid()%100000)
	hadDocker0 := exec.Command("ip", "link", "show", "docker0").Run() == nil
	exec.Command("ip", "link", "del", name).Run() // a leftover of a killed run
	for _, args := range [][]string{
		{"link", "add", name, "type", "bridge"},
		{"addr", "add", fmt.Sprintf("10.213.%d.1/24", os.Getpid()%250), "dev", name},
		{"link", "set", name, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", name).Run()
		if hadDocker0 && exec.Command("ip", "link", "show", "docker0").Run() != nil {
			t.Error("the machine's docker0 bridge is gone after the second dockerd ran")
		}
	})
	return name
}

func (d *testDockerd) docker(args ...string) (string, error) {
	c := exec.Command("docker", append([]string{"-H", d.host}, args...)...)
	c.Env = append(os.Environ(), "DOCKER_CONFIG="+filepath.Join(d.dir, "cli"), "DOCKER_CONTENT_TRUST=")
	out, err := c.CombinedOutput()
	return string(out), err
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// installPluginSpec writes /etc/docker/plugins/NAME.spec pointing at socket,
// refusing to replace one it did not write, and removes it at the end.
func installPluginSpec(t *testing.T, pluginName, socket string) {
	t.Helper()
	if err := os.MkdirAll(pluginSpecDir, 0o755); err != nil {
		testutil.Missing(t, "a writable "+pluginSpecDir+" ("+err.Error()+")")
	}
	lock, err := os.OpenFile(filepath.Join(pluginSpecDir, ".warden-test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(pluginSpecDir, pluginName+".spec")
	if b, err := os.ReadFile(spec); err == nil {
		// A spec left by a run of this test that was killed points into its temp dir.
		if !strings.Contains(string(b), "/TestDockerAuthz") {
			t.Fatalf("%s exists (%q): this test will not replace a plugin spec it did not write", spec, b)
		}
		os.Remove(spec)
	}
	writeFile(t, spec, "unix://"+socket+"\n")
	t.Cleanup(func() {
		os.Remove(spec)
		syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
	})
}

// TestDockerAuthz: a second dockerd with --authorization-plugin=warden and
// `warden docker-authz` in front of it, pulling from a `warden serve` on
// 127.0.0.1. Unsigned pull and run are refused with Warden's reason in the
// CLI's error; after `warden sign` both succeed; the tag moved to another
// digest after signing is refused; with the plugin down the Engine refuses.
func TestDockerAuthz(t *testing.T) {
	testutil.RequireTool(t, "go")
	addr := startServe(t, "--root", t.TempDir(), "--no-scan")
	dir := t.TempDir()
	t.Setenv("WARDEN_PASSWORD", "pw")
	if _, stderr, code := runWardenCmd(t, "keygen", "--output-key-prefix", filepath.Join(dir, "release")); code != 0 {
		t.Fatalf("keygen: %s", stderr)
	}
	pol := filepath.Join(dir, "policy.yaml")
	writeFile(t, pol, "version: 1\ndefault: allow\nrules:\n  - name: prod\n    match: [\""+addr+"/prod/**\"]\n    signatures: {keys: [release.pub]}\n")
	ref := addr + "/prod/hello:1"
	rf, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(rf, helloImage(t, "hello from a signed image")); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}

	socket := filepath.Join(dir, "authz.sock")
	installPluginSpec(t, "warden", socket)
	// The plugin answers before the Engine starts: the Engine activates it then.
	d := newDockerd(t)
	stopPlugin := startDockerAuthz(t, "--socket", socket, "--policy", pol, "--engine", d.host)
	d.start(t, "warden")

	out, err := d.docker("pull", ref)
	if err == nil || !strings.Contains(out, "authorization denied by plugin warden") || !strings.Contains(out, "signatures: the image is not signed") {
		t.Errorf("pull of the unsigned image: err=%v\n%s", err, out)
	}
	t.Logf("unsigned pull: %s", strings.TrimSpace(out))
	out, err = d.docker("run", "--rm", "--network", "none", ref)
	if err == nil || !strings.Contains(out, "authorization denied by plugin warden") || !strings.Contains(out, "not signed") {
		t.Errorf("run of the unsigned image: err=%v\n%s", err, out)
	}
	t.Logf("unsigned run: %s", strings.TrimSpace(out))

	if _, stderr, code := runWardenCmd(t, "sign", "--key", filepath.Join(dir, "release.key"), ref); code != 0 {
		t.Fatalf("warden sign: %s", stderr)
	}
	if out, err := d.docker("pull", ref); err != nil {
		t.Fatalf("pull after warden sign: %v\n%s", err, out)
	}
	out, err = d.docker("run", "--rm", "--network", "none", ref)
	if err != nil || !strings.Contains(out, "hello from a signed image") {
		t.Errorf("run after warden sign: err=%v\n%s", err, out)
	}

	// The tag moves to another (unsigned) image after signing.
	if err := remote.Write(rf, helloImage(t, "hello from a moved tag")); err != nil {
		t.Fatal(err)
	}
	out, err = d.docker("pull", ref)
	if err == nil || !strings.Contains(out, "authorization denied by plugin warden") || !strings.Contains(out, "not signed") {
		t.Errorf("pull of the moved tag: err=%v\n%s", err, out)
	}

	// Plugin down: the Engine refuses (Docker's own fail-closed rule).
	stopPlugin()
	out, err = d.docker("pull", ref)
	if err == nil || !strings.Contains(out, "warden") {
		t.Errorf("pull with the plugin down: err=%v\n%s", err, out)
	}
	t.Logf("plugin down: %s", strings.TrimSpace(out))
	out, err = d.docker("run", "--rm", "--network", "none", ref)
	if err == nil {
		t.Errorf("run with the plugin down succeeded:\n%s", out)
	}
}

// startDockerAuthz runs `warden docker-authz` in-process until the returned
// stop function (also called at the end of the test).
func startDockerAuthz(t *testing.T, args ...string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCmd()
	var out lockedBuffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"docker-authz"}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("warden docker-authz: %v\n%s", err, out.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("warden docker-authz did not stop")
		}
	}
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "listening on") {
		select {
		case err := <-done:
			stopped = true
			t.Fatalf("warden docker-authz exited: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("warden docker-authz did not start:\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return stop
}
