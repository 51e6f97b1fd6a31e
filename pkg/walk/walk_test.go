package walk

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/klauspost/compress/zstd"

	"github.com/wardensec/warden/internal/arena"
	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/lang/python"
	"github.com/wardensec/warden/pkg/extract/os/apk"
	"github.com/wardensec/warden/pkg/extract/os/dpkg"
	"github.com/wardensec/warden/pkg/inflate"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/layercache"
)

var update = flag.Bool("update", false, "rewrite golden files")

// osExtractors are the apk and dpkg extractors. rpm is tested with the walk in
// its own package: it links modernc's SQLite, whose size makes coverage-guided
// fuzzing of this package crawl.
func osExtractors() []extract.Extractor {
	return []extract.Extractor{apk.New(), dpkg.New()}
}

type summary struct {
	Name, Version, Source, SourceVersion, Arch, PURL string
	Locations                                        []string
	Files                                            int
	Layer                                            int // index of the layer
}

type invSummary struct {
	Distro   *inventory.Distro
	Packages []summary
	Warnings []string
}

func summarize(t *testing.T, img v1.Image, inv *inventory.Inventory) invSummary {
	t.Helper()
	idx := map[string]int{}
	ls, _ := img.Layers()
	for i, l := range ls {
		d, _ := l.DiffID()
		idx[d.String()] = i
	}
	s := invSummary{Distro: inv.Distro, Warnings: inv.Warnings}
	for _, p := range inv.Packages {
		li, ok := idx[p.Layer]
		if !ok {
			t.Errorf("%s: layer %q is not a layer of the image", p.Name, p.Layer)
		}
		s.Packages = append(s.Packages, summary{p.Name, p.Version, p.SourceName, p.SourceVersion, p.Arch, p.PURL, p.Locations, len(p.Files), li})
	}
	sort.Slice(s.Packages, func(i, j int) bool { return s.Packages[i].Name < s.Packages[j].Name })
	return s
}

