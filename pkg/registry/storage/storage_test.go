package storage

import (
	"bytes"
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
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("0123456789"), 1000)
	u, err := s.StartUpload("rollback-test-1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Append(bytes.NewReader(data[:4000]), 0); err != nil {
		t.Fatal(err)
	}
	broken := &failingReader{r: bytes.NewReader(data[4000:7000]), err: errors.New("connection reset")}
	if _, err := u.Append(broken, 4000); err == nil || !strings.Contains(err.Error(), "connection reset") {
		t.Fatalf("append of a broken body: %v", err)
	}
	if u.Size() != 4000 {
		t.Fatalf("size after failed append = %d", u.Size())
	}
	if fi, _ := os.Stat(s.uploadPath(u.ID)); fi.Size() != 4000 {
		t.Fatalf("file size after failed append = %d", fi.Size())
	}
	if _, err := u.Append(bytes.NewReader(data[5000:]), 5000); !errors.Is(err, ErrRange) {
		t.Fatalf("out-of-order chunk: %v", err)
	}
	if _, err := u.Append(bytes.NewReader(data[4000:]), 4000); err != nil {
		t.Fatal(err)
	}
	d := FromBytes("sha256", data)
	if err := s.Commit(u, d); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadAll(d, 1<<20)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored blob differs: %v", err)
	}
}

// TestResumeAfterRestart: a new store instance (a restarted server) picks up
// an upload session from its file and rebuilds the hash.
func TestResumeAfterRestart(t *testing.T) {
	root := t.TempDir()
	s1, _ := Open(root)
	u, err := s1.StartUpload("resume-test-1")
	if err != nil {
		t.Fatal(err)
	}
	u.Append(strings.NewReader("hello, "), -1)
	s2, _ := Open(root)
	u2, err := s2.GetUpload("resume-test-1")
	if err != nil {
		t.Fatal(err)
	}
	if u2.Size() != 7 {
		t.Fatalf("resumed size %d", u2.Size())
	}
	u2.Append(strings.NewReader("world"), 7)
	if err := s2.Commit(u2, FromBytes("sha256", []byte("hello, world"))); err != nil {
		t.Fatal(err)
	}
	if err := s2.Commit(u2, FromBytes("sha256", []byte("hello, world"))); err == nil {
		t.Error("second commit of the same session succeeded")
	}
}

// TestCommitMismatch: a wrong digest never reaches blobs/.
func TestCommitMismatch(t *testing.T) {
	root := t.TempDir()
	s, _ := Open(root)
	u, _ := s.StartUpload("mismatch-test-1")
	u.Append(strings.NewReader("abc"), 0)
	lie := FromBytes("sha256", []byte("abd"))
	if err := s.Commit(u, lie); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("commit with a lie: %v", err)
	}
	if err := s.PutBytes(lie, []byte("abc")); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("PutBytes with a lie: %v", err)
	}
	n := 0
	s.Walk(func(Digest, int64) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d blobs stored after lies", n)
	}
	// sha512 is verified too.
	u2, _ := s.StartUpload("mismatch-test-2")
	u2.Append(strings.NewReader("abc"), 0)
	if err := s.Commit(u2, FromBytes("sha512", []byte("abc"))); err != nil {
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
