package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/inflate"
)

// TestVersion: the version, then the gzip inflater this binary uses here
// (ISA-L built in with -tags isal, else an igzip process or Go).
func TestVersion(t *testing.T) {
	out, errOut, code := runWardenCmd(t, "version")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || errOut != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], "warden ") {
		t.Fatalf("version: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	want := "gzip: " + inflate.FromEnv().Name()
	if lines[1] != want {
		t.Errorf("second line %q, want %q", lines[1], want)
	}
	if inflate.Linked() && os.Getenv(inflate.Env) == "" && lines[1] != "gzip: ISA-L (in process)" {
		t.Errorf("built with ISA-L, but version says %q", lines[1])
	}
	// --version prints the same first line.
	v, _, code := runWardenCmd(t, "--version")
	if code != exitOK || v != lines[0]+"\n" {
		t.Errorf("--version: exit %d, %q; version says %q", code, v, lines[0])
	}
}

// TestVersionString: the build information of the three ways warden is
// built, as `go version -m` prints them.
func TestVersionString(t *testing.T) {
	for _, c := range []struct{ name, info, want string }{
		{"go build in a clone", "path\tgithub.com/wardensec/warden/cmd/warden\nmod\tgithub.com/wardensec/warden\t(devel)\t\n" +
			"build\tvcs=git\nbuild\tvcs.revision=6c7161a0faf9f7df0bf00cc11e7a8518fe89bc72\nbuild\tvcs.time=2026-12-05T07:20:00Z\nbuild\tvcs.modified=true\n",
			"(devel) (commit 6c7161a0faf9, 2026-12-05T07:20:00Z, modified)"},
		{"go install @version", "path\tgithub.com/wardensec/warden/cmd/warden\nmod\tgithub.com/wardensec/warden\tv0.4.0\th1:abc=\n",
			"v0.4.0"},
		{"go install @commit", "path\tgithub.com/wardensec/warden/cmd/warden\nmod\tgithub.com/wardensec/warden\tv0.4.1-0.20261205072000-6c7161a0faf9\th1:abc=\n",
			"v0.4.1-0.20261205072000-6c7161a0faf9 (commit 6c7161a0faf9)"},
		{"go install @main before any tag", "path\tgithub.com/wardensec/warden/cmd/warden\nmod\tgithub.com/wardensec/warden\tv0.0.0-20261205072000-6c7161a0faf9\th1:abc=\n",
			"v0.0.0-20261205072000-6c7161a0faf9 (commit 6c7161a0faf9)"},
		{"no VCS data", "path\tgithub.com/wardensec/warden/cmd/warden\nmod\tgithub.com/wardensec/warden\t(devel)\t\n", "(devel)"},
	} {
		bi, err := debug.ParseBuildInfo(c.info)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := versionString(bi); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestVersionStamped builds warden with VCS stamping on (the environment's
// GOFLAGS may turn it off) and checks that `warden version` and `warden
// --version` name the commit. It builds in the repository itself, or, in a
// git worktree (whose .git file cmd/go does not take for a repository), in
// a clone of its HEAD.
func TestVersionStamped(t *testing.T) {
	git := testutil.RequireTool(t, "git")
	goTool := testutil.RequireTool(t, "go")
	dir := testutil.RepoRoot(t)
	if fi, err := os.Stat(filepath.Join(dir, ".git")); err != nil || !fi.IsDir() {
		clone := filepath.Join(t.TempDir(), "warden")
		if out, err := exec.Command(git, "clone", "-q", dir, clone).CombinedOutput(); err != nil {
			t.Fatalf("git clone: %v\n%s", err, out)
		}
		dir = clone
	}
	head, err := exec.Command(git, "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	rev := strings.TrimSpace(string(head))
	bin := filepath.Join(t.TempDir(), "warden")
	build := exec.Command(goTool, "build", "-o", bin, "./cmd/warden")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=-buildvcs=true")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil {
			t.Fatalf("warden %v: %v", args, err)
		}
		first, _, _ := strings.Cut(string(out), "\n")
		if !strings.HasPrefix(first, "warden ") || !strings.Contains(first, "(commit "+rev[:12]+", ") {
			t.Errorf("warden %v: %q, want the version and (commit %s, …)", args, first, rev[:12])
		}
	}
}
