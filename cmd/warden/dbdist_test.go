package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	ggcr "github.com/google/go-containerregistry/pkg/registry"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/cachedir"
	"github.com/wardensec/warden/pkg/vulndb"
)

// dbFixture imports the demo's feed slice into a fresh state directory and
// makes a key pair; it returns the state directory and the key prefix.
func dbFixture(t *testing.T) (state, key string) {
	t.Helper()
	t.Setenv("WARDEN_PASSWORD", "s3cret")
	state, dir := t.TempDir(), t.TempDir()
	key = filepath.Join(dir, "db")
	if _, stderr, code := runWardenCmd(t, "keygen", "--output-key-prefix", key); code != 0 {
		t.Fatal(stderr)
	}
	feeds := filepath.Join(testutil.RepoRoot(t), "testdata", "feeds")
	if _, stderr, code := runWardenCmd(t, "--cache-dir", state, "db", "import", feeds+"/alpine-secdb", "debian-json:"+feeds+"/debian-bookworm-slice.json"); code != 0 {
		t.Fatal(stderr)
	}
	return state, key
}

func ggcrHost(t *testing.T, h func(http.Handler) http.Handler) string {
	t.Helper()
	var reg http.Handler = ggcr.New(ggcr.Logger(log.New(io.Discard, "", 0)))
	if h != nil {
		reg = h(reg)
	}
	srv := httptest.NewServer(reg)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return u.Host
}

// TestDBPushPull: `warden db push` then `warden db pull` through `warden serve`
// and through go-containerregistry's registry; an unchanged pull says so; a
// wrong key and an unsigned database exit non-zero with a one-line reason and
// leave the installed database byte-identical.
func TestDBPushPull(t *testing.T) {
	state, key := dbFixture(t)
	src, err := os.ReadFile(cachedir.DBPath(state))
	if err != nil {
		t.Fatal(err)
	}
	_, otherKey := dbFixture(t)
	hosts := map[string]string{
		"warden serve": startServe(t, "--root", t.TempDir(), "--no-scan", "--cache-dir", t.TempDir()),
		"ggcr":         ggcrHost(t, nil),
	}
	for regName, host := range hosts {
		t.Run(regName, func(t *testing.T) {
			ref := host + "/warden/db:2"
			out, stderr, code := runWardenCmd(t, "--cache-dir", state, "db", "push", ref, "--key", key+".key")
			if code != 0 || !strings.Contains(out, "Pushed "+host+"/warden/db@sha256:") {
				t.Fatalf("db push: exit %d\n%s%s", code, out, stderr)
			}
			dst := t.TempDir()
			out, stderr, code = runWardenCmd(t, "db", "pull", ref, "--key", key+".pub", "--cache-dir", dst)
			if code != 0 || !strings.Contains(out, "Pulled ") || !strings.Contains(out, "signed by "+key+".pub") {
				t.Fatalf("db pull: exit %d\n%s%s", code, out, stderr)
			}
			got, err := os.ReadFile(cachedir.DBPath(dst))
			if err != nil || !bytes.Equal(got, src) {
				t.Fatalf("the pulled database differs from the pushed one (%v)", err)
			}
			if out, _, code = runWardenCmd(t, "db", "pull", ref, "--key", key+".pub", "--cache-dir", dst); code != 0 || !strings.HasPrefix(out, "Unchanged ") {
				t.Fatalf("second pull: exit %d\n%s", code, out)
			}
			if out, _, code = runWardenCmd(t, "db", "status", "--cache-dir", dst); code != 0 || !strings.Contains(out, "pulled: "+host+"/warden/db@sha256:") {
				t.Errorf("db status after a pull: exit %d\n%s", code, out)
			}

			// Refusals: the installed database stays byte-identical.
			unsignedState := t.TempDir()
			if _, stderr, code := runWardenCmd(t, "--cache-dir", unsignedState, "db", "import", filepath.Join(testutil.RepoRoot(t), "testdata", "feeds", "alpine-secdb")); code != 0 {
				t.Fatal(stderr)
			}
			unsigned := host + "/warden/db:unsigned"
			pushUnsigned(t, unsignedState, key, unsigned)
			for _, tc := range []struct {
				name, ref, key string
				code           int
				want           string
			}{
				{"wrong key", ref, otherKey + ".pub", exitBadSignature, "does not verify with " + otherKey + ".pub"},
				{"unsigned", unsigned, key + ".pub", exitUnsigned, "is not signed"},
			} {
				// A fresh directory holding the good database (so the pull is not "unchanged").
				d := t.TempDir()
				if err := os.WriteFile(cachedir.DBPath(d), src, 0o644); err != nil {
					t.Fatal(err)
				}
				out, stderr, code := runWardenCmd(t, "db", "pull", tc.ref, "--key", tc.key, "--cache-dir", d)
				if code != tc.code || !strings.Contains(stderr, tc.want) || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
					t.Errorf("%s: exit %d, want %d and one line containing %q\n%s%s", tc.name, code, tc.code, tc.want, out, stderr)
				}
				if got, _ := os.ReadFile(cachedir.DBPath(d)); !bytes.Equal(got, src) {
					t.Errorf("%s: the installed database changed", tc.name)
				}
			}
		})
	}
}

