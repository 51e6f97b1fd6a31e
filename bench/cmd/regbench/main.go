// Command regbench measures one registry's per-request latency and throughput
// over the OCI distribution API, as docker and crane use it: for each of -n
// images a layer blob of -size bytes of random data is pushed (POST, PATCH
// with the whole blob, PUT ?digest=), then a config blob and an image
// manifest; afterwards every manifest and layer is pulled back and its digest
// checked. -c clients work at once. It prints p50/p99 per operation and the
// push and pull throughput of the layer bytes. bench/registry-s3.sh runs it
// against warden serve and CNCF Distribution in the same run.
//
//	go run ./bench/cmd/regbench -url http://127.0.0.1:5000 -repo bench/lat -n 64 -size 4MiB -c 8
package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

func main() {
	base := flag.String("url", "", "registry base URL (http://HOST:PORT)")
	repo := flag.String("repo", "bench/lat", "repository")
	n := flag.Int("n", 64, "images (one layer each)")
	sizeFlag := flag.String("size", "4MiB", "layer size (B, KiB, MiB)")
	conc := flag.Int("c", 8, "concurrent clients")
	name := flag.String("name", "", "label on the output lines (default the URL)")
	flag.Parse()
	size, err := parseSize(*sizeFlag)
	if *base == "" || err != nil || *n < 1 || *conc < 1 {
		fmt.Fprintln(os.Stderr, "regbench: -url is required; -size like 4MiB; -n, -c >= 1", err)
		os.Exit(2)
	}
	if *name == "" {
		*name = *base
	}
	b := &bench{base: strings.TrimSuffix(*base, "/"), repo: *repo, client: &http.Client{Timeout: 5 * time.Minute,
		Transport: &http.Transport{MaxIdleConnsPerHost: *conc, DisableCompression: true}}, lat: map[string][]time.Duration{}}
	if err := b.run(*n, size, *conc, *name); err != nil {
		fmt.Fprintln(os.Stderr, "regbench:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suf string
		m   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"B", 1}} {
		if strings.HasSuffix(s, u.suf) {
			s, mult = strings.TrimSuffix(s, u.suf), u.m
			break
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("size %q", s)
	}
	return v * mult, nil
}

type bench struct {
	base, repo string
	client     *http.Client
	mu         sync.Mutex
	lat        map[string][]time.Duration
}

func (b *bench) record(op string, d time.Duration) {
	b.mu.Lock()
	b.lat[op] = append(b.lat[op], d)
	b.mu.Unlock()
}

type image struct {
	layer          []byte
	layerD, mfD    string
	config, mf     []byte
	configD, mfTag string
}

func digest(p []byte) string {
	s := sha256.Sum256(p)
	return "sha256:" + hex.EncodeToString(s[:])
}

func (b *bench) run(n int, size int64, conc int, name string) error {
	imgs := make([]*image, n)
	for i := range imgs {
		im := &image{layer: make([]byte, size)}
		rand.Read(im.layer)
		im.layerD = digest(im.layer)
		im.config = fmt.Appendf(nil, `{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s"]}}`, im.layerD)
		im.configD = digest(im.config)
		mf := map[string]any{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
			"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": im.configD, "size": len(im.config)},
			"layers": []any{map[string]any{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": im.layerD, "size": size}}}
		im.mf, _ = json.Marshal(mf)
		im.mfD = digest(im.mf)
		im.mfTag = fmt.Sprintf("t%d", i)
		imgs[i] = im
	}
	push := func(im *image) error {
		t := time.Now()
		if err := b.pushBlob(im.layer, im.layerD, true); err != nil {
			return err
		}
		b.record("blob push", time.Since(t))
		if err := b.pushBlob(im.config, im.configD, false); err != nil {
			return err
		}
		t = time.Now()
		if err := b.do("PUT", "/v2/"+b.repo+"/manifests/"+im.mfTag, "application/vnd.oci.image.manifest.v1+json", im.mf, 201, nil); err != nil {
			return err
		}
		b.record("manifest put", time.Since(t))
		return nil
	}
	pull := func(im *image) error {
		t := time.Now()
		var got bytes.Buffer
		if err := b.do("GET", "/v2/"+b.repo+"/manifests/"+im.mfTag, "", nil, 200, &got); err != nil {
			return err
		}
		b.record("manifest get", time.Since(t))
		if digest(got.Bytes()) != im.mfD {
			return fmt.Errorf("manifest %s: wrong digest", im.mfTag)
		}
		got.Reset()
		t = time.Now()
		if err := b.do("GET", "/v2/"+b.repo+"/blobs/"+im.layerD, "", nil, 200, &got); err != nil {
			return err
		}
		b.record("blob get", time.Since(t))
		if digest(got.Bytes()) != im.layerD {
			return fmt.Errorf("blob %s: wrong digest", im.layerD)
		}
		return nil
	}
	pushTime, err := parallel(imgs, conc, push)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	pullTime, err := parallel(imgs, conc, pull)
	if err != nil {
		return fmt.Errorf("pull: %w", err)
	}
	mib := float64(int64(n)*size) / (1 << 20)
	fmt.Printf("%s: %d images of %.1f MiB, %d clients: push %.1f MiB/s (%.2f s), pull %.1f MiB/s (%.2f s)\n",
		name, n, float64(size)/(1<<20), conc, mib/pushTime.Seconds(), pushTime.Seconds(), mib/pullTime.Seconds(), pullTime.Seconds())
	for _, op := range []string{"blob push", "manifest put", "manifest get", "blob get"} {
		l := b.lat[op]
		fmt.Printf("%s:   %-12s n=%4d p50 %8.1f ms  p99 %8.1f ms\n", name, op, len(l), ms(pct(l, 0.50)), ms(pct(l, 0.99)))
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func pct(l []time.Duration, p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

func parallel(imgs []*image, conc int, f func(*image) error) (time.Duration, error) {
	t := time.Now()
	work := make(chan *image)
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for im := range work {
				if err := f(im); err != nil {
					errs <- err
					for range work {
					}
					return
				}
			}
		}()
	}
	for _, im := range imgs {
		work <- im
	}
	close(work)
	wg.Wait()
	close(errs)
	return time.Since(t), errors.Join(func() (es []error) {
		for e := range errs {
			es = append(es, e)
		}
		return
	}()...)
}

// pushBlob uploads p: POST, then (streamed) PATCH with the whole blob and
// PUT ?digest=, as docker and crane do; small blobs go POST + PUT.
func (b *bench) pushBlob(p []byte, d string, patch bool) error {
	resp, err := b.req("POST", "/v2/"+b.repo+"/blobs/uploads/", "", nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		return fmt.Errorf("POST upload: %s", resp.Status)
	}
	loc := resp.Header.Get("Location")
	if patch {
		resp, err = b.req("PATCH", loc, "application/octet-stream", p)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 202 {
			return fmt.Errorf("PATCH upload: %s", resp.Status)
		}
		loc = resp.Header.Get("Location")
		p = nil
	}
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("digest", d)
	u.RawQuery = q.Encode()
	resp, err = b.req("PUT", u.String(), "application/octet-stream", p)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		return fmt.Errorf("PUT upload of %s: %s", d, resp.Status)
	}
	return nil
}

func (b *bench) req(method, loc, ctype string, body []byte) (*http.Response, error) {
	u := loc
	if strings.HasPrefix(loc, "/") {
		u = b.base + loc
	}
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(body))
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if method == "GET" && strings.Contains(loc, "/manifests/") {
		req.Header.Set("Accept", "application/vnd.oci.image.manifest.v1+json")
	}
	return b.client.Do(req)
}

func (b *bench) do(method, loc, ctype string, body []byte, want int, out io.Writer) error {
	resp, err := b.req(method, loc, ctype, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != want {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("%s %s: %s %s", method, loc, resp.Status, msg)
	}
	if out == nil {
		out = io.Discard
	}
	_, err = io.Copy(out, resp.Body)
	return err
}
