//go:build load

package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testsvc"
)

// TestServeLoad (go test -tags load -run TestServeLoad ./cmd/warden): 50
// clients push and pull distinct and shared blobs for WARDEN_LOAD_SECONDS
// (default 60) across 3 `warden serve` processes on one SeaweedFS and one
// PostgreSQL; chunked uploads move between replicas. It requires zero errors,
// then reads every manifest and blob back with its digest, and logs p50/p99
// latency per operation and each replica's peak RSS.
func TestServeLoad(t *testing.T) {
	secs := 60
	if v := os.Getenv("WARDEN_LOAD_SECONDS"); v != "" {
		secs, _ = strconv.Atoi(v)
	}
	clients := 50
	s3 := testsvc.SeaweedFS(t)
	pg := testsvc.Postgres(t)
	url := s3.URL("warden-load", "load")
	var addrs []string
	var cmds []*os.Process
	for range 3 {
		a := freeAddr(t)
		c := startReplica(t, a, s3, url, pg.DSN)
		addrs = append(addrs, "http://"+a)
		cmds = append(cmds, c.Process)
	}
	shared := make([][]byte, 4)
	for i := range shared {
		shared[i] = make([]byte, 256<<10)
		rand.Read(shared[i])
	}
	type image struct{ repo, tag, digest string }
	var (
		mu     sync.Mutex
		lat    = map[string][]time.Duration{}
		images []image
		errs   []string
	)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	op := func(kind, method, u string, body []byte, want int, hdr ...string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(method, u, bytes.NewReader(body))
		if body == nil {
			req.Body = nil
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		start := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", method, u, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		mu.Lock()
		lat[kind] = append(lat[kind], d)
		mu.Unlock()
		if err != nil || resp.StatusCode != want {
			return resp, b, fmt.Errorf("%s %s: %d (want %d) %v %.200s", method, u, resp.StatusCode, want, err, b)
		}
		return resp, b, nil
	}
	digest := func(b []byte) string { s := sha256.Sum256(b); return "sha256:" + hex.EncodeToString(s[:]) }
	pushBlob := func(r *mrand.Rand, repo string, b []byte, chunked bool) error {
		d := digest(b)
		if !chunked {
			_, _, err := op("blob-put", "POST", addrs[r.IntN(3)]+"/v2/"+repo+"/blobs/uploads/?digest="+d, b, 201)
			return err
		}
		resp, _, err := op("upload-start", "POST", addrs[r.IntN(3)]+"/v2/"+repo+"/blobs/uploads/", nil, 202)
		if err != nil {
			return err
		}
		loc := resp.Header.Get("Location")
		half := len(b) / 2
		if _, _, err := op("upload-patch", "PATCH", addrs[r.IntN(3)]+loc, b[:half], 202, "Content-Range", fmt.Sprintf("0-%d", half-1)); err != nil {
			return err
		}
		_, _, err = op("upload-put", "PUT", addrs[r.IntN(3)]+loc+"?digest="+d, b[half:], 201, "Content-Range", fmt.Sprintf("%d-%d", half, len(b)-1))
		return err
	}
	end := time.Now().Add(time.Duration(secs) * time.Second)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := mrand.New(mrand.NewPCG(uint64(c), 7))
			for i := 0; time.Now().Before(end); i++ {
				repo := fmt.Sprintf("load/team%d/app", c%5)
				layer := make([]byte, 16<<10+r.IntN(512<<10))
				rand.Read(layer)
				base := shared[r.IntN(len(shared))]
				config := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","client":%d,"i":%d}`, c, i))
				err := pushBlob(r, repo, base, false)
				if err == nil {
					err = pushBlob(r, repo, layer, r.IntN(2) == 0)
				}
				if err == nil {
					err = pushBlob(r, repo, config, false)
				}
				var man []byte
				if err == nil {
					man = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d},{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`,
						digest(config), len(config), digest(base), len(base), digest(layer), len(layer)))
					tag := fmt.Sprintf("c%d-%d", c, i)
					_, _, err = op("manifest-put", "PUT", addrs[r.IntN(3)]+"/v2/"+repo+"/manifests/"+tag, man, 201, "Content-Type", "application/vnd.oci.image.manifest.v1+json")
					if err == nil {
						mu.Lock()
						images = append(images, image{repo, tag, digest(man)})
						mu.Unlock()
					}
				}
				if err == nil { // pull it back through a replica, and a shared blob with a Range
					tag := fmt.Sprintf("c%d-%d", c, i)
					var got []byte
					_, got, err = op("manifest-get", "GET", addrs[r.IntN(3)]+"/v2/"+repo+"/manifests/"+tag, nil, 200, "Accept", "application/vnd.oci.image.manifest.v1+json")
					if err == nil && digest(got) != digest(man) {
						err = fmt.Errorf("manifest %s read back with another digest", tag)
					}
					if err == nil {
						_, got, err = op("blob-get", "GET", addrs[r.IntN(3)]+"/v2/"+repo+"/blobs/"+digest(layer), nil, 200)
						if err == nil && !bytes.Equal(got, layer) {
							err = fmt.Errorf("layer of %s read back differs", tag)
						}
					}
					if err == nil {
						_, got, err = op("blob-range", "GET", addrs[r.IntN(3)]+"/v2/"+repo+"/blobs/"+digest(base), nil, 206, "Range", "bytes=1000-1999")
						if err == nil && !bytes.Equal(got, base[1000:2000]) {
							err = fmt.Errorf("ranged read of the shared blob differs")
						}
					}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	// Every manifest and blob reads back with its digest.
	for _, im := range images {
		u := addrs[mrand.IntN(3)]
		resp, err := http.Get(u + "/v2/" + im.repo + "/manifests/" + im.digest)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || digest(b) != im.digest {
			t.Fatalf("manifest %s/%s: %d", im.repo, im.tag, resp.StatusCode)
		}
		var m struct {
			Config struct{ Digest string }
			Layers []struct{ Digest string }
		}
		json.Unmarshal(b, &m)
		for _, d := range []string{m.Config.Digest, m.Layers[0].Digest, m.Layers[1].Digest} {
			resp, err := http.Get(u + "/v2/" + im.repo + "/blobs/" + d)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || digest(b) != d {
				t.Fatalf("blob %s of %s/%s: %d", d, im.repo, im.tag, resp.StatusCode)
			}
		}
	}
	var kinds []string
	var all []time.Duration
	for k, v := range lat {
		kinds = append(kinds, k)
		all = append(all, v...)
	}
	sort.Strings(kinds)
	pct := func(v []time.Duration, p float64) time.Duration {
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		return v[int(float64(len(v)-1)*p)]
	}
	var lines []string
	lines = append(lines, fmt.Sprintf("load: %d clients, %d s, 3 replicas: %d images pushed and pulled, %d requests (%.0f/s), %d errors; all requests p50 %v p99 %v",
		clients, secs, len(images), len(all), float64(len(all))/float64(secs), len(errs), pct(all, 0.5).Round(time.Millisecond), pct(all, 0.99).Round(time.Millisecond)))
	for _, k := range kinds {
		lines = append(lines, fmt.Sprintf("  %-13s n=%6d p50 %8v p99 %8v", k, len(lat[k]), pct(lat[k], 0.5).Round(100*time.Microsecond), pct(lat[k], 0.99).Round(100*time.Microsecond)))
	}
	for i, p := range cmds {
		st, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid))
		for _, l := range strings.Split(string(st), "\n") {
			if strings.HasPrefix(l, "VmHWM:") {
				lines = append(lines, fmt.Sprintf("  replica %d peak RSS %s", i+1, strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))))
			}
		}
	}
	for _, l := range lines {
		t.Log(l)
	}
	if len(errs) > 0 {
		t.Errorf("%d errors, the first: %s", len(errs), errs[0])
	}
	if len(images) == 0 {
		t.Fatal("no image pushed")
	}
}