// pushUnsigned publishes the database of state as an artifact whose manifest
// has no signature: `db push` always signs, so it pushes to another tag and
// puts a changed copy of the manifest (same blobs) under ref.
func pushUnsigned(t *testing.T, state, key, ref string) {
	t.Helper()
	tmp := ref[:strings.LastIndex(ref, ":")] + ":signed-copy"
	if out, stderr, code := runWardenCmd(t, "--cache-dir", state, "db", "push", tmp, "--key", key+".key"); code != 0 {
		t.Fatal(out, stderr)
	}
	copyManifest(t, tmp, ref)
}

// copyManifest puts the manifest src names under the tag dst (same repository), by plain HTTP.
func copyManifest(t *testing.T, src, dst string) {
	t.Helper()
	i, j := strings.LastIndex(src, ":"), strings.Index(src, "/")
	host, repo, tag := src[:j], src[j+1:i], src[i+1:]
	dtag := dst[strings.LastIndex(dst, ":")+1:]
	req, _ := http.NewRequest("GET", "http://"+host+"/v2/"+repo+"/manifests/"+tag, nil)
	req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Change the manifest (an extra annotation) so that its digest has no signature.
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["annotations"].(map[string]any)["test"] = "unsigned copy"
	body, _ = json.Marshal(m)
	req, _ = http.NewRequest("PUT", "http://"+host+"/v2/"+repo+"/manifests/"+dtag, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("putting %s: %v %v", dst, err, resp)
	}
	resp.Body.Close()
}