func golden(t *testing.T, name string, got any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(got); err != nil {
		t.Fatal(err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if diff := cmp.Diff(string(want), string(b)+"\n"); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", p, diff)
	}
}

func run(t *testing.T, img v1.Image, opt Options) *inventory.Inventory {
	t.Helper()
	if opt.Extractors == nil {
		opt.Extractors = osExtractors()
	}
	inv, err := Inventory(context.Background(), img, opt)
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	return inv
}

func names(inv *inventory.Inventory) []string {
	var n []string
	for _, p := range inv.Packages {
		n = append(n, p.Name+"@"+p.Version)
	}
	sort.Strings(n)
	return n
}

func debianImage(t testing.TB) v1.Image {
	return testimage.Image(t, nil, testimage.LayerFromTarGz(t, filepath.Join(testutil.Corpus(t), "images", "debian-bookworm-minbase-pkgdb.tar.gz")))
}

func alpineImage(t *testing.T) v1.Image {
	return testimage.Image(t, nil, testimage.LayerFromTarGz(t, filepath.Join(testutil.Corpus(t), "images", "alpine-minirootfs-3.19.4-x86_64.tar.gz")))
}

func TestAlpineMinirootfs(t *testing.T) {
	img := alpineImage(t)
	inv := run(t, img, Options{ImageName: "alpine"})
	if inv.Distro == nil || inv.Distro.ID != "alpine" || inv.Distro.VersionID != "3.19.4" {
		t.Fatalf("distro %+v", inv.Distro)
	}
	if len(inv.Packages) != 15 {
		t.Fatalf("%d packages, want 15", len(inv.Packages))
	}
	for _, p := range inv.Packages {
		if p.Name == "libssl3" && (p.Version != "3.1.7-r0" || p.SourceName != "openssl" ||
			p.PURL != "pkg:apk/alpine/libssl3@3.1.7-r0?arch=x86_64&distro=alpine-3.19.4") {
			t.Errorf("libssl3: %+v", p)
		}
	}
	golden(t, "alpine-3.19.4.golden.json", summarize(t, img, inv))
}

// TestInflatersAgree: the real corpus layers give the same inventory through
// ISA-L (the igzip process, and the library in process when built in) as
// through the Go inflater.
func TestInflatersAgree(t *testing.T) {
	isal := []inflate.Gzip{{Igzip: testutil.RequireTool(t, "igzip"), MinSize: -1}}
	if inflate.Linked() {
		isal = append(isal, inflate.Gzip{Isal: true})
	} else {
		testutil.Missing(t, "ISA-L built in (go test -tags isal, with Debian's libisal-dev)")
	}
	for name, img := range map[string]v1.Image{"alpine": alpineImage(t), "debian": debianImage(t)} {
		in := run(t, img, Options{Gzip: &inflate.Gzip{}})
		if len(in.Packages) == 0 {
			t.Errorf("%s: no packages", name)
		}
		for _, g := range isal {
			ext := run(t, img, Options{Gzip: &g})
			if d := cmp.Diff(in, ext); d != "" {
				t.Errorf("%s: the inventory through %s differs (-Go +ISA-L):\n%s", name, g.Name(), d)
			}
		}
	}
}

func TestDebianBookwormPkgdb(t *testing.T) {
	img := testimage.Image(t, nil, testimage.LayerFromTarGz(t, filepath.Join(testutil.Corpus(t), "images", "debian-bookworm-minbase-pkgdb.tar.gz")))
	inv := run(t, img, Options{ImageName: "debian"})
	if d := inv.Distro; d == nil || d.ID != "debian" || d.VersionID != "12" || d.Codename != "bookworm" {
		t.Fatalf("distro %+v", inv.Distro)
	}
	if len(inv.Packages) != 122 {
		t.Fatalf("%d packages, want 122", len(inv.Packages))
	}
	golden(t, "debian-bookworm.golden.json", summarize(t, img, inv))
}

const debOSRelease = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\nID=debian\n"

func status(pkgs ...string) string {
	var sb strings.Builder
	for _, p := range pkgs {
		name, ver, _ := strings.Cut(p, "@")
		sb.WriteString("Package: " + name + "\nStatus: install ok installed\nArchitecture: amd64\nVersion: " + ver + "\nDescription: test\n multi-line\n\n")
	}
	return sb.String()
}

// TestThreeLayers: layer 1 is a base, layer 2 installs packages, layer 3
// removes one (rewrites the status file) and whites out its file list and an
// apk database; the inventory is the final state.
func TestThreeLayers(t *testing.T) {
	l1 := testimage.Layer(t,
		testimage.Dir("etc"),
		testimage.Symlink("etc/os-release", "../usr/lib/os-release"),
		testimage.Reg("usr/lib/os-release", debOSRelease),
		testimage.Reg("var/lib/dpkg/status", status("base-files@12.4+deb12u5", "libc6@2.36-9+deb12u4")),
		testimage.Reg("var/lib/dpkg/info/libc6:amd64.list", "/.\n/usr\n/usr/lib/x86_64-linux-gnu/libc.so.6\n"),
	)
	l2 := testimage.Layer(t,
		testimage.Reg("var/lib/dpkg/status", status("base-files@12.4+deb12u5", "libc6@2.36-9+deb12u4", "curl@7.88.1-10+deb12u5", "libcurl4@7.88.1-10+deb12u5")),
		testimage.Reg("var/lib/dpkg/info/curl.list", "/usr/bin/curl\n"),
		testimage.Reg("var/lib/dpkg/info/libcurl4:amd64.list", "/usr/lib/x86_64-linux-gnu/libcurl.so.4\n"),
		testimage.Reg("lib/apk/db/installed", "P:stray\nV:1-r0\n\n"),
		// Package files lying in a cache are not installed.
		testimage.Reg("var/cache/apt/archives/wget_1.21.3-1+b2_amd64.deb", "!<arch>\n"),
	)
	l3 := testimage.Layer(t,
		testimage.Reg("var/lib/dpkg/status", status("base-files@12.4+deb12u5", "libc6@2.36-9+deb12u4", "libcurl4@7.88.1-10+deb12u5")),
		testimage.Whiteout("var/lib/dpkg/info/curl.list"),
		testimage.Whiteout("lib/apk"),
	)
	img := testimage.Image(t, nil, l1, l2, l3)
	inv := run(t, img, Options{ImageName: "three"})
	if diff := cmp.Diff([]string{"base-files@12.4+deb12u5", "libc6@2.36-9+deb12u4", "libcurl4@7.88.1-10+deb12u5"}, names(inv)); diff != "" {
		t.Errorf("packages (-want +got):\n%s", diff)
	}
	got := summarize(t, img, inv)
	for _, p := range got.Packages {
		if p.Layer != 2 {
			t.Errorf("%s: layer %d, want 2 (the status was rewritten there)", p.Name, p.Layer)
		}
		if p.PURL != "pkg:deb/debian/"+p.Name+"@"+p.Version+"?arch=amd64&distro=debian-12" {
			t.Errorf("purl %s", p.PURL)
		}
	}
	if got.Packages[1].Files != 2 || got.Packages[2].Files != 1 {
		t.Errorf("owned files not joined: %+v", got.Packages)
	}
	if inv.Distro == nil || inv.Distro.ID != "debian" {
		t.Errorf("distro %+v (os-release is a symlink to usr/lib/os-release)", inv.Distro)
	}

	// Without layer 3 the middle state shows.
	mid := run(t, testimage.Image(t, nil, l1, l2), Options{})
	if diff := cmp.Diff([]string{"base-files@12.4+deb12u5", "curl@7.88.1-10+deb12u5", "libc6@2.36-9+deb12u4", "libcurl4@7.88.1-10+deb12u5", "stray@1-r0"}, names(mid)); diff != "" {
		t.Errorf("two layers (-want +got):\n%s", diff)
	}
}

func TestDeletedAndReplacedDB(t *testing.T) {
	base := testimage.Layer(t, testimage.Reg("var/lib/dpkg/status", status("a@1")), testimage.Reg("etc/debian_version", "12.7\n"))
	for name, c := range map[string]struct {
		top  []testimage.File
		want []string
	}{
		"deleted":               {[]testimage.File{testimage.Whiteout("var/lib/dpkg/status")}, nil},
		"parent deleted":        {[]testimage.File{testimage.Whiteout("var/lib/dpkg")}, nil},
		"parent opaque":         {[]testimage.File{testimage.Opaque("var/lib/dpkg"), testimage.Reg("var/lib/dpkg/other", "")}, nil},
		"root opaque":           {[]testimage.File{testimage.Opaque(".")}, nil},
		"replaced by symlink":   {[]testimage.File{testimage.Symlink("var/lib/dpkg/status", "/etc/passwd")}, nil},
		"replaced":              {[]testimage.File{testimage.Reg("var/lib/dpkg/status", status("b@2"))}, []string{"b@2"}},
		"sibling opaque":        {[]testimage.File{testimage.Opaque("var/lib/apt")}, []string{"a@1"}},
		"prefix-named whiteout": {[]testimage.File{testimage.Whiteout("var/lib/dpk")}, []string{"a@1"}},
		"opaque then recreated": {[]testimage.File{testimage.Opaque("var/lib/dpkg"), testimage.Reg("var/lib/dpkg/status", status("c@3"))}, []string{"c@3"}},
	} {
		t.Run(name, func(t *testing.T) {
			inv := run(t, testimage.Image(t, nil, base, testimage.Layer(t, c.top...)), Options{})
			if diff := cmp.Diff(c.want, names(inv)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if inv.Distro == nil || inv.Distro.ID != "debian" || inv.Distro.VersionID != "12" {
				if name != "root opaque" {
					t.Errorf("distro from debian_version: %+v", inv.Distro)
				}
			}
		})
	}
}

func TestDistroless(t *testing.T) {
	img := testimage.Image(t, nil, testimage.Layer(t,
		testimage.Reg("etc/os-release", debOSRelease),
		testimage.Reg("var/lib/dpkg/status.d/base-files", "Package: base-files\nVersion: 12.4+deb12u5\nArchitecture: amd64\n"),
		testimage.Reg("var/lib/dpkg/status.d/base-files.md5sums", "d41d8cd98f00b204e9800998ecf8427e  etc/issue\n"),
		testimage.Reg("var/lib/dpkg/status.d/libssl3", "Package: libssl3\nVersion: 3.0.11-1~deb12u2\nSource: openssl\nArchitecture: amd64\n"),
	))
	inv := run(t, img, Options{})
	if inv.Distro == nil || !inv.Distro.Distroless || inv.Distro.ID != "debian" {
		t.Errorf("distro %+v", inv.Distro)
	}
	if diff := cmp.Diff([]string{"base-files@12.4+deb12u5", "libssl3@3.0.11-1~deb12u2"}, names(inv)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestHostilePathsStayInside(t *testing.T) {
	img := testimage.Image(t, nil, testimage.Layer(t,
		testimage.Reg("../../../etc/alpine-release", "3.20.3\n"),
		testimage.Reg("/lib/apk/db/installed", "P:musl\nV:1.2.5-r0\nA:x86_64\n\n"),
		testimage.Reg("./a/../../var/lib/dpkg/status", status("x@1")),
		testimage.Symlink("etc/os-release", "/etc/shadow"),
		testimage.Symlink("usr/lib/os-release", "../../../../../proc/self/environ"),
		testimage.Hardlink("var/lib/rpm/rpmdb.sqlite", "../../../../etc/shadow"),
	))
	inv := run(t, img, Options{ImageName: "hostile"})
	if diff := cmp.Diff([]string{"musl@1.2.5-r0", "x@1"}, names(inv)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	for _, p := range inv.Packages {
		if p.Locations[0] != "/lib/apk/db/installed" && p.Locations[0] != "/var/lib/dpkg/status" {
			t.Errorf("location %v escapes or is not normalised", p.Locations)
		}
	}
	if inv.Distro == nil || inv.Distro.ID != "alpine" || inv.Distro.VersionID != "3.20.3" {
		t.Errorf("distro %+v", inv.Distro)
	}
}

// TestBadLayers: each hostile layer gives the same clear error with either
// inflater (igzip for every gzip stream, however small, and in process).
func TestBadLayers(t *testing.T) {
	gs := []inflate.Gzip{{}, {Igzip: testutil.RequireTool(t, "igzip"), MinSize: -1}}
	if inflate.Linked() {
		gs = append(gs, inflate.Gzip{Isal: true})
	} else {
		testutil.Missing(t, "ISA-L built in (go test -tags isal, with Debian's libisal-dev)")
	}
	for _, g := range gs {
		t.Run(g.Name(), func(t *testing.T) { testBadLayers(t, g) })
	}
}

func testBadLayers(t *testing.T, g inflate.Gzip) {
	good := testimage.TarGz(t, testimage.Reg("lib/apk/db/installed", "P:a\nV:1\n\n"), testimage.Reg("etc/motd", strings.Repeat("hello\n", 1000)))
	for name, c := range map[string]struct {
		layer v1.Layer
		opt   Options
		want  []string
		is    error
	}{
		"truncated gzip":         {layer: testimage.RawLayer(testimage.Truncate(good, len(good)/2)), want: []string{"truncated"}},
		"truncated gzip trailer": {layer: testimage.RawLayer(testimage.Truncate(good, -4)), want: []string{"layer 0"}},
		"not a tar":              {layer: testimage.RawLayer(testimage.Gzip(t, []byte(strings.Repeat("this is not a tar archive\n", 100)))), want: []string{"tar"}},
		"not gzip, not tar":      {layer: testimage.RawLayer([]byte(strings.Repeat("\x07garbage", 200))), want: []string{"tar"}},
		"layer bomb": {
			layer: testimage.Layer(t, testimage.Zeros("zeros", 64<<20)),
			opt:   Options{MaxLayerSize: 8 << 20},
			want:  []string{"decompression bomb", "8388608"}, is: ErrTooLarge,
		},
		"file bomb": {
			layer: testimage.Layer(t, testimage.Zeros("var/lib/dpkg/status", 4<<20)),
			opt:   Options{MaxFileSize: 1 << 20},
			want:  []string{"decompression bomb", `"/var/lib/dpkg/status"`}, is: ErrTooLarge,
		},
		"header longer than body": {
			layer: testimage.Layer(t, testimage.File{Path: "lib/apk/db/installed", Content: []byte("P:a\nV:1\n"), HeaderSize: 4096}),
			want:  []string{"lib/apk/db/installed"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			img := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("etc/hostname", "x")), c.layer)
			c.opt.Extractors = osExtractors()
			c.opt.ImageName = "bad-image"
			c.opt.Gzip = &g
			_, err := Inventory(context.Background(), img, c.opt)
			if err == nil {
				t.Fatal("no error")
			}
			d, _ := c.layer.DiffID()
			for _, w := range append([]string{"bad-image", d.String()}, c.want...) {
				if !strings.Contains(err.Error(), w) && !(w == "layer 0" && strings.Contains(err.Error(), "layer 1")) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v is not %v", err, c.is)
			}
		})
	}
}

func TestExtractorWarningsAreKept(t *testing.T) {
	img := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("lib/apk/db/installed", "P:good\nV:1-r0\n\nV:2-r0\n\nP:also\nV:3-r0\n\n")))
	inv := run(t, img, Options{})
	if diff := cmp.Diff([]string{"also@3-r0", "good@1-r0"}, names(inv)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	ls, _ := img.Layers()
	d, _ := ls[0].DiffID()
	if len(inv.Warnings) != 1 || !strings.HasPrefix(inv.Warnings[0], "layer "+d.String()+" /lib/apk/db/installed: record at line 4") {
		t.Errorf("warnings %q", inv.Warnings)
	}
}

// panicky is an extractor that panics: the walk must turn it into a warning.
type panicky struct{}

func (panicky) Name() string                                   { return "test/panicky" }
func (panicky) Version() int                                   { return 1 }
func (panicky) Required(p string, _ os.FileMode, _ int64) bool { return p == "boom" }
func (panicky) Extract(context.Context, *extract.Input) ([]inventory.Package, error) {
	panic("boom")
}

func TestExtractorPanicIsAWarning(t *testing.T) {
	img := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("boom", "x")))
	inv := run(t, img, Options{Extractors: []extract.Extractor{panicky{}}})
	if len(inv.Warnings) != 1 || !strings.Contains(inv.Warnings[0], "panicked") {
		t.Errorf("warnings %q", inv.Warnings)
	}
}

