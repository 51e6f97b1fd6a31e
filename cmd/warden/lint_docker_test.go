package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/lint"
)

// TestLintDockerBuild: an image built by the real Docker Engine from a
// Dockerfile — a build argument used in RUN, a key copied in, chmod-ed (the
// key is copied up into that layer too) and deleted, a secret ENV — is read
// through the docker: source, and lint reports each leak with its layer, from
// the history in the form the Engine writes it.
func TestLintDockerBuild(t *testing.T) {
	testutil.RequireDocker(t)
	dir := t.TempDir()
	tag := fmt.Sprintf("warden-test-lint-%d", os.Getpid())
	base, leaky := tag+"/alpine:3.19.4", tag+"/leaky:1.0"
	t.Cleanup(func() { _ = exec.Command("docker", "rmi", "-f", leaky, base).Run() })

	src, err := os.ReadFile(filepath.Join(testutil.Corpus(t), "images", "alpine-minirootfs-3.19.4-x86_64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"alpine.tar.gz":   string(src),
		"Dockerfile.base": "FROM scratch\nADD alpine.tar.gz /\nCMD [\"/bin/sh\"]\n",
		"id_ed25519":      fakeSSHKey,
		"Dockerfile": `FROM ` + base + `
ARG NPM_TOKEN
COPY id_ed25519 /root/.ssh/id_ed25519
RUN chmod 600 /root/.ssh/id_ed25519 && test -n "$NPM_TOKEN"
RUN rm /root/.ssh/id_ed25519
ENV APP_PASSWORD=Sup3rS3cretValue
`,
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	build := func(args ...string) {
		t.Helper()
		cmd := exec.Command("docker", append([]string{"build", "-q"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0") // the classic builder: no network, no buildx needed
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker build %v: %v\n%s", args, err, out)
		}
	}
	build("-f", "Dockerfile.base", "-t", base, ".")
	build("--build-arg", "NPM_TOKEN=npm_abcdefgh12345678", "-t", leaky, ".")

	out, stderr, code := runWardenCmd(t, "lint", "docker:"+leaky, "--format", "json", "--fail-on", "critical", "--no-cache")
	if code != exitFail {
		t.Fatalf("exit %d, want 3: %s", code, stderr)
	}
	var rep struct {
		Findings []lint.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range rep.Findings {
		s := f.ID
		if f.LayerIndex != nil {
			s += fmt.Sprintf(" layer %d", *f.LayerIndex)
		}
		if f.RemovedInLayer != nil {
			s += fmt.Sprintf(" removed %d", *f.RemovedInLayer)
		}
		for _, secret := range []string{"npm_abcdefgh12345678", "Sup3rS3cretValue"} {
			if strings.Contains(f.Detail, secret) {
				t.Errorf("%s leaks the secret: %s", f.ID, f.Detail)
			}
		}
		got = append(got, s+": "+f.Detail)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{
		"WL002: ENV APP_PASSWORD holds: password or token",
		"WL003: history step 4: NPM_TOKEN: password or token",
		"WL004 layer 1 removed 2: private key (PEM) in /root/.ssh/id_ed25519",
		"WL004 layer 2 removed 3: private key (PEM) in /root/.ssh/id_ed25519",
		"WL001: no USER set",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no finding %q in:\n%s", want, all)
		}
	}
	if strings.Count(all, "APP_PASSWORD") != 1 {
		t.Errorf("APP_PASSWORD reported more than once:\n%s", all)
	}
}
