package main

import (
	"os"
	"strings"
	"testing"

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
}
