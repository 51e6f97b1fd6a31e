package e2e

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/walk"
)

// BenchmarkLangExtraction measures the cost of the language extractors on the
// large benchmark image of bench/foundation.sh (its layer files l1/l2/l3.tar.gz
// in $WARDEN_BENCH_DIR, default /tmp/warden-bench: a Debian /usr/bin + dpkg
// database, /usr/local/go, an application), with and without an extra
// node_modules-heavy layer (this machine's /usr/lib/node_modules), comparing
// the OS extractors alone with every extractor. Run:
//
//	bash bench/foundation.sh   # once, builds the layers
//	go test ./internal/e2e -run '^$' -bench LangExtraction -benchtime 3x
func BenchmarkLangExtraction(b *testing.B) {
	dir := os.Getenv("WARDEN_BENCH_DIR")
	if dir == "" {
		dir = "/tmp/warden-bench"
	}
	var base []v1.Layer
	for _, l := range []string{"l1.tar.gz", "l2.tar.gz", "l3.tar.gz"} {
		p := filepath.Join(dir, l)
		if _, err := os.Stat(p); err != nil {
			b.Skipf("no benchmark image layers in %s (run bench/foundation.sh): %v", dir, err)
		}
		base = append(base, testimage.LayerFromTarGz(b, p))
	}
	images := map[string]v1.Image{"base": testimage.Image(b, testimage.DefaultConfig(), base...)}
	if nm := nodeModulesLayer(b, "/usr/lib/node_modules"); nm != "" {
		images["base+node_modules"] = testimage.Image(b, testimage.DefaultConfig(), append(base, testimage.LayerFromTarGz(b, nm))...)
	}
	for _, name := range []string{"base", "base+node_modules"} {
		img := images[name]
		if img == nil {
			continue
		}
		for _, set := range []struct {
			name string
			ex   []extract.Extractor
		}{{"os-only", all.OS()}, {"os+lang", all.Extractors()}} {
			b.Run(name+"/"+set.name, func(b *testing.B) {
				var pkgs int
				cpu0 := cpuSeconds()
				for b.Loop() {
					inv, err := walk.Inventory(context.Background(), img, walk.Options{Extractors: set.ex})
					if err != nil {
						b.Fatal(err)
					}
					pkgs = len(inv.Packages)
				}
				b.ReportMetric(float64(pkgs), "packages")
				// CPU time as well as wall time: the machine is shared.
				b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
			})
		}
	}
}

// nodeModulesLayer writes a gzip tar of dir (as usr/lib/node_modules) and
// returns its path, or "" when dir does not exist.
func nodeModulesLayer(b *testing.B, dir string) string {
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	out := filepath.Join(b.TempDir(), "node_modules.tar.gz")
	f, err := os.Create(out)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	gz := gzip.NewWriter(f)
	tw := tar.NewWriter(gz)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			link, _ = os.Readlink(p)
		}
		h, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			return err
		}
		h.Name = "usr/lib/node_modules" + p[len(dir):]
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if fi.Mode().IsRegular() {
			src, err := os.Open(p)
			if err != nil {
				return err
			}
			defer src.Close()
			_, err = io.Copy(tw, src)
			return err
		}
		return nil
	})
	if err == nil {
		err = tw.Close()
	}
	if err == nil {
		err = gz.Close()
	}
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// cpuSeconds is the process's user+system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
