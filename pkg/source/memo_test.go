package source

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wardensec/warden/internal/testimage"
)

// mapMemo is a DigestMemo in memory that counts what it is asked.
type mapMemo struct {
	mu            sync.Mutex
	m             map[string]v1.Hash
	hits, lookups int
}

func (m *mapMemo) LookupDigest(k string) (v1.Hash, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lookups++
	d, ok := m.m[k]
	if ok {
		m.hits++
	}
	return d, ok
}

func (m *mapMemo) StoreDigest(k string, d v1.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.m[k] = d
}

type knower interface{ KnownDigest() (v1.Hash, bool) }

func knownDigests(t *testing.T, img *Image) (known []bool) {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ls {
		k, ok := l.(knower)
		if !ok {
			t.Fatalf("layer %T does not say whether its digest is known", l)
		}
		_, yes := k.KnownDigest()
		known = append(known, yes)
	}
	return known
}

// TestArchiveDigestMemo: a docker-archive with compressed layers (crane's
// tarball format). Nothing is hashed before it is read; a complete read
// teaches the layer its digest; the memo remembers it for the same unchanged
// file, and forgets it as soon as the file is touched in any way.
func TestArchiveDigestMemo(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("layer digests are remembered on Linux only (its inode change time)")
	}
	img := testimage.Image(t, nil,
		testimage.Layer(t, testimage.Reg("etc/os-release", "ID=alpine\n")),
		testimage.Layer(t, testimage.Reg("lib/apk/db/installed", "P:musl\nV:1.2.4-r2\n\n")))
	p := filepath.Join(t.TempDir(), "img.tar")
	testimage.WriteDockerArchive(t, img, "x:1", p)
	// go-containerregistry's own reading of the same file is the reference.
	ref, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantDigest, err := ref.Digest()
	if err != nil {
		t.Fatal(err)
	}
	memo := &mapMemo{m: map[string]v1.Hash{}}
	open := func() *Image {
		t.Helper()
		got, err := Open(context.Background(), "docker-archive:"+p, Options{Digests: memo})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { got.Close() })
		return got
	}

	first := open()
	if k := knownDigests(t, first); k[0] || k[1] {
		t.Fatalf("digests known before any read: %v", k)
	}
	// Reading layer 0 to the end teaches it its digest; layer 1 stays unknown.
	ls, _ := first.Layers()
	rc, err := ls[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatal(err)
	}
	if k := knownDigests(t, first); !k[0] || k[1] {
		t.Fatalf("after reading layer 0: known %v, want [true false]", k)
	}
	if d, err := first.Digest(); err != nil || d != wantDigest {
		t.Fatalf("image digest %v, %v; want %v", d, err, wantDigest)
	}
	if len(memo.m) != 2 {
		t.Fatalf("memo holds %d digests, want 2", len(memo.m))
	}

	// The same unchanged file: both digests known without a read.
	if k := knownDigests(t, open()); !k[0] || !k[1] {
		t.Fatalf("same file: known %v", k)
	}
	if d, err := open().Digest(); err != nil || d != wantDigest {
		t.Fatalf("same file: image digest %v, %v", d, err)
	}

	// Rewritten with the same bytes and its old modification time: the
	// change time still differs, so nothing is remembered for it.
	fi, _ := os.Stat(p)
	b, _ := os.ReadFile(p)
	time.Sleep(10 * time.Millisecond)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if k := knownDigests(t, open()); k[0] || k[1] {
		t.Fatalf("rewritten file: known %v, want nothing remembered", k)
	}
}

// TestArchiveDigestMemoLies: a memo that gives a wrong digest cannot make a
// layer pass: its stream fails at the end.
func TestArchiveDigestMemoLies(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("layer digests are remembered on Linux only")
	}
	img := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("etc/os-release", "ID=alpine\n")))
	p := filepath.Join(t.TempDir(), "img.tar")
	testimage.WriteDockerArchive(t, img, "x:1", p)
	memo := &mapMemo{m: map[string]v1.Hash{}}
	got, err := Open(context.Background(), "docker-archive:"+p, Options{Digests: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	ls, _ := got.Layers()
	if _, err := ls[0].Digest(); err != nil {
		t.Fatal(err)
	}
	for k := range memo.m {
		memo.m[k] = v1.Hash{Algorithm: "sha256", Hex: "0000000000000000000000000000000000000000000000000000000000000000"}
	}
	again, err := Open(context.Background(), "docker-archive:"+p, Options{Digests: memo})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	ls, _ = again.Layers()
	rc, err := ls[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, rc); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("read with a wrong remembered digest: %v, want ErrDigestMismatch", err)
	}
}
