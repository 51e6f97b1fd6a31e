// Package testutil holds helpers shared by Warden's tests: locating the shared
// corpus and the repository root, and requiring external tools (which fail in CI
// when missing and skip, saying why, elsewhere).
package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// InCI reports whether the tests run under CI (CI=true), where a missing tool is a failure.
func InCI() bool { return os.Getenv("CI") != "" }

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("testutil: cannot locate source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Corpus returns the path of the shared real-data corpus (../shared/corpus
// beside the repository, or $WARDEN_CORPUS). In CI a missing corpus fails the test.
func Corpus(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("WARDEN_CORPUS")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared", "corpus")
	}
	if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
		missing(t, "the shared corpus at "+dir+" (set WARDEN_CORPUS)")
	}
	return dir
}

// RequireTool returns the path of an executable on PATH or in $(go env GOPATH)/bin.
// In CI a missing tool fails the test; elsewhere the test is skipped, saying why.
func RequireTool(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	gopath := os.Getenv("GOPATH")
	if gopath == "" {
		if home, err := os.UserHomeDir(); err == nil {
			gopath = filepath.Join(home, "go")
		}
	}
	if p := filepath.Join(gopath, "bin", name); isExec(p) {
		return p
	}
	missing(t, name+" (install it with .ci/tools.sh)")
	return ""
}

// RequireDocker fails (CI) or skips (elsewhere) when no Docker Engine answers.
func RequireDocker(t testing.TB) {
	t.Helper()
	RequireTool(t, "docker")
	if err := exec.Command("docker", "info").Run(); err != nil {
		missing(t, "a running Docker Engine (docker info: "+err.Error()+")")
	}
}

// Missing fails the test in CI and skips it elsewhere, saying what it
// needs that this machine or build lacks.
func Missing(t testing.TB, what string) {
	t.Helper()
	missing(t, what)
}

func missing(t testing.TB, what string) {
	t.Helper()
	if InCI() {
		t.Fatalf("this test needs %s, which is missing", what)
	}
	t.Skipf("skipping outside CI: this test needs %s", what)
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
