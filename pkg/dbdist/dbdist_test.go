package dbdist

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
	"github.com/wardensec/warden/pkg/vulndb"
)

// buildDB writes a small real database at path with one advisory per id.
func buildDB(t testing.TB, path string, ids ...string) {
	t.Helper()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	err := vulndb.Update(context.Background(), path, vulndb.UpdateOptions{Fresh: true, Now: func() time.Time { return now }},
		func(ctx context.Context, w *vulndb.Writer) error {
			b := &vulndb.Batch{Source: "alpine-secdb", Origin: "test", Records: len(ids), Newest: now.Add(-time.Hour)}
			for _, id := range ids {
				sum := sha256.Sum256([]byte(id)) // a title that does not compress away
				b.Advisories = append(b.Advisories, vulndb.Advisory{ID: id, Namespace: "alpine:3.19", Package: "openssl", Title: hex.EncodeToString(sum[:]),
					Status: vulndb.StatusFixed, FixedVersion: "3.1.7-r1", Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Fixed: "3.1.7-r1"}}})
			}
			return w.Put(b)
		})
	if err != nil {
		t.Fatal(err)
	}
}

func keyPair(t testing.TB) (crypto.Signer, verify.Key) {
	t.Helper()
	priv, pub, err := sign.GenerateKeyPair([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	k, err := sign.ParsePrivateKey(priv, []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := sign.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, verify.NewKey("test.pub", p)
}

// proxy wraps a registry handler: it logs requests and can change blob responses.
type proxy struct {
	h    http.Handler
	mu   sync.Mutex
	reqs []string
	// blob, when set, may rewrite or cut a GET of a blob; it returns true when it answered.
	blob func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.reqs = append(p.reqs, r.Method+" "+r.URL.Path+" "+r.Header.Get("Range"))
	f := p.blob
	p.mu.Unlock()
	if f != nil && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") && f(w, r, p.h) {
		return
	}
	p.h.ServeHTTP(w, r)
}

func (p *proxy) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.reqs
	p.reqs = nil
	return r
}

func (p *proxy) setBlob(f func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool) {
	p.mu.Lock()
	p.blob = f
	p.mu.Unlock()
}

// registries are the two the round trip goes through: warden's own (what
// `warden serve` runs, conformance-tested in pkg/registry) and
// go-containerregistry's in-memory one.
func registries(t testing.TB) map[string]*proxy {
	t.Helper()
	wr, err := registry.New(registry.Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wr.Close() })
	return map[string]*proxy{
		"warden": {h: wr},
		"ggcr":   {h: ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))},
	}
}

func serve(t testing.TB, p *proxy) string {
	t.Helper()
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Host
}

