package outfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/wardensec/warden/internal/testutil"
)

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
}

func TestRegularFileAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.json")
	if err := Write(p, 0o644, writeString("first")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, 0o644, func(w io.Writer) error {
		io.WriteString(w, "half of the sec")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the writer's error", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "first" {
		t.Errorf("a failed write changed the file: %q", b)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("a temporary file was left behind: %v", ents)
	}
	if err := Write(p, 0o600, writeString("second")); err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(p)
	if b, _ := os.ReadFile(p); string(b) != "second" || fi.Mode().Perm() != 0o600 {
		t.Errorf("got %q mode %v, want \"second\" 0600", b, fi.Mode())
	}
}

func TestSymlinkIsWrittenThrough(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "real", "doc.json")
	os.MkdirAll(filepath.Dir(target), 0o755)
	os.WriteFile(target, []byte("old"), 0o644)
	link := filepath.Join(dir, "link.json")
	// A relative link through a second link: both are resolved from their own directory.
	if err := os.Symlink("real/doc.json", filepath.Join(dir, "mid")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("mid", link); err != nil {
		t.Fatal(err)
	}
	if err := Write(link, 0o644, writeString("new")); err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{link, filepath.Join(dir, "mid")} {
		if fi, err := os.Lstat(l); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s is no longer a symlink (%v)", l, err)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Errorf("target holds %q", b)
	}
	// A failing write through the link leaves the target as it was.
	if err := Write(link, 0o644, func(io.Writer) error { return errors.New("boom") }); err == nil {
		t.Fatal("no error")
	}
	if b, _ := os.ReadFile(target); string(b) != "new" {
		t.Errorf("failed write changed the target: %q", b)
	}
	// A dangling link: its target is created, the link stays.
	dangling := filepath.Join(dir, "dangling")
	os.Symlink("created.json", dangling)
	if err := Write(dangling, 0o644, writeString("x")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "created.json")); string(b) != "x" {
		t.Errorf("dangling target holds %q", b)
	}
	// A loop is an error naming the path, not a hang.
	loop := filepath.Join(dir, "loop")
	os.Symlink("loop", loop)
	if err := Write(loop, 0o644, writeString("x")); err == nil {
		t.Error("a symlink loop was written")
	}
}

func TestFIFOReceivesDocument(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	go func() {
		f, err := os.Open(fifo)
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(f)
		f.Close()
		got <- string(b)
	}()
	if err := Write(fifo, 0o644, writeString("document")); err != nil {
		t.Fatal(err)
	}
	if s := <-got; s != "document" {
		t.Errorf("reader got %q", s)
	}
	if fi, _ := os.Lstat(fifo); fi.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO became %v", fi.Mode())
	}
}

func TestDeviceStaysDevice(t *testing.T) {
	dev := testutil.NullDevice(t, t.TempDir())
	if err := Write(dev, 0o644, writeString("discarded")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(dev); fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("the device became %v", fi.Mode())
	}
}

func TestDirectoryRefused(t *testing.T) {
	dir := t.TempDir()
	if err := Write(dir, 0o644, writeString("x")); err == nil {
		t.Error("wrote to a directory")
	}
}