// countingLayer counts how often a layer's bytes are opened.
type countingLayer struct {
	v1.Layer
	n *atomic.Int32
}

func (c countingLayer) Compressed() (io.ReadCloser, error) {
	c.n.Add(1)
	return c.Layer.Compressed()
}

func (c countingLayer) Uncompressed() (io.ReadCloser, error) {
	c.n.Add(1)
	return c.Layer.Uncompressed()
}

func TestCacheColdWarm(t *testing.T) {
	var n atomic.Int32
	base := testimage.LayerFromTarGz(t, filepath.Join(testutil.Corpus(t), "images", "alpine-minirootfs-3.19.4-x86_64.tar.gz"))
	top := testimage.Layer(t, testimage.Reg("lib/apk/db/installed", "P:only\nV:1-r0\n\nbroken\n\n"))
	img := testimage.Image(t, nil, countingLayer{base, &n}, countingLayer{top, &n})
	c, err := layercache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cold := run(t, img, Options{Cache: c})
	if n.Load() != 2 {
		t.Fatalf("cold run opened %d layers", n.Load())
	}
	warm := run(t, img, Options{Cache: c})
	if n.Load() != 2 {
		t.Fatalf("warm run opened layers again (%d opens)", n.Load())
	}
	if diff := cmp.Diff(cold, warm); diff != "" {
		t.Errorf("warm differs from cold (-cold +warm):\n%s", diff)
	}
	// Another extractor set is another key.
	run(t, img, Options{Cache: c, Extractors: []extract.Extractor{apk.New()}})
	if n.Load() != 4 {
		t.Errorf("a different extractor set reused the cache (%d opens)", n.Load())
	}
	if k := CacheKey("sha256:x", osExtractors()); k == CacheKey("sha256:x", []extract.Extractor{apk.New()}) {
		t.Error("cache key ignores the extractors")
	}
	// A corrupt entry is ignored (the layer is read again), not an error.
	d, _ := base.Digest()
	if err := c.Put(CacheKey(d.String(), osExtractors()), []byte("garbage")); err != nil {
		t.Fatal(err)
	}
	again := run(t, img, Options{Cache: c})
	if n.Load() != 5 || len(again.Packages) != 1 {
		t.Errorf("corrupt cache entry: %d opens, %d packages", n.Load(), len(again.Packages))
	}
}

