// Command rematch measures what issue #17 asks of `warden serve` with many
// images: after a vulnerability database update every stored image is
// re-matched from the layer cache (no layer is read again). It builds the
// server as `warden serve` does (pkg/serve.New, the real scanner and layer
// cache, SQLite metadata, filesystem storage), pushes -n images over HTTP on
// loopback, waits for scan on push to finish, then calls Rescan (what the
// database watcher does) and times the queue until it is empty.
//
// Each image is a real base layer (the Alpine 3.19.4 minirootfs or the Debian
// 12 package database from the corpus, alternating) plus a small top layer of
// its own, so the layer cache holds n+2 layers.
//
//	go run ./bench/cmd/rematch -db STATE/db -n 10000 -work /tmp/rematch
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/serve"
)

func main() {
	n := flag.Int("n", 10000, "images to push")
	dbFile := flag.String("db", "", "a Warden vulnerability database file (STATE/db of `warden db import`)")
	work := flag.String("work", "", "work directory (emptied first)")
	workers := flag.Int("workers", runtime.NumCPU(), "scan workers")
	corpus := flag.String("corpus", "../shared/corpus/images", "directory of the corpus base layers")
	flag.Parse()
	if err := run(context.Background(), *n, *dbFile, *work, *workers, *corpus); err != nil {
		fmt.Fprintln(os.Stderr, "rematch:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, n int, dbFile, work string, workers int, corpus string) error {
	if dbFile == "" || work == "" {
		return fmt.Errorf("-db and -work are required")
	}
	if err := os.RemoveAll(work); err != nil {
		return err
	}
	state := filepath.Join(work, "state")
	if err := os.MkdirAll(state, 0o755); err != nil {
		return err
	}
	if err := copyFile(dbFile, filepath.Join(state, "db")); err != nil {
		return err
	}
	var bases []v1.Layer
	for _, f := range []string{"alpine-minirootfs-3.19.4-x86_64.tar.gz", "debian-bookworm-minbase-pkgdb.tar.gz"} {
		l, err := tarball.LayerFromFile(filepath.Join(corpus, f))
		if err != nil {
			return fmt.Errorf("base layer %s: %w", f, err)
		}
		bases = append(bases, l)
	}
	config, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{Architecture: "amd64", OS: "linux"})
	if err != nil {
		return err
	}
	cfg := &serve.Config{Addr: "127.0.0.1:0", Root: filepath.Join(work, "root")}
	cfg.Scan.Workers = workers
	cfg.Scan.DBCheck = "24h" // the bench calls Rescan itself
	srv, err := serve.New(ctx, cfg, serve.Options{CacheDir: state})
	if err != nil {
		return err
	}
	defer srv.Close()
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	host := strings.TrimPrefix(ts.URL, "http://")
	md := srv.Registry().Meta()

	fmt.Printf("pushing %d images (%d scan workers, %d cores)\n", n, workers, runtime.NumCPU())
	start := time.Now()
	var next atomic.Int64
	digests := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				d, err := push(host, i, config, bases[i%len(bases)])
				if err != nil {
					errs <- fmt.Errorf("image %d: %w", i, err)
					return
				}
				digests[i] = d
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Printf("pushed in %v\n", time.Since(start).Round(time.Millisecond))
	if err := drain(ctx, md.QueueLength); err != nil {
		return err
	}
	fmt.Printf("pushed and scanned on push in %v\n", time.Since(start).Round(time.Millisecond))

	// The kernel's peak resident set (VmHWM) restarts from the current one,
	// so the peak read after the re-match is the re-match's.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	u0 := cpu()
	start = time.Now()
	queued, err := srv.Registry().Rescan(ctx)
	if err != nil {
		return err
	}
	if err := drain(ctx, md.QueueLength); err != nil {
		return err
	}
	took := time.Since(start)
	used := cpu() - u0
	fmt.Printf("re-matched %d images in %v wall, %.1f s CPU (%.0f images/s); peak RSS while re-matching %d MB\n",
		queued, took.Round(time.Millisecond), used.Seconds(), float64(queued)/took.Seconds(), peakRSS()>>20)

	// Every image re-matched, with the packages and findings its base has.
	var pkgs, findings, rescanned int
	for i, d := range digests {
		repo := fmt.Sprintf("bench/app-%d", i%100)
		if st, lastErr, err := md.ScanState(ctx, repo, d); err != nil || st != "done" {
			return fmt.Errorf("image %d (%s@%s): scan state %q %s %v", i, repo, d, st, lastErr, err)
		}
		b, _, err := md.ScanResult(ctx, repo, d)
		if err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
		var res registry.ScanResult
		if err := json.Unmarshal(b, &res); err != nil {
			return fmt.Errorf("image %d: %w", i, err)
		}
		pkgs += res.Packages
		findings += len(res.Findings)
		if !res.ScannedAt.Before(start) {
			rescanned++
		}
	}
	fmt.Printf("%d images: %d packages, %d findings in all; %d results written by the re-match\n", n, pkgs, findings, rescanned)
	if rescanned != n {
		return fmt.Errorf("%d of %d results are older than the re-match", n-rescanned, n)
	}
	return nil
}

// push writes image i: base plus a top layer of its own, to
// bench/app-(i%100):i, and returns its digest.
func push(host string, i int, config v1.Image, base v1.Layer) (string, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := []byte(fmt.Sprintf("image %d\n", i))
	if err := tw.WriteHeader(&tar.Header{Name: "etc/bench-image", Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(0, 0)}); err != nil {
		return "", err
	}
	tw.Write(body)
	tw.Close()
	b := buf.Bytes()
	top, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		return "", err
	}
	img, err := mutate.AppendLayers(config, base, top)
	if err != nil {
		return "", err
	}
	ref, err := name.NewTag(fmt.Sprintf("%s/bench/app-%d:%d", host, i%100, i), name.Insecure)
	if err != nil {
		return "", err
	}
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), remote.Write(ref, img)
}

// drain waits until no scan is queued or running.
func drain(ctx context.Context, queue func(context.Context) (int, error)) error {
	for {
		left, err := queue(ctx)
		if err != nil {
			return err
		}
		if left == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func cpu() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is this process's peak resident set (VmHWM) in bytes; 0 when unknown.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(rest, &kb)
			return kb << 10
		}
	}
	return 0
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