func mustRef(t testing.TB, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	key, pub := keyPair(t)
	src := filepath.Join(t.TempDir(), "db")
	buildDB(t, src, "CVE-2024-9143", "CVE-2024-0727")
	for regName, p := range registries(t) {
		t.Run(regName, func(t *testing.T) {
			host := serve(t, p)
			ref := mustRef(t, host+"/warden/db:2")
			pres, err := Push(ctx, src, ref, PushOptions{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			if pres.Feeds["alpine-secdb"].IsZero() || pres.Built.IsZero() {
				t.Errorf("push result lacks the feed dates or build time: %+v", pres)
			}
			dst := filepath.Join(t.TempDir(), "new", "db") // a state directory that does not exist yet
			res, err := Pull(ctx, dst, ref, PullOptions{Keys: []verify.Key{pub}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Unchanged || res.Digest != pres.Digest || len(res.Signers) == 0 {
				t.Errorf("first pull: %+v, pushed %s", res, pres.Digest)
			}
			if !bytes.Equal(readFile(t, src), readFile(t, dst)) {
				t.Fatal("the pulled database differs from the pushed one")
			}
			db, err := vulndb.Open(dst)
			if err != nil {
				t.Fatal(err)
			}
			advs, err := db.Lookup(ctx, "alpine:3.19", "openssl")
			db.Close()
			if err != nil || len(advs) != 2 {
				t.Fatalf("lookup in the pulled database: %v %v", advs, err)
			}

			// Unchanged: exactly one request, a manifest HEAD.
			p.take()
			res, err = Pull(ctx, dst, ref, PullOptions{Keys: []verify.Key{pub}})
			if err != nil || !res.Unchanged {
				t.Fatalf("second pull: %+v %v", res, err)
			}
			if reqs := p.take(); len(reqs) != 1 || !strings.HasPrefix(reqs[0], "HEAD /v2/warden/db/manifests/2") {
				t.Errorf("an unchanged pull made these requests, want one manifest HEAD:\n%s", strings.Join(reqs, "\n"))
			}

			// A new database under the same tag replaces the old one.
			src2 := filepath.Join(t.TempDir(), "db")
			buildDB(t, src2, "CVE-2024-9143", "CVE-2024-0727", "CVE-2024-13176")
			if _, err := Push(ctx, src2, ref, PushOptions{Key: key}); err != nil {
				t.Fatal(err)
			}
			if res, err = Pull(ctx, dst, ref, PullOptions{Keys: []verify.Key{pub}}); err != nil || res.Unchanged {
				t.Fatalf("pull of the new database: %+v %v", res, err)
			}
			if !bytes.Equal(readFile(t, src2), readFile(t, dst)) {
				t.Fatal("the pulled database is not the new one")
			}
		})
	}
}

// TestRefused: a tampered layer, a wrong key and an unsigned database are
// refused with a message saying so, and the installed database stays byte-identical.
func TestRefused(t *testing.T) {
	ctx := context.Background()
	key, pub := keyPair(t)
	_, otherPub := keyPair(t)
	src := filepath.Join(t.TempDir(), "db")
	buildDB(t, src, "CVE-2024-9143")
	for regName, p := range registries(t) {
		t.Run(regName, func(t *testing.T) {
			host := serve(t, p)
			good := mustRef(t, host+"/warden/db:good")
			if _, err := Push(ctx, src, good, PushOptions{Key: key}); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(t.TempDir(), "db")
			if _, err := Pull(ctx, dst, good, PullOptions{Keys: []verify.Key{pub}}); err != nil {
				t.Fatal(err)
			}
			before, beforeState := readFile(t, dst), readFile(t, StatePath(dst))

			// A newer database, signed, then served tampered; another one unsigned.
			src2, src3 := filepath.Join(t.TempDir(), "db"), filepath.Join(t.TempDir(), "db")
			buildDB(t, src2, "CVE-2024-9143", "CVE-2024-13176")
			buildDB(t, src3, "CVE-2024-9143", "CVE-2024-12797")
			newer := mustRef(t, host+"/warden/db:newer")
			pres, err := Push(ctx, src2, newer, PushOptions{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			unsigned := mustRef(t, host+"/warden/db:unsigned")
			if _, err := publish(ctx, src3, unsigned, Options{}); err != nil {
				t.Fatal(err)
			}
			tamper := func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool {
				if !strings.HasSuffix(r.URL.Path, "/blobs/"+pres.Layer.String()) {
					return false
				}
				rec := httptest.NewRecorder()
				inner.ServeHTTP(rec, r)
				body := rec.Body.Bytes()
				body[len(body)/2] ^= 0xff
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				w.Write(body)
				return true
			}
			for _, tc := range []struct {
				name   string
				ref    name.Reference
				keys   []verify.Key
				blob   func(http.ResponseWriter, *http.Request, http.Handler) bool
				want   string
				wantIs error
			}{
				{"tampered layer", newer, []verify.Key{pub}, tamper, "the downloaded content has digest", ErrDigest},
				{"wrong key", newer, []verify.Key{otherPub}, nil, "does not verify with test.pub", verify.ErrNotVerified},
				{"unsigned", unsigned, []verify.Key{pub}, nil, "is not signed", verify.ErrUnsigned},
			} {
				t.Run(tc.name, func(t *testing.T) {
					p.setBlob(tc.blob)
					defer p.setBlob(nil)
					_, err := Pull(ctx, dst, tc.ref, PullOptions{Keys: tc.keys})
					if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, tc.wantIs) {
						t.Fatalf("pull: %v; want an error containing %q", err, tc.want)
					}
					if strings.Contains(err.Error(), "\n") {
						t.Errorf("the reason is not one line: %q", err)
					}
					if !bytes.Equal(before, readFile(t, dst)) || !bytes.Equal(beforeState, readFile(t, StatePath(dst))) {
						t.Fatal("the installed database or its state changed")
					}
					if db, err := vulndb.Open(dst); err != nil {
						t.Fatalf("the old database no longer opens: %v", err)
					} else {
						db.Close()
					}
				})
			}
		})
	}
}

// TestResume: a download cut in the middle is resumed with a Range request
// by the next pull; the old database stays until the new one is complete.
func TestResume(t *testing.T) {
	ctx := context.Background()
	key, pub := keyPair(t)
	ids := make([]string, 300)
	for i := range ids {
		ids[i] = fmt.Sprintf("CVE-2024-%05d", i)
	}
	src := filepath.Join(t.TempDir(), "db")
	buildDB(t, src, ids...)
	for regName, p := range registries(t) {
		t.Run(regName, func(t *testing.T) {
			host := serve(t, p)
			ref := mustRef(t, host+"/warden/db:2")
			pres, err := Push(ctx, src, ref, PushOptions{Key: key})
			if err != nil {
				t.Fatal(err)
			}
			if pres.Size < 4096 {
				t.Fatalf("compressed database of %d bytes: too small to cut", pres.Size)
			}
			dst := filepath.Join(t.TempDir(), "db")
			buildDB(t, dst, "CVE-2020-0001")
			before := readFile(t, dst)
			cut := func(w http.ResponseWriter, r *http.Request, inner http.Handler) bool {
				if !strings.HasSuffix(r.URL.Path, "/blobs/"+pres.Layer.String()) {
					return false
				}
				rec := httptest.NewRecorder()
				inner.ServeHTTP(rec, r)
				w.Header().Set("Content-Length", fmt.Sprint(rec.Body.Len()))
				w.WriteHeader(http.StatusOK)
				w.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}
			p.setBlob(cut)
			_, err = Pull(ctx, dst, ref, PullOptions{Keys: []verify.Key{pub}})
			p.setBlob(nil)
			if err == nil || !strings.Contains(err.Error(), "kept for the next try") {
				t.Fatalf("cut pull: %v", err)
			}
			if !bytes.Equal(before, readFile(t, dst)) {
				t.Fatal("a failed pull changed the database")
			}
			p.take()
			res, err := Pull(ctx, dst, ref, PullOptions{Keys: []verify.Key{pub}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Resumed != pres.Size/2 || res.Downloaded != pres.Size-pres.Size/2 {
				t.Errorf("resumed %d and downloaded %d of %d bytes; want %d resumed", res.Resumed, res.Downloaded, pres.Size, pres.Size/2)
			}
			ranged := false
			for _, r := range p.take() {
				ranged = ranged || strings.HasSuffix(r, fmt.Sprintf(" bytes=%d-%d", pres.Size/2, pres.Size-1))
			}
			if !ranged {
				t.Error("no Range request for the rest of the layer")
			}
			if !bytes.Equal(readFile(t, src), readFile(t, dst)) {
				t.Fatal("the resumed database differs from the pushed one")
			}
			if left, _ := filepath.Glob(dst + ".download-*"); len(left) > 0 {
				t.Errorf("partial downloads left: %v", left)
			}
		})
	}
}

func TestDue(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	now := time.Now()
	if !Due(db, time.Hour, now) {
		t.Error("a missing database is not due")
	}
	buildDB(t, db, "CVE-2024-9143")
	if Due(db, time.Hour, now) {
		t.Error("a database installed just now is due")
	}
	if !Due(db, time.Hour, now.Add(2*time.Hour)) {
		t.Error("a database older than the maximum age is not due")
	}
	fi, _ := os.Stat(db)
	if err := writeState(db, State{Checked: now.Add(90 * time.Minute), Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
		t.Fatal(err)
	}
	if Due(db, time.Hour, now.Add(2*time.Hour)) {
		t.Error("a database checked 30 minutes ago is due")
	}
}

// TestConcurrentPulls: pulls started together (scans auto-pulling at once)
// take turns; every one succeeds and the database is the pushed one.
func TestConcurrentPulls(t *testing.T) {
	ctx := context.Background()
	key, pub := keyPair(t)
	src := filepath.Join(t.TempDir(), "db")
	buildDB(t, src, "CVE-2024-9143", "CVE-2024-0727")
	host := serve(t, registries(t)["ggcr"])
	ref := mustRef(t, host+"/warden/db:2")
	if _, err := Push(ctx, src, ref, PushOptions{Key: key}); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "db")
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = Pull(ctx, dst, ref, PullOptions{Keys: []verify.Key{pub}})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("pull %d: %v", i, err)
		}
	}
	if !bytes.Equal(readFile(t, src), readFile(t, dst)) {
		t.Fatal("the database differs from the pushed one")
	}
}