func TestLargeWantedFileIsSpooled(t *testing.T) {
	big := status("a@1") + strings.Repeat("\n", 3<<20) + status("b@2")
	img := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("var/lib/dpkg/status", big)))
	inv := run(t, img, Options{SpoolThreshold: 1 << 20, TempDir: t.TempDir()})
	if diff := cmp.Diff([]string{"a@1", "b@2"}, names(inv)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParallelOrderIsStable(t *testing.T) {
	var layers []v1.Layer
	for i := 0; i < 8; i++ {
		layers = append(layers, testimage.Layer(t, testimage.Reg("var/lib/dpkg/status", status("p@"+string(rune('0'+i))))))
	}
	img := testimage.Image(t, nil, layers...)
	for _, par := range []int{1, 3, 8} {
		inv := run(t, img, Options{Parallel: par})
		if diff := cmp.Diff([]string{"p@7"}, names(inv)); diff != "" {
			t.Errorf("parallel %d (-want +got):\n%s", par, diff)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Inventory(ctx, alpineImage(t), Options{Extractors: osExtractors()})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func FuzzReadLayer(f *testing.F) {
	seeds := [][]byte{
		tarOf(f, testimage.Reg("lib/apk/db/installed", "P:a\nV:1\n\n"), testimage.Whiteout("etc/x"), testimage.Opaque("var")),
		tarOf(f, testimage.Reg("var/lib/dpkg/status", status("a@1")), testimage.Reg("var/lib/dpkg/info/a.list", "/x\n")),
		tarOf(f, testimage.Symlink("etc/os-release", "/x"), testimage.Reg("../../etc/alpine-release", "3.19\n")),
		{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0},
		{0x28, 0xb5, 0x2f, 0xfd, 0, 0},
	}
	for _, s := range seeds {
		f.Add(s)
	}
	tmp := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		opt := &Options{Extractors: osExtractors(), MaxLayerSize: 1 << 20, MaxFileSize: 256 << 10, SpoolThreshold: 64 << 10, TempDir: tmp}
		r, err := readLayer(context.Background(), strings.NewReader(string(b)), "sha256:fuzz", opt)
		if err == nil {
			merge([]*layerResult{r}, opt)
		}
	})
}

func tarOf(tb testing.TB, files ...testimage.File) []byte {
	b := testimage.TarBytes(tb, files...)
	return b
}

// TestDigestMismatch: a layer whose bytes do not hash to its digest is refused
// (a cached result must belong to the bytes it was made from).
func TestDigestMismatch(t *testing.T) {
	good := testimage.Layer(t, testimage.Reg("lib/apk/db/installed", "P:a\nV:1\n\n"))
	other := testimage.TarGz(t, testimage.Reg("lib/apk/db/installed", "P:b\nV:2\n\n"))
	img := testimage.Image(t, nil, lyingLayer{good, other})
	_, err := Inventory(context.Background(), img, Options{Extractors: osExtractors(), ImageName: "liar"})
	if !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), "liar") {
		t.Fatalf("got %v", err)
	}
}