// TestDBPullKilled: a `warden db pull` killed with SIGKILL in the middle of
// the download leaves the old database usable and byte-identical; the next
// pull resumes the download.
func TestDBPullKilled(t *testing.T) {
	state, key := dbFixture(t)
	var stall atomic.Bool
	reached := make(chan struct{}, 1)
	release := make(chan struct{})
	defer close(release)
	host := ggcrHost(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !stall.Load() || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/blobs/") {
				h.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Body.Len() < 8<<10 { // config and signature blobs
				for k, v := range rec.Header() {
					w.Header()[k] = v
				}
				w.WriteHeader(rec.Code)
				w.Write(rec.Body.Bytes())
				return
			}
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			w.Write(rec.Body.Bytes()[:rec.Body.Len()/2])
			w.(http.Flusher).Flush()
			reached <- struct{}{}
			<-release
		})
	})
	ref := host + "/warden/db:2"
	if out, stderr, code := runWardenCmd(t, "--cache-dir", state, "db", "push", ref, "--key", key+".key"); code != 0 {
		t.Fatal(out, stderr)
	}
	src, _ := os.ReadFile(cachedir.DBPath(state))

	// The installed database: a different one (the Alpine slice only).
	dst := t.TempDir()
	if _, stderr, code := runWardenCmd(t, "--cache-dir", dst, "db", "import", filepath.Join(testutil.RepoRoot(t), "testdata", "feeds", "alpine-secdb")); code != 0 {
		t.Fatal(stderr)
	}
	old, _ := os.ReadFile(cachedir.DBPath(dst))

	stall.Store(true)
	args, _ := json.Marshal([]string{"db", "pull", ref, "--key", key + ".pub", "--cache-dir", dst})
	child := exec.Command(os.Args[0], "-test.run=^TestServeHelperProcess$")
	child.Env = append(os.Environ(), "WARDEN_SERVE_CHILD="+string(args))
	var out lockedBuffer
	child.Stdout, child.Stderr = &out, &out
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reached:
	case <-time.After(30 * time.Second):
		child.Process.Kill()
		child.Wait()
		t.Fatalf("the pull never reached the layer download\n%s", out.String())
	}
	time.Sleep(100 * time.Millisecond) // let the child write what it received
	child.Process.Kill()
	child.Wait()
	stall.Store(false)

	if got, _ := os.ReadFile(cachedir.DBPath(dst)); !bytes.Equal(got, old) {
		t.Fatal("the database changed under a killed pull")
	}
	db, err := vulndb.Open(cachedir.DBPath(dst))
	if err != nil {
		t.Fatalf("the old database is not usable after the kill: %v", err)
	}
	db.Close()
	if left, _ := filepath.Glob(cachedir.DBPath(dst) + ".download-*"); len(left) != 1 {
		t.Fatalf("partial downloads after the kill: %v", left)
	}

	o, stderr, code := runWardenCmd(t, "db", "pull", ref, "--key", key+".pub", "--cache-dir", dst)
	if code != 0 || !strings.Contains(o, "resumed") {
		t.Fatalf("pull after the kill: exit %d\n%s%s", code, o, stderr)
	}
	if got, _ := os.ReadFile(cachedir.DBPath(dst)); !bytes.Equal(got, src) {
		t.Fatal("the resumed pull installed something else")
	}
}

// TestScanAutoPull: with WARDEN_DB_REPOSITORY (and the key) set and no local
// database, scan pulls the database, then scans.
func TestScanAutoPull(t *testing.T) {
	state, key := dbFixture(t)
	host := startServe(t, "--root", t.TempDir(), "--no-scan", "--cache-dir", t.TempDir())
	ref := host + "/mirror/warden-db:2"
	if out, stderr, code := runWardenCmd(t, "--cache-dir", state, "db", "push", ref, "--key", key+".key"); code != 0 {
		t.Fatal(out, stderr)
	}
	t.Setenv(dbRepositoryEnv, ref)
	t.Setenv(dbKeyEnv, key+".pub")
	empty := t.TempDir()
	image := "oci-layout:" + filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4")
	out, stderr, code := runWardenCmd(t, "--cache-dir", empty, "scan", image)
	if code != 0 || !strings.Contains(stderr, "pulled the vulnerability database "+host+"/mirror/warden-db@sha256:") || !strings.Contains(out, "CVE-2024-9143") {
		t.Fatalf("scan: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, stderr)
	}
	// A second scan within --db-max-age does not pull.
	_, stderr, code = runWardenCmd(t, "--cache-dir", empty, "scan", image)
	if code != 0 || strings.Contains(stderr, "pulled") {
		t.Fatalf("second scan: exit %d\n%s", code, stderr)
	}
	// Without the key, the pull is refused (fail closed) and, with no database, so is the scan.
	t.Setenv(dbKeyEnv, "")
	_, stderr, code = runWardenCmd(t, "--cache-dir", t.TempDir(), "scan", image)
	if code == 0 || !strings.Contains(stderr, "no key to verify it with") {
		t.Fatalf("scan without a key: exit %d\n%s", code, stderr)
	}
}
