package rustaudit

import (
	"bytes"
	"compress/zlib"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/inventory"
)

// versionInfo is audit data in the shape cargo-auditable writes (format 1:
// root local crate, runtime and build dependencies, index-based dependencies).
const versionInfo = `{"format":1,"packages":[` +
	`{"name":"adler","version":"0.2.3","source":"crates.io"},` +
	`{"name":"cc","version":"1.0.79","source":"crates.io","kind":"build"},` +
	`{"name":"hello-auditable","version":"0.1.0","source":"local","dependencies":[0,2,1],"root":true},` +
	`{"name":"miniz_oxide","version":"0.4.4","source":"crates.io","dependencies":[0]}]}`

func zlibBytes(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// auditableBinary adds a .dep-v0 section to a copy of a real ELF executable
// (this test binary) with objcopy, as cargo-auditable's linker step does.
func auditableBinary(t *testing.T, section []byte) []byte {
	objcopy := testutil.RequireTool(t, "objcopy")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	sec := filepath.Join(dir, "dep-v0")
	if err := os.WriteFile(sec, section, 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "app")
	if b, err := exec.Command(objcopy, "--add-section", ".dep-v0="+sec, exe, out).CombinedOutput(); err != nil {
		t.Fatalf("objcopy: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func run(t testing.TB, path string, data []byte) ([]inventory.Package, []string) {
	var warns []string
	in := &extract.Input{Path: path, Mode: 0o755, Size: int64(len(data)), Reader: bytes.NewReader(data),
		At: bytes.NewReader(data), Warn: func(m string) { warns = append(warns, m) }}
	pkgs, err := New().Extract(context.Background(), in)
	if err != nil {
		t.Fatalf("Extract: %v", err)
	}
	return pkgs, warns
}

func TestAuditableBinary(t *testing.T) {
	bin := auditableBinary(t, zlibBytes(t, versionInfo))
	pkgs, warns := run(t, "usr/local/bin/hello", bin)
	if len(warns) > 0 {
		t.Errorf("warnings %v", warns)
	}
	var got []string
	for _, p := range pkgs {
		got = append(got, p.Name+"@"+p.Version+" "+p.PURL+" "+p.Locations[0])
	}
	want := []string{
		"adler@0.2.3 pkg:cargo/adler@0.2.3 /usr/local/bin/hello",
		"miniz_oxide@0.4.4 pkg:cargo/miniz_oxide@0.4.4 /usr/local/bin/hello",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	// Corrupt section: a warning naming the file.
	_, warns = run(t, "usr/local/bin/bad", auditableBinary(t, []byte("not zlib")))
	if len(warns) != 1 || !strings.Contains(warns[0], "/usr/local/bin/bad") {
		t.Errorf("corrupt section: warnings %q", warns)
	}
	// An executable without the section, and a script: nothing.
	exe, _ := os.Executable()
	plain, _ := os.ReadFile(exe)
	for name, b := range map[string][]byte{"plain": plain, "script": []byte("#!/bin/sh\n")} {
		if pkgs, warns := run(t, name, b); len(pkgs) != 0 || len(warns) != 0 {
			t.Errorf("%s: %v %v", name, pkgs, warns)
		}
	}
}

func FuzzVersionInfo(f *testing.F) {
	f.Add(zlibBytes(f, versionInfo))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = parse(&extract.Input{Path: "x"}, bytes.NewReader(b))
	})
}