// lyingLayer claims the digest of one layer and serves another's bytes.
type lyingLayer struct {
	v1.Layer
	blob []byte
}

func (l lyingLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.blob)), nil
}

func TestCompressionFormats(t *testing.T) {
	tarball := testimage.TarBytes(t, testimage.Reg("lib/apk/db/installed", "P:musl\nV:1.2.4_git20230717-r4\n\n"), testimage.Reg("etc/alpine-release", "3.19.4\n"))
	var zbuf bytes.Buffer
	zw, err := zstd.NewWriter(&zbuf)
	if err != nil {
		t.Fatal(err)
	}
	zw.Write(tarball)
	zw.Close()
	for name, blob := range map[string][]byte{
		"gzip":         testimage.Gzip(t, tarball),
		"zstd":         zbuf.Bytes(),
		"uncompressed": tarball,
	} {
		t.Run(name, func(t *testing.T) {
			inv := run(t, testimage.Image(t, nil, testimage.RawLayer(blob)), Options{})
			if diff := cmp.Diff([]string{"musl@1.2.4_git20230717-r4"}, names(inv)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if inv.Distro == nil || inv.Distro.VersionID != "3.19.4" {
				t.Errorf("distro %+v", inv.Distro)
			}
		})
	}
}

// TestUncompressedDockerArchive: `docker save` (Docker 25+) writes layers
// uncompressed; they are read as they are (no recompression) and identified
// by their diff ID.
func TestUncompressedDockerArchive(t *testing.T) {
	layerTar := testimage.TarBytes(t, testimage.Reg("lib/apk/db/installed", "P:musl\nV:1.2.4-r2\n\n"), testimage.Reg("etc/alpine-release", "3.19.4\n"))
	sum := sha256.Sum256(layerTar)
	diffID := "sha256:" + hex.EncodeToString(sum[:])
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["` + diffID + `"]}}`)
	manifest := []byte(`[{"Config":"config.json","RepoTags":["t:1"],"Layers":["layer.tar"]}]`)
	p := filepath.Join(t.TempDir(), "image.tar")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(f)
	for name, b := range map[string][]byte{"manifest.json": manifest, "config.json": cfg, "layer.tar": layerTar} {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b))})
		tw.Write(b)
	}
	tw.Close()
	f.Close()
	img, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := img.Layers()
	src, err := layerSource(ls[0], v1.Hash{Algorithm: "sha256", Hex: diffID[7:]}, true, true)
	if err != nil || src.id.String() != diffID {
		t.Fatalf("source id %v, %v; want the diff ID (read uncompressed)", src.id, err)
	}
	inv := run(t, img, Options{})
	if diff := cmp.Diff([]string{"musl@1.2.4-r2"}, names(inv)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if inv.Packages[0].Layer != diffID {
		t.Errorf("layer %s, want %s", inv.Packages[0].Layer, diffID)
	}
}

// TestUsrMergedApk: in Wolfi/Chainguard images /lib is a symlink to usr/lib and
// the apk database is read at usr/lib/apk/db/installed (no symlink followed).
func TestUsrMergedApk(t *testing.T) {
	img := testimage.Image(t, nil, testimage.Layer(t,
		testimage.Symlink("lib", "usr/lib"),
		testimage.Reg("etc/os-release", "ID=wolfi\nNAME=\"Wolfi\"\nPRETTY_NAME=\"Wolfi\"\nVERSION_ID=\"20230201\"\n"),
		testimage.Reg("usr/lib/apk/db/installed", "P:glibc\nV:2.40-r3\nA:x86_64\n\n"),
	))
	inv := run(t, img, Options{})
	if diff := cmp.Diff([]string{"glibc@2.40-r3"}, names(inv)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if p := inv.Packages[0]; p.PURL != "pkg:apk/wolfi/glibc@2.40-r3?arch=x86_64&distro=wolfi-20230201" {
		t.Errorf("purl %s", p.PURL)
	}
}

// TestOwnerFilesOnly: a warm walk with OwnerFilesOnly keeps of the dpkg
// packages' files only those a language package's location names (in
// another layer too), so MarkOwned marks what it marks with every file; a
// cold one keeps them all.
func TestOwnerFilesOnly(t *testing.T) {
	var n atomic.Int32
	egg := "/usr/lib/python3/dist-packages/PyYAML-6.0.egg-info"
	base := testimage.Layer(t,
		testimage.Reg("var/lib/dpkg/status", "Package: python3-yaml\nStatus: install ok installed\nVersion: 6.0-3+b2\nArchitecture: amd64\n\n"+
			"Package: bash\nStatus: install ok installed\nVersion: 5.2.15-2+b7\nArchitecture: amd64\n\n"),
		testimage.Reg("var/lib/dpkg/info/python3-yaml.list", "/.\n/usr\n"+egg+"\n"+egg+"/PKG-INFO\n/usr/share/doc/python3-yaml\n"),
		testimage.Reg("var/lib/dpkg/info/bash.list", "/.\n/bin\n/bin/bash\n/usr/share/doc/bash\n"))
	top := testimage.Layer(t, testimage.Reg(strings.TrimPrefix(egg, "/")+"/PKG-INFO", "Metadata-Version: 1.1\nName: PyYAML\nVersion: 6.0\n"))
	img := testimage.Image(t, nil, countingLayer{base, &n}, countingLayer{top, &n})
	c, err := layercache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	exts := []extract.Extractor{dpkg.New(), python.New()}
	owners := func(inv *inventory.Inventory) map[string]string {
		inv.MarkOwned()
		m := map[string]string{}
		for _, p := range inv.Packages {
			m[p.Ecosystem+":"+p.Name] = p.OwnedBy
		}
		return m
	}
	files := func(inv *inventory.Inventory) map[string][]string {
		m := map[string][]string{}
		for _, p := range inv.Packages {
			if inventory.IsOS(p.Ecosystem) {
				m[p.Name] = p.Files
			}
		}
		return m
	}
	full := run(t, img, Options{Extractors: exts})
	cold := run(t, img, Options{Extractors: exts, Cache: c, OwnerFilesOnly: true})
	warm := run(t, img, Options{Extractors: exts, Cache: c, OwnerFilesOnly: true})
	if n.Load() != 4 {
		t.Fatalf("%d layer opens, want 4 (the warm walk reads the cache)", n.Load())
	}
	if d := cmp.Diff(files(full), files(cold)); d != "" {
		t.Errorf("cold walk: files differ (-all +cold):\n%s", d)
	}
	want := map[string][]string{"python3-yaml": {egg + "/PKG-INFO"}, "bash": nil} // the location: the file read
	if d := cmp.Diff(want, files(warm)); d != "" {
		t.Errorf("warm walk: files (-want +got):\n%s", d)
	}
	wantOwners := map[string]string{"dpkg:python3-yaml": "", "dpkg:bash": "", "PyPI:PyYAML": "dpkg:python3-yaml"}
	for name, inv := range map[string]*inventory.Inventory{"full": full, "warm": warm} {
		if d := cmp.Diff(wantOwners, owners(inv)); d != "" {
			t.Errorf("%s: owners (-want +got):\n%s", name, d)
		}
	}
	// Without the option the warm walk has every file, copied to the heap
	// or to an arena.
	for _, a := range []*arena.Arena{nil, new(arena.Arena)} {
		if d := cmp.Diff(files(full), files(run(t, img, Options{Extractors: exts, Cache: c, Strings: a}))); d != "" {
			t.Errorf("warm walk without OwnerFilesOnly (arena %v): files differ:\n%s", a != nil, d)
		}
	}
}

// goSyms is an extractor that reports, for each file named bin/*, two Go
// modules with symbols, as lang/gobinary does.
type goSyms struct{}

func (goSyms) Name() string                                   { return "test/gosyms" }
func (goSyms) Version() int                                   { return 1 }
func (goSyms) Required(p string, _ os.FileMode, _ int64) bool { return strings.HasPrefix(p, "bin/") }
func (goSyms) Extract(_ context.Context, in *extract.Input) ([]inventory.Package, error) {
	return []inventory.Package{
		{Name: "stdlib", Version: "1.22.0", Ecosystem: inventory.Go, Locations: []string{"/" + in.Path},
			Symbols: symbols("net/http", "ListenAndServe", "crypto/tls", "Conn.Read"), SymbolsKnown: true},
		{Name: "example.com/m", Version: "v1.0.0", Ecosystem: inventory.Go, Locations: []string{"/" + in.Path},
			Symbols: symbols("example.com/m", "F"), SymbolsKnown: true},
	}, nil
}

// TestKeepSymbolsCold: a cold walk with KeepSymbols (layers read from the
// image) keeps only the symbols it keeps, as a warm one does, while the
// cache is given them all; KeepSymbols is never called by two layers at once,
// and its error fails the walk.
func TestKeepSymbolsCold(t *testing.T) {
	var layers []v1.Layer
	for i := range 4 {
		layers = append(layers, testimage.Layer(t, testimage.Reg(fmt.Sprintf("bin/app%d", i), "x")))
	}
	img := testimage.Image(t, nil, layers...)
	c, err := layercache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var busy atomic.Int32
	keep := func(p *inventory.Package) (bool, error) {
		if busy.Add(1) != 1 {
			t.Error("KeepSymbols called by two goroutines at once")
		}
		defer busy.Add(-1)
		time.Sleep(time.Millisecond)
		return p.Name == "stdlib", nil
	}
	symbolsOf := func(inv *inventory.Inventory) map[string]int {
		m := map[string]int{}
		for _, p := range inv.Packages {
			m[p.Name+" "+p.Locations[0]] = len(p.Symbols.Funcs) + len(p.Symbols.Pkgs)
		}
		return m
	}
	want := map[string]int{}
	for i := range 4 {
		want[fmt.Sprintf("stdlib /bin/app%d", i)] = 4
		want[fmt.Sprintf("example.com/m /bin/app%d", i)] = 0
	}
	exts := []extract.Extractor{goSyms{}}
	cold := run(t, img, Options{Extractors: exts, Cache: c, KeepSymbols: keep, Parallel: 4})
	if d := cmp.Diff(want, symbolsOf(cold)); d != "" {
		t.Errorf("cold walk: symbols (-want +got):\n%s", d)
	}
	warm := run(t, img, Options{Extractors: exts, Cache: c, KeepSymbols: keep, Parallel: 4})
	if d := cmp.Diff(symbolsOf(cold), symbolsOf(warm)); d != "" {
		t.Errorf("warm walk differs from the cold one (-cold +warm):\n%s", d)
	}
	for k := range want {
		want[k] = 4
		if strings.HasPrefix(k, "example.com/m") {
			want[k] = 2
		}
	}
	if d := cmp.Diff(want, symbolsOf(run(t, img, Options{Extractors: exts, Cache: c}))); d != "" {
		t.Errorf("the cache lost symbols (-want +got):\n%s", d)
	}
	boom := errors.New("boom")
	_, err = Inventory(context.Background(), img, Options{Extractors: exts,
		KeepSymbols: func(*inventory.Package) (bool, error) { return false, boom }})
	if !errors.Is(err, boom) {
		t.Errorf("KeepSymbols' error: %v", err)
	}
}
