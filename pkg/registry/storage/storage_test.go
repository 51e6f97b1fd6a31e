package storage

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

// TestAppendRollback: a request that dies mid-body leaves the upload exactly
// as it was, so the client can resend the chunk.
func TestAppendRollback(t *testing.T) {
	ctx := context.Background()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 1000)
	u, err := s.StartUpload(ctx, "rollback-test-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(ctx, bytes.NewReader(data[:4000]), 0, -1); err != nil {
		t.Fatal(err)
	}
	broken := &failingReader{r: bytes.NewReader(data[4000:7000]), err: errors.New("connection reset")}
	if _, err := u.Append(ctx, broken, 4000, -1); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("append of a broken body: %v", err)
	}
	if u.Size() != 4000 {
		t.Fatalf("size after failed append = %d", u.Size())
	}
	if fi, _ := os.Stat(s.uploadPath(u.ID())); fi.Size() != 4000 {
		t.Fatalf("file size after failed append = %d", fi.Size())
	}
	if _, err := u.Append(ctx, bytes.NewReader(data[5000:]), 5000, -1); !errors.Is(err, ErrRange) {
		t.Fatalf("out-of-order chunk: %v", err)
	}
	if _, err := u.Append(ctx, bytes.NewReader(data[4000:]), 4000, -1); err != nil {
		t.Fatal(err)
	}
	d := FromBytes("sha256", data)
	if err := s.Commit(ctx, u, d); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadAll(ctx, d, 1<<20)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored blob differs: %v", err)
	}
}

// TestResumeAfterRestart: a new store instance (a restarted server) picks up
// an upload session from its file and rebuilds the hash.
func TestResumeAfterRestart(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s1, _ := Open(root)
	u, err := s1.StartUpload(ctx, "resume-test-1")
	if err != nil {
		t.Fatal(err)
	}
	u.Append(ctx, strings.NewReader("hello, "), -1, -1)
	s2, _ := Open(root)
	u2, err := s2.GetUpload(ctx, "resume-test-1")
	if err != nil {
		t.Fatal(err)
	}
	if u2.Size() != 7 {
		t.Fatalf("resumed size %d", u2.Size())
	}
	u2.Append(ctx, strings.NewReader("world"), 7, -1)
	if err := s2.Commit(ctx, u2, FromBytes("sha256", []byte("hello, world"))); err != nil {
		t.Fatal(err)
	}
	if err := s2.Commit(ctx, u2, FromBytes("sha256", []byte("hello, world"))); err == nil {
		t.Error("second commit of the same session succeeded")
	}
}

// TestCommitMismatch: a wrong digest never reaches blobs/.
func TestCommitMismatch(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s, _ := Open(root)
	u, _ := s.StartUpload(ctx, "mismatch-test-1")
	u.Append(ctx, strings.NewReader("abc"), 0, -1)
	lie := FromBytes("sha256", []byte("abd"))
	if err := s.Commit(ctx, u, lie); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("commit with a lie: %v", err)
	}
	if err := s.PutBytes(ctx, lie, []byte("abc")); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("PutBytes with a lie: %v", err)
	}
	n := 0
	s.Walk(ctx, func(BlobInfo) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d blobs stored after lies", n)
	}
	// sha512 is verified too.
	u2, _ := s.StartUpload(ctx, "mismatch-test-2")
	u2.Append(ctx, strings.NewReader("abc"), 0, -1)
	if err := s.Commit(ctx, u2, FromBytes("sha512", []byte("abc"))); err != nil {
		t.Fatalf("sha512 commit: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "blobs", "sha512")); err != nil {
		t.Error(err)
	}
}

func FuzzParseDigest(f *testing.F) {
	f.Add("sha256:6ac4f94af05372c0cbfa665a41aedbd1e10c9dd1f401700ba5e2774e5e1ad03f")
	f.Add("sha512:" + strings.Repeat("ab", 64))
	f.Add("sha256:../../etc/passwd")
	f.Add("md5:d41d8cd98f00b204e9800998ecf8427e")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if err != nil {
			return
		}
		if d.String() != s || strings.ContainsAny(d.Hex, "/.\\") {
			t.Fatalf("ParseDigest(%q) = %+v", s, d)
		}
	})
}
