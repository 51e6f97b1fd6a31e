package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testutil"
)

// runDocCommand runs one warden command line from a doc. A server command
// (ready says when it is up) runs until ready returns nil, then is stopped;
// any other must exit 0.
func runDocCommand(t *testing.T, where string, args []string, server bool, ready func() error) {
	t.Helper()
	if !server {
		if out, stderr, code := runWardenCmd(t, args...); code != 0 {
			t.Errorf("%s: %q: exit %d\n%s%s", where, args, code, out, stderr)
		}
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := newRootCmd()
	var out lockedBuffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-done:
			t.Errorf("%s: %q exited: %v\n%s", where, args, err, out.String())
			return
		default:
		}
		err := ready()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%s: %q did not come up: %v\n%s", where, args, err, out.String())
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s: %q: %v", where, args, err)
		}
	case <-time.After(10 * time.Second):
		t.Errorf("%s: %q did not stop", where, args)
	}
}

func sortedLines(cmds map[int]string) []int {
	var lines []int
	for l := range cmds {
		lines = append(lines, l)
	}
	sort.Ints(lines)
	return lines
}

// TestAdmissionDocs runs every warden command line of docs/admission.md, in a
// directory holding the files they name (certificates, policy, config); the
// servers are started, answer /healthz over HTTPS and are stopped.
func TestAdmissionDocs(t *testing.T) {
	file := filepath.Join(testutil.RepoRoot(t), "docs", "admission.md")
	cmds := docCommands(t, file)
	dir := t.TempDir()
	pool := writeTLS(t, dir)
	writeFile(t, filepath.Join(dir, "policy.yaml"), "version: 1\ndefault: deny\n")
	writeFile(t, filepath.Join(dir, "admission.yaml"), "warn_namespaces: [staging]\ntimeout: 10s\ncache_ttl: 5m\n")
	t.Chdir(dir)
	addr := freeAddr(t)
	ran := 0
	for _, line := range sortedLines(cmds) {
		text := strings.ReplaceAll(cmds[line], "127.0.0.1:8443", addr)
		args := shellWords(text)[1:]
		where := fmt.Sprintf("docs/admission.md:%d", line)
		server := len(args) > 1 && args[0] == "admission" && args[1] != "manifests"
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 2 * time.Second}
		runDocCommand(t, where, args, server, func() error {
			res, err := client.Get("https://" + addr + "/healthz")
			if err == nil {
				res.Body.Close()
			}
			return err
		})
		ran++
	}
	if ran < 5 {
		t.Errorf("ran only %d command lines of %s", ran, file)
	}
}

// TestDockerAuthzDocs runs every warden command line of docs/docker-authz.md
// with its absolute paths moved into a temporary directory; each plugin
// answers /Plugin.Activate on its socket and is stopped.
func TestDockerAuthzDocs(t *testing.T) {
	file := filepath.Join(testutil.RepoRoot(t), "docs", "docker-authz.md")
	cmds := docCommands(t, file)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "policy.yaml"), "version: 1\ndefault: allow\n")
	socket := filepath.Join(dir, "authz.sock")
	ran := 0
	for _, line := range sortedLines(cmds) {
		text := strings.NewReplacer("/run/warden/authz.sock", socket, "/etc/warden/policy.yaml", filepath.Join(dir, "policy.yaml"),
			"/var/cache/warden", filepath.Join(dir, "cache")).Replace(cmds[line])
		args := shellWords(text)[1:]
		client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", socket)
		}}}
		runDocCommand(t, file, args, args[0] == "docker-authz", func() error {
			res, err := client.Post("http://plugin/Plugin.Activate", "application/json", nil)
			if err != nil {
				return err
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			if !strings.Contains(string(b), `"authz"`) {
				t.Errorf("activate answered %s", b)
			}
			return nil
		})
		ran++
	}
	if ran < 2 {
		t.Errorf("ran only %d command lines of %s", ran, file)
	}
}
