package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testutil"
)

// TestOutputPathsKeepWhatTheyAre runs every command that writes to a path the
// user names against a character device, a FIFO read by a goroutine and a
// symlink to a regular file (issue #18: `sbom -o /dev/null` as root replaced
// /dev/null with a regular file). The device stays a device, the FIFO receives
// the document, the symlink stays a symlink and its target holds the document.
func TestOutputPathsKeepWhatTheyAre(t *testing.T) {
	state, _ := scanState(t, "alpine-secdb/v3.19")
	t.Setenv("WARDEN_PASSWORD", "test")
	commands := []struct {
		name   string
		args   func(out string) []string
		marker string // in the document written
	}{
		{"sbom", func(out string) []string {
			return []string{"--cache-dir", t.TempDir(), "sbom", alpineImage, "--format", "json", "--output", out}
		}, `"packages"`},
		{"scan", func(out string) []string {
			return []string{"--cache-dir", state, "scan", alpineImage, "--format", "json", "--output", out}
		}, `"CVE-2024-9143"`},
		{"db export", func(out string) []string {
			return []string{"--cache-dir", state, "db", "export", out}
		}, "\x1f\x8b"},
		// keygen writes PREFIX.key and PREFIX.pub; the special file is PREFIX.pub.
		{"keygen", func(out string) []string {
			return []string{"keygen", "--force", "--output-key-prefix", out[:len(out)-len(".pub")]}
		}, "PUBLIC KEY"},
	}
	for _, c := range commands {
		t.Run(c.name+"/device", func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.pub")
			if err := os.Rename(testutil.NullDevice(t, dir), out); err != nil {
				t.Fatal(err)
			}
			if _, stderr, code := runWardenCmd(t, c.args(out)...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if fi, err := os.Lstat(out); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
				t.Errorf("the device is now %v (%v)", fi.Mode(), err)
			}
		})
		t.Run(c.name+"/fifo", func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.pub")
			if err := syscall.Mkfifo(out, 0o600); err != nil {
				t.Fatal(err)
			}
			got := make(chan []byte, 1)
			go func() {
				// Blocks until the command opens the FIFO; reads to the end, as a
				// pipe's reader (gzip, tee) would.
				f, err := os.Open(out)
				if err != nil {
					got <- nil
					return
				}
				defer f.Close()
				b, _ := io.ReadAll(f)
				got <- b
			}()
			if _, stderr, code := runWardenCmd(t, c.args(out)...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			select {
			case b := <-got:
				if !bytes.Contains(b, []byte(c.marker)) {
					t.Errorf("the FIFO's reader got %d bytes without %q", len(b), c.marker)
				}
			case <-time.After(30 * time.Second):
				t.Errorf("the FIFO's reader got no document with %q", c.marker)
			}
			if fi, _ := os.Lstat(out); fi.Mode()&os.ModeNamedPipe == 0 {
				t.Errorf("the FIFO is now %v", fi.Mode())
			}
		})
		t.Run(c.name+"/symlink", func(t *testing.T) {
			dir := t.TempDir()
			target := filepath.Join(dir, "target")
			if err := os.WriteFile(target, []byte("old"), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out.pub")
			if err := os.Symlink("target", out); err != nil {
				t.Fatal(err)
			}
			if _, stderr, code := runWardenCmd(t, c.args(out)...); code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if fi, err := os.Lstat(out); err != nil || fi.Mode()&os.ModeSymlink == 0 {
				t.Errorf("the symlink is now %v (%v)", fi.Mode(), err)
			}
			f, err := os.Open(target)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			b, _ := io.ReadAll(f)
			if !bytes.Contains(b, []byte(c.marker)) {
				t.Errorf("the target holds %d bytes without %q", len(b), c.marker)
			}
		})
	}
}

// TestOutputRegularFileAllOrNothing: a failing write leaves the old regular file
// as it was (an SBOM of an image that does not exist).
func TestOutputRegularFileAllOrNothing(t *testing.T) {
	out := filepath.Join(t.TempDir(), "sbom.json")
	if err := os.WriteFile(out, []byte("previous"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, code := runWardenCmd(t, "--cache-dir", t.TempDir(), "sbom", "oci-layout:/nonexistent", "--output", out); code == 0 {
		t.Fatal("sbom of a missing image succeeded")
	}
	if b, _ := os.ReadFile(out); string(b) != "previous" {
		t.Errorf("failed sbom changed the file: %q", b)
	}
}
