package serve

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/wardensec/warden/internal/testsvc"
)

// TestS3PostgresRedirect: a Config naming S3 (SeaweedFS) and PostgreSQL, both
// real, builds two servers that share content (a blob pushed through one is
// read through the other), and with StorageRedirect a blob GET is a 307 to a
// presigned URL of the S3 endpoint that serves the blob's bytes.
func TestS3PostgresRedirect(t *testing.T) {
	s3 := testsvc.SeaweedFS(t)
	pg := testsvc.Postgres(t)
	s3.SetEnv(t)
	mk := func(redirect bool) http.Handler {
		c := &Config{Addr: "127.0.0.1:0", Root: t.TempDir(), Storage: s3.URL("warden-serve", "t"), Meta: pg.DSN, StorageRedirect: redirect}
		c.Scan.Disabled = true
		s, err := New(context.Background(), c, Options{CacheDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s.Handler()
	}
	a := httptest.NewServer(mk(false))
	defer a.Close()
	b := httptest.NewServer(mk(true))
	defer b.Close()

	blob := []byte("blob through pkg/serve " + t.Name())
	sum := sha256.Sum256(blob)
	dig := "sha256:" + hex.EncodeToString(sum[:])
	resp, err := http.Post(a.URL+"/v2/serve/app/blobs/uploads/?digest="+dig, "application/octet-stream", bytes.NewReader(blob))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("monolithic upload on server A: %s", resp.Status)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(b.URL + "/v2/serve/app/blobs/" + dig)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != 307 || !strings.HasPrefix(loc, s3.Endpoint) || !strings.Contains(loc, "X-Amz-Signature=") {
		t.Fatalf("GET on server B (redirect on): %s, Location %q", resp.Status, loc)
	}
	resp, err = http.Get(loc)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, blob) {
		t.Fatalf("presigned URL: %s, %d bytes", resp.Status, len(got))
	}
	// Server A (redirect off) serves the bytes itself.
	resp, err = noFollow.Get(a.URL + "/v2/serve/app/blobs/" + dig)
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(got, blob) {
		t.Fatalf("GET on server A (redirect off): %s, %d bytes", resp.Status, len(got))
	}
}
