package source

import (
	"archive/tar"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
)

// alpineImage is the real Alpine 3.19.4 minirootfs plus a layer that adds a
// file and whites out another, so that sources are compared on more than one layer.
func alpineImage(t *testing.T) v1.Image {
	t.Helper()
	base := testimage.LayerFromTarGz(t, filepath.Join(testutil.Corpus(t), "images", "alpine-minirootfs-3.19.4-x86_64.tar.gz"))
	top := testimage.Layer(t,
		testimage.Dir("srv/"),
		testimage.Reg("srv/app.conf", "listen=8080\n"),
		testimage.Whiteout("etc/motd"),
	)
	return testimage.Image(t, nil, base, top)
}

// entry is one tar entry, normalised for comparison across sources.
type entry struct {
	Name, Link string
	Type       byte
	Size       int64
}

func layerEntries(t *testing.T, l v1.Layer) []entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	return tarEntries(t, rc)
}

func tarEntries(t *testing.T, r io.Reader) []entry {
	t.Helper()
	var out []entry
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n := cleanName(h.Name)
		if n == "" {
			continue
		}
		typ := h.Typeflag
		if typ == tar.TypeRegA {
			typ = tar.TypeReg
		}
		e := entry{Name: n, Type: typ, Size: h.Size, Link: h.Linkname}
		if typ == tar.TypeLink {
			e.Link = cleanName(h.Linkname)
		}
		out = append(out, e)
	}
	slices.SortFunc(out, func(a, b entry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func diffIDs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range ls {
		d, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

func allEntries(t *testing.T, img v1.Image) [][]entry {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]entry
	for _, l := range ls {
		out = append(out, layerEntries(t, l))
	}
	return out
}

func randomTag(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func TestSourcesGiveTheSameImage(t *testing.T) {
	ctx := context.Background()
	img := alpineImage(t)
	wantIDs := diffIDs(t, img)
	wantEntries := allEntries(t, img)
	if len(wantEntries) != 2 || len(wantEntries[0]) < 400 {
		t.Fatalf("test image: %d layers, %d entries in the first", len(wantEntries), len(wantEntries[0]))
	}
	tmp := t.TempDir()

	docker := filepath.Join(tmp, "alpine-docker.tar")
	testimage.WriteDockerArchive(t, img, "example.com/warden/alpine:3.19.4", docker)
	layoutDir := filepath.Join(tmp, "layout")
	testimage.WriteOCILayout(t, img, layoutDir, "3.19.4")
	ociArchive := filepath.Join(tmp, "alpine-oci.tar")
	testimage.WriteOCIArchive(t, img, ociArchive, "3.19.4")
	dockerGz := filepath.Join(tmp, "alpine-docker.tar.gz")
	gzipFile(t, docker, dockerGz)
	ociGz := filepath.Join(tmp, "alpine-oci.tar.gz")
	gzipFile(t, ociArchive, ociGz)
	host := testimage.NewRegistry(t)
	regRef := host + "/warden/alpine:3.19.4"
	testimage.PushToRegistry(t, img, regRef)

	cases := []struct {
		name, ref, kind string
	}{
		{"docker-archive", "docker-archive:" + docker, KindDockerArchive},
		{"docker-archive-tag", "docker-archive:" + docker + ":example.com/warden/alpine:3.19.4", KindDockerArchive},
		{"docker-archive-bare", docker, KindDockerArchive},
		{"oci-layout", "oci-layout:" + layoutDir, KindOCILayout},
		{"oci-layout-tag", "oci-layout:" + layoutDir + ":3.19.4", KindOCILayout},
		{"oci-layout-bare", layoutDir, KindOCILayout},
		{"oci-archive", "oci-archive:" + ociArchive, KindOCIArchive},
		{"oci-archive-tag", "oci-archive:" + ociArchive + ":3.19.4", KindOCIArchive},
		{"oci-archive-bare", ociArchive, KindOCIArchive},
		{"docker-archive-gzip", dockerGz, KindDockerArchive},
		{"oci-archive-gzip", "oci-archive:" + ociGz + ":3.19.4", KindOCIArchive},
		{"registry", "registry:" + regRef, KindRegistry},
		{"registry-bare", regRef, KindRegistry},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Open(ctx, c.ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := got.Close(); err != nil {
					t.Error(err)
				}
			}()
			checkSame(t, got, c.kind, c.ref, wantIDs, wantEntries)
			if err := checkImage(got.Image); err != nil {
				t.Errorf("validate.Image: %v", err)
			}
		})
	}

	t.Run("docker", func(t *testing.T) {
		tag := "warden-source-test/alpine:" + randomTag(t)
		testimage.DockerLoad(t, img, tag)
		for _, ref := range []string{"docker:" + tag, tag} {
			got, err := Open(ctx, ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, got, KindDocker, ref, wantIDs, wantEntries)
			if !slices.Contains(got.RepoTags, tag) {
				t.Errorf("RepoTags %q, want %q among them", got.RepoTags, tag)
			}
			if err := checkImage(got.Image); err != nil {
				t.Errorf("validate.Image: %v", err)
			}
			if err := got.Close(); err != nil {
				t.Error(err)
			}
		}
	})

	t.Run("dir", func(t *testing.T) {
		root := filepath.Join(tmp, "rootfs")
		testimage.Unpack(t, img, root)
		flat := tarEntries(t, mutate.Extract(img))
		for _, ref := range []string{"dir:" + root, root} {
			got, err := Open(ctx, ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if got.Kind != KindDir {
				t.Errorf("kind %q, want dir", got.Kind)
			}
			es := allEntries(t, got.Image)
			if len(es) != 1 {
				t.Fatalf("%d layers, want 1", len(es))
			}
			if d := cmp.Diff(flat, es[0]); d != "" {
				t.Errorf("dir layer differs from the flattened image (-want +got):\n%s", d)
			}
			if slices.ContainsFunc(es[0], func(e entry) bool { return e.Name == "etc/motd" }) {
				t.Error("etc/motd, whited out, is in the directory image")
			}
			if err := checkImage(got.Image); err != nil {
				t.Errorf("checkImage: %v", err)
			}
			cf, err := got.ConfigFile()
			if err != nil || cf.OS != "linux" || cf.Architecture != "amd64" || len(cf.RootFS.DiffIDs) != 1 {
				t.Errorf("config %+v, %v", cf, err)
			}
			// The diff ID is the sha256 of the layer the image streams.
			ls, _ := got.Layers()
			rc, _ := ls[0].Uncompressed()
			h, _, _ := v1.SHA256(rc)
			rc.Close()
			if h != cf.RootFS.DiffIDs[0] {
				t.Errorf("diff ID %s, stream hashes to %s", cf.RootFS.DiffIDs[0], h)
			}
			got.Close()
		}
	})
}

func gzipFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, testimage.Gzip(t, b), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestDecompressionBound(t *testing.T) {
	img := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("etc/hostname", "box\n")))
	tmp := t.TempDir()
	p := filepath.Join(tmp, "x.tar")
	testimage.WriteDockerArchive(t, img, "x:1", p)
	gzipFile(t, p, p+".gz")
	_, err := Open(context.Background(), p+".gz", Options{MaxDecompressed: 2048, TempDir: tmp})
	if !errors.Is(err, ErrNotImage) || !strings.Contains(err.Error(), "MaxDecompressed") {
		t.Errorf("over the bound: %v", err)
	}
	got, err := Open(context.Background(), p+".gz", Options{TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	got.Close()
	// The decompressed copy is unlinked at once: nothing is left behind.
	if es, _ := os.ReadDir(tmp); len(es) != 2 {
		t.Errorf("temporary files left in %s: %v", tmp, es)
	}
}

func checkSame(t *testing.T, got *Image, kind, ref string, wantIDs []v1.Hash, wantEntries [][]entry) {
	t.Helper()
	if got.Kind != kind || got.Name != ref {
		t.Errorf("Kind, Name = %q, %q; want %q, %q", got.Kind, got.Name, kind, ref)
	}
	if d := cmp.Diff(wantIDs, diffIDs(t, got.Image)); d != "" {
		t.Errorf("diff IDs (-want +got):\n%s", d)
	}
	if d := cmp.Diff(wantEntries, allEntries(t, got.Image)); d != "" {
		t.Errorf("layer files (-want +got):\n%s", d)
	}
}

func TestTestdataImages(t *testing.T) {
	root := testutil.RepoRoot(t)
	corpus := testutil.Corpus(t)
	for _, c := range []struct{ dir, tag, blob, cmd string }{
		{"alpine-3.19.4", "3.19.4", "alpine-minirootfs-3.19.4-x86_64.tar.gz", "/bin/sh"},
		{"debian-bookworm-pkgdb", "bookworm", "debian-bookworm-minbase-pkgdb.tar.gz", "bash"},
	} {
		dir := filepath.Join(root, "testdata", "images", c.dir)
		for _, ref := range []string{"oci-layout:" + dir, "oci-layout:" + dir + ":" + c.tag, dir} {
			img, err := Open(context.Background(), ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := checkImage(img.Image); err != nil {
				t.Errorf("%s: validate.Image: %v", ref, err)
			}
			if !slices.Equal(img.RepoTags, []string{c.tag}) {
				t.Errorf("%s: RepoTags %q, want [%q]", ref, img.RepoTags, c.tag)
			}
			cf, err := img.ConfigFile()
			if err != nil {
				t.Fatal(err)
			}
			if cf.OS != "linux" || cf.Architecture != "amd64" || !slices.Equal(cf.Config.Cmd, []string{c.cmd}) {
				t.Errorf("%s: config os %q arch %q cmd %q", ref, cf.OS, cf.Architecture, cf.Config.Cmd)
			}
			ls, err := img.Layers()
			if err != nil || len(ls) != 1 {
				t.Fatalf("%s: %d layers, %v", ref, len(ls), err)
			}
			blob, err := os.ReadFile(filepath.Join(corpus, "images", c.blob))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(blob)
			if d, _ := ls[0].Digest(); d.Hex != hex.EncodeToString(sum[:]) {
				t.Errorf("%s: layer %s is not the corpus tarball (sha256:%x)", ref, d, sum)
			}
			img.Close()
		}
	}
}

func platformImage(t *testing.T, os, arch, variant string) v1.Image {
	return testimage.Image(t, testimage.Platform(os, arch, variant),
		testimage.Layer(t, testimage.Reg("etc/arch", arch+variant+"\n")))
}

func TestMultiPlatform(t *testing.T) {
	ctx := context.Background()
	imgs := map[string]v1.Image{
		"linux/amd64":    platformImage(t, "linux", "amd64", ""),
		"linux/arm64/v8": platformImage(t, "linux", "arm64", "v8"),
		"linux/arm/v7":   platformImage(t, "linux", "arm", "v7"),
	}
	idx := testimage.Index(t, imgs["linux/amd64"], imgs["linux/arm64/v8"], imgs["linux/arm/v7"])
	tmp := t.TempDir()
	nested := filepath.Join(tmp, "nested")
	testimage.WriteOCILayoutIndex(t, idx, nested, "multi")
	archive := filepath.Join(tmp, "multi.tar")
	testimage.WriteOCIArchiveIndex(t, idx, archive)
	host := testimage.NewRegistry(t)
	testimage.PushIndexToRegistry(t, idx, host+"/multi:1")

	for _, ref := range []string{"oci-layout:" + nested, "oci-layout:" + nested + ":multi", "oci-archive:" + archive, "registry:" + host + "/multi:1"} {
		for _, c := range []struct{ platform, want string }{
			{"", "linux/amd64"},
			{"linux/amd64", "linux/amd64"},
			{"linux/arm64", "linux/arm64/v8"},
			{"linux/arm64/v8", "linux/arm64/v8"},
			{"linux/arm/v7", "linux/arm/v7"},
		} {
			got, err := Open(ctx, ref, Options{Platform: c.platform})
			if err != nil {
				t.Errorf("%s --platform %q: %v", ref, c.platform, err)
				continue
			}
			wd, _ := imgs[c.want].Digest()
			if d, _ := got.Digest(); d != wd {
				t.Errorf("%s --platform %q: got %s, want the %s image %s", ref, c.platform, d, c.want, wd)
			}
			if got.Index == nil {
				t.Errorf("%s: Index not set", ref)
			}
			if err := checkImage(got.Image); err != nil {
				t.Errorf("%s: validate.Image: %v", ref, err)
			}
			got.Close()
		}
		_, err := Open(ctx, ref, Options{Platform: "linux/s390x"})
		if !errors.Is(err, ErrNoPlatform) {
			t.Fatalf("%s --platform linux/s390x: %v, want ErrNoPlatform", ref, err)
		}
		for _, s := range []string{ref, "linux/s390x", "linux/amd64, linux/arm64/v8, linux/arm/v7"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("error %q does not mention %q", err, s)
			}
		}
	}

	// A single-platform image is checked only against an explicit platform.
	single := filepath.Join(tmp, "single")
	testimage.WriteOCILayout(t, imgs["linux/arm64/v8"], single)
	if img, err := Open(ctx, single, Options{}); err != nil {
		t.Errorf("single arm64 image, default platform: %v", err)
	} else {
		img.Close()
	}
	if _, err := Open(ctx, single, Options{Platform: "linux/amd64"}); !errors.Is(err, ErrNoPlatform) {
		t.Errorf("single arm64 image, --platform linux/amd64: %v, want ErrNoPlatform", err)
	}
	if _, err := Open(ctx, "oci-archive:"+archive, Options{Platform: "linux/arm64/v7"}); !errors.Is(err, ErrNoPlatform) {
		t.Errorf("--platform linux/arm64/v7: %v, want ErrNoPlatform", err)
	}
	armArchive := filepath.Join(tmp, "arm-docker.tar")
	testimage.WriteDockerArchive(t, imgs["linux/arm/v7"], "x:arm", armArchive)
	if _, err := Open(ctx, armArchive, Options{Platform: "linux/amd64"}); !errors.Is(err, ErrNoPlatform) || !strings.Contains(err.Error(), "linux/arm/v7") {
		t.Errorf("docker-archive of linux/arm/v7, --platform linux/amd64: %v, want ErrNoPlatform", err)
	}
	if img, err := Open(ctx, armArchive, Options{Platform: "linux/arm"}); err != nil {
		t.Errorf("docker-archive of linux/arm/v7, --platform linux/arm: %v", err)
	} else {
		img.Close()
	}
	if _, err := Open(ctx, single, Options{Platform: "amd64"}); err == nil || !strings.Contains(err.Error(), "os/arch") {
		t.Errorf("bad platform string: %v", err)
	}
}

func TestSeveralImages(t *testing.T) {
	ctx := context.Background()
	a := platformImage(t, "linux", "amd64", "")
	b := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("b", "b")))
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "two")
	testimage.WriteOCILayout(t, a, dir, "a")
	testimage.WriteOCILayout(t, b, dir, "b")

	_, err := Open(ctx, dir, Options{})
	if !errors.Is(err, ErrAmbiguous) || !strings.Contains(err.Error(), "a, b") {
		t.Errorf("two images, no name: %v", err)
	}
	got, err := Open(ctx, dir+":b", Options{})
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := b.Digest()
	if d, _ := got.Digest(); d != wd {
		t.Errorf(":b gave %s, want %s", d, wd)
	}
	got.Close()
	if _, err := Open(ctx, "oci-layout:"+dir+":c", Options{}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"c"`) {
		t.Errorf(":c: %v", err)
	}
}

func TestBadInput(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	img := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("etc/os-release", "ID=test\n")))
	good := filepath.Join(tmp, "good.tar")
	testimage.WriteDockerArchive(t, img, "example.com/x:1", good)
	goodBytes, _ := os.ReadFile(good)
	goodOCI := filepath.Join(tmp, "good-oci.tar")
	testimage.WriteOCIArchive(t, img, goodOCI)
	ociBytes, _ := os.ReadFile(goodOCI)
	text := write("notes.txt", []byte("this is not an image\n"))
	plainTar := write("plain.tar", testimage.TarBytes(t, testimage.Reg("etc/passwd", "root:x:0:0\n")))
	gz := write("rootfs.tar.gz", testimage.TarGz(t, testimage.Reg("a", "b")))
	truncGz := write("trunc.tar.gz", testimage.Truncate(testimage.Gzip(t, goodBytes), -100))
	truncDocker := write("trunc-docker.tar", testimage.Truncate(goodBytes, len(goodBytes)/2))
	truncDocker2 := write("trunc-docker2.tar", testimage.Truncate(goodBytes, len(goodBytes)/2+100))
	truncOCI := write("trunc-oci.tar", testimage.Truncate(ociBytes, len(ociBytes)-1500))
	empty := write("empty.tar", nil)
	badManifest := write("bad-manifest.tar", testimage.TarBytes(t, testimage.Reg("manifest.json", "{not json")))
	missingLayer := write("missing-layer.tar", testimage.TarBytes(t, testimage.Reg("manifest.json",
		`[{"Config":"c.json","RepoTags":["x:1"],"Layers":["l.tar"]}]`),
		testimage.Reg("c.json", `{"rootfs":{"type":"layers","diff_ids":["sha256:`+strings.Repeat("a", 64)+`"]}}`)))
	badLayoutDir := filepath.Join(tmp, "badlayout")
	os.MkdirAll(badLayoutDir, 0o755)
	os.WriteFile(filepath.Join(badLayoutDir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644)
	os.WriteFile(filepath.Join(badLayoutDir, "index.json"), []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:`+strings.Repeat("a", 64)+`","size":3}]}`), 0o644)
	host := testimage.NewRegistry(t)
	testimage.PushToRegistry(t, img, host+"/x:1")
	missing := filepath.Join(tmp, "no-such-file.tar")

	cases := []struct {
		ref  string
		want error
		text string
	}{
		{"", ErrNotFound, "empty"},
		{missing, ErrNotFound, "no such file"},
		{"docker-archive:" + missing, ErrNotFound, "no such file"},
		{"oci-archive:" + missing, ErrNotFound, "no such file"},
		{"oci-layout:" + missing, ErrNotFound, "no such file"},
		{"dir:" + missing, ErrNotFound, "no such file"},
		{text, ErrNotImage, "not an image"},
		{"docker-archive:" + text, ErrNotImage, "not an image"},
		{plainTar, ErrNotImage, "neither manifest.json"},
		{"oci-archive:" + plainTar, ErrNotImage, "neither manifest.json"},
		{gz, ErrNotImage, "neither manifest.json"},
		{truncGz, ErrNotImage, "decompressing"},
		{empty, ErrNotImage, "not an image"},
		{truncDocker, ErrNotImage, "truncated"},
		{"docker-archive:" + truncDocker2, ErrNotImage, "truncated"},
		{"oci-archive:" + truncOCI, ErrNotImage, ""},
		{"oci-archive:" + good, ErrNotImage, "looks like a docker-archive"},
		{"docker-archive:" + goodOCI, ErrNotImage, "no manifest.json"},
		{badManifest, ErrNotImage, "manifest.json"},
		{missingLayer, ErrNotImage, `"l.tar"`},
		{"oci-layout:" + good, ErrNotImage, "not a directory"},
		{"docker-archive:" + tmp, ErrNotImage, "is a directory"},
		{"oci-layout:" + tmp, ErrNotImage, "oci-layout"},
		{"oci-layout:" + badLayoutDir, ErrNotFound, "blob"},
		{"docker-daemon:alpine", ErrUnknownScheme, "known: docker-archive"},
		{"oci:" + tmp, ErrUnknownScheme, "did you mean oci-layout:?"},
		{"nosuch-scheme:a/b:c", ErrUnknownScheme, `"nosuch-scheme"`},
		{"https://example.com/x", ErrUnknownScheme, ""},
		{"registry:" + host + "/nothing:here", ErrNotFound, "NAME_UNKNOWN"},
		{"registry:" + host + "/x:nothing", ErrNotFound, "MANIFEST_UNKNOWN"},
		{host + "/x:nothing", ErrNotFound, "MANIFEST_UNKNOWN"},
		{"registry:Not A Ref", ErrNotFound, ""},
		{"docker:", ErrNotFound, ""},
	}
	for _, c := range cases {
		img, err := Open(ctx, c.ref, Options{DockerHost: "unix://" + filepath.Join(tmp, "no-docker.sock")})
		if err == nil {
			// Some breakage shows only when the image is read.
			err = readAll(img)
			img.Close()
		}
		if err == nil {
			t.Errorf("Open(%q): no error", c.ref)
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) && !strings.Contains(c.text, "blob") {
			t.Errorf("Open(%q): %v; want %v", c.ref, err, c.want)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", c.ref)) && !strings.Contains(c.text, "blob") {
			t.Errorf("Open(%q): error %q does not name the input", c.ref, err)
		}
		if !strings.Contains(err.Error(), c.text) {
			t.Errorf("Open(%q): error %q does not say %q", c.ref, err, c.text)
		}
	}
}

// readAll reads everything an image holds, as a scanner would.
func readAll(img *Image) error {
	if _, err := img.RawManifest(); err != nil {
		return err
	}
	if _, err := img.ConfigFile(); err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	for _, l := range ls {
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func TestDirNeverLeavesTheRoot(t *testing.T) {
	root := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "etc"), 0o755))
	must(os.WriteFile(filepath.Join(root, "etc", "hostname"), []byte("box\n"), 0o644))
	must(os.Symlink("/etc/passwd", filepath.Join(root, "etc", "passwd")))
	must(os.Symlink("../../../../..", filepath.Join(root, "up")))
	must(os.Symlink("hostname", filepath.Join(root, "etc", "name")))
	must(os.Link(filepath.Join(root, "etc", "hostname"), filepath.Join(root, "etc", "hostname2")))

	img, err := Open(context.Background(), "dir:"+root, Options{Platform: "linux/arm64"})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	got := layerEntries(t, ls[0])
	want := []entry{
		{Name: "etc", Type: tar.TypeDir},
		{Name: "etc/hostname", Type: tar.TypeReg, Size: 4},
		{Name: "etc/hostname2", Type: tar.TypeLink, Link: "etc/hostname"},
		{Name: "etc/name", Type: tar.TypeSymlink, Link: "hostname"},
		{Name: "etc/passwd", Type: tar.TypeSymlink, Link: "/etc/passwd"},
		{Name: "up", Type: tar.TypeSymlink, Link: "../../../../.."},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("dir layer (-want +got):\n%s", d)
	}
	cf, _ := img.ConfigFile()
	if cf.Architecture != "arm64" {
		t.Errorf("config architecture %q, want the asked arm64", cf.Architecture)
	}
}

// TestTarFSLinks: docker save may store one layer under two names, linked.
func TestTarFSLinks(t *testing.T) {
	b := testimage.TarBytes(t,
		testimage.Reg("blobs/sha256/aa", "layer"),
		testimage.Symlink("x/layer.tar", "../blobs/sha256/aa"),
		testimage.Hardlink("y/layer.tar", "blobs/sha256/aa"),
		testimage.Symlink("loop", "loop"),
		testimage.Symlink("out", "../../../etc/passwd"),
	)
	tf, err := indexTar(strings.NewReader(string(b)), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"blobs/sha256/aa", "x/layer.tar", "y/layer.tar"} {
		f, err := tf.Open(n)
		if err != nil {
			t.Fatalf("%s: %v", n, err)
		}
		c, _ := io.ReadAll(f.(io.Reader))
		if string(c) != "layer" {
			t.Errorf("%s: %q", n, c)
		}
	}
	for _, n := range []string{"loop", "out", "missing", "../x"} {
		if _, err := tf.Open(n); err == nil {
			t.Errorf("%s: opened", n)
		}
	}
}

// TestPeerFormats opens what real tools write: `crane pull` (tarball, legacy
// and OCI layout) and `docker save` from the Docker Engine.
func TestPeerFormats(t *testing.T) {
	ctx := context.Background()
	img := alpineImage(t)
	wantIDs := diffIDs(t, img)
	wantEntries := allEntries(t, img)
	tmp := t.TempDir()

	t.Run("crane", func(t *testing.T) {
		crane := testutil.RequireTool(t, "crane")
		host := testimage.NewRegistry(t)
		ref := host + "/peer/alpine:3.19.4"
		testimage.PushToRegistry(t, img, ref)
		for _, c := range []struct{ format, kind string }{
			{"tarball", KindDockerArchive}, {"legacy", KindDockerArchive}, {"oci", KindOCILayout},
		} {
			out := filepath.Join(tmp, "crane-"+c.format)
			if b, err := exec.Command(crane, "pull", "--insecure", "--format", c.format, ref, out).CombinedOutput(); err != nil {
				t.Fatalf("crane pull --format %s: %v\n%s", c.format, err, b)
			}
			got, err := Open(ctx, out, Options{})
			if err != nil {
				t.Fatalf("crane --format %s: %v", c.format, err)
			}
			checkSame(t, got, c.kind, out, wantIDs, wantEntries)
			if err := checkImage(got.Image); err != nil {
				t.Errorf("crane --format %s: validate.Image: %v", c.format, err)
			}
			got.Close()
		}
	})

	t.Run("docker-save", func(t *testing.T) {
		tag := "warden-source-test/save:" + randomTag(t)
		testimage.DockerLoad(t, img, tag)
		out := filepath.Join(tmp, "saved.tar")
		if b, err := exec.Command("docker", "save", "-o", out, tag).CombinedOutput(); err != nil {
			t.Fatalf("docker save: %v\n%s", err, b)
		}
		for _, ref := range []string{out, "docker-archive:" + out, "docker-archive:" + out + ":" + tag} {
			got, err := Open(ctx, ref, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkSame(t, got, KindDockerArchive, ref, wantIDs, wantEntries)
			if !slices.Contains(got.RepoTags, tag) {
				t.Errorf("RepoTags %q, want %q among them", got.RepoTags, tag)
			}
			if err := checkImage(got.Image); err != nil {
				t.Errorf("validate.Image: %v", err)
			}
			got.Close()
		}
	})
}

// checkImage runs go-containerregistry's validate.Image. That validator reads
// every layer blob as gzip, so for an image with uncompressed layer blobs
// (docker save, dir) it runs in Fast mode (manifest and config consistency)
// and the layer checks are done here: each blob hashes to its digest and size,
// each uncompressed stream to its diff ID.
func checkImage(img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	gzipOnly := true
	for _, l := range m.Layers {
		gzipOnly = gzipOnly && (l.MediaType == types.OCILayer || l.MediaType == types.DockerLayer)
	}
	if gzipOnly {
		return validate.Image(img)
	}
	if err := validate.Image(img, validate.Fast); err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	for i, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		h, n, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if h != m.Layers[i].Digest || n != m.Layers[i].Size {
			return fmt.Errorf("layer %d: blob is %s (%d bytes), manifest says %s (%d)", i, h, n, m.Layers[i].Digest, m.Layers[i].Size)
		}
		rc, err = l.Uncompressed()
		if err != nil {
			return err
		}
		h, _, err = v1.SHA256(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if d, _ := l.DiffID(); h != d || h != cf.RootFS.DiffIDs[i] {
			return fmt.Errorf("layer %d: uncompressed %s, DiffID() %s, config %s", i, h, d, cf.RootFS.DiffIDs[i])
		}
	}
	return nil
}

// TestRegistryCredentials: credentials come from the Docker config
// (~/.docker/config.json), as `docker login` writes them.
func TestRegistryCredentials(t *testing.T) {
	img := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("a", "b")))
	open := testimage.NewRegistry(t)
	testimage.PushToRegistry(t, img, open+"/private/app:1")
	// A registry that wants basic auth and proxies to the open one.
	const user, pass = "warden", "s3cret"
	target, _ := url.Parse("http://" + open)
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="warden-test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := "registry:" + host + "/private/app:1"

	// The credentials live in a config directory of the test's own, given
	// explicitly; the machine's HOME and DOCKER_CONFIG are never read.
	cfgDir := t.TempDir()
	if _, err := Open(context.Background(), ref, Options{DockerConfig: cfgDir}); !errors.Is(err, ErrUnauthorized) || !strings.Contains(err.Error(), "401") {
		t.Errorf("no credentials: %v, want ErrUnauthorized (401)", err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, host, auth)
	if err := os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Open(context.Background(), ref, Options{DockerConfig: cfgDir})
	if err != nil {
		t.Fatalf("with credentials in the Docker config: %v", err)
	}
	defer got.Close()
	if err := checkImage(got.Image); err != nil {
		t.Error(err)
	}
	// The same directory through $DOCKER_CONFIG, set after other tests have
	// resolved credentials in this process: read when the registry is contacted.
	t.Setenv("DOCKER_CONFIG", cfgDir)
	viaEnv, err := Open(context.Background(), ref, Options{})
	if err != nil {
		t.Fatalf("with credentials in $DOCKER_CONFIG: %v", err)
	}
	viaEnv.Close()
}

// TestTamperedContent: a layer whose bytes do not match the digest or diff ID
// it is listed with fails when read.
func TestTamperedContent(t *testing.T) {
	// OCI layout: the layer blob swapped for another one.
	dir, d := testimage.TamperedLayout(t)
	got, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := readAll(got); !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), d) {
		t.Errorf("tampered layout blob: %v, want ErrDigestMismatch naming %s", err, d)
	}
	got.Close()

	// docker-archive with an uncompressed layer whose content is not its diff ID.
	got, err = Open(context.Background(), testimage.TamperedDockerArchive(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := readAll(got); !errors.Is(err, ErrDigestMismatch) || !strings.Contains(err.Error(), "abc/layer.tar") {
		t.Errorf("tampered docker-archive layer: %v, want ErrDigestMismatch naming abc/layer.tar", err)
	}
	got.Close()
}

// TestLayoutIndexAtTop: an OCI layout whose index.json is itself the
// multi-platform index (entries with platforms, no names).
func TestLayoutIndexAtTop(t *testing.T) {
	amd := platformImage(t, "linux", "amd64", "")
	arm := platformImage(t, "linux", "arm64", "v8")
	dir := t.TempDir()
	if _, err := layout.Write(dir, testimage.Index(t, amd, arm)); err != nil {
		t.Fatal(err)
	}
	for plat, want := range map[string]v1.Image{"": amd, "linux/arm64": arm} {
		got, err := Open(context.Background(), dir, Options{Platform: plat})
		if err != nil {
			t.Fatalf("--platform %q: %v", plat, err)
		}
		wd, _ := want.Digest()
		if d, _ := got.Digest(); d != wd {
			t.Errorf("--platform %q: %s, want %s", plat, d, wd)
		}
		got.Close()
	}
}

// TestDockerArchiveSeveralImages: `docker save a b` holds two images.
func TestDockerArchiveSeveralImages(t *testing.T) {
	a := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("a", "a")))
	b := testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("b", "b")))
	ta, _ := name.NewTag("example.com/a:1")
	tb, _ := name.NewTag("b:2")
	p := filepath.Join(t.TempDir(), "two.tar")
	if err := tarball.MultiWriteToFile(p, map[name.Tag]v1.Image{ta: a, tb: b}); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), p, Options{}); !errors.Is(err, ErrAmbiguous) {
		t.Errorf("no name: %v, want ErrAmbiguous", err)
	}
	for ref, want := range map[string]v1.Image{p + ":example.com/a:1": a, p + ":b:2": b, "docker-archive:" + p + ":index.docker.io/library/b:2": b} {
		got, err := Open(context.Background(), ref, Options{})
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		wid, _ := want.ConfigName()
		if id, _ := got.ConfigName(); id != wid {
			t.Errorf("%s: config %s, want %s", ref, id, wid)
		}
		got.Close()
	}
	if _, err := Open(context.Background(), p+":c:3", Options{}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "example.com/a:1") {
		t.Errorf("unknown name: %v", err)
	}
}

// TestConcurrentReads: the walk reads layers in parallel; every source must
// allow it (run with -race).
func TestConcurrentReads(t *testing.T) {
	var layers []v1.Layer
	for i := range 4 {
		layers = append(layers, testimage.Layer(t, testimage.Reg(fmt.Sprintf("f%d", i), strings.Repeat("x", 100000*i))))
	}
	img := testimage.Image(t, nil, layers...)
	tmp := t.TempDir()
	testimage.WriteDockerArchive(t, img, "x:1", filepath.Join(tmp, "d.tar"))
	testimage.WriteOCIArchive(t, img, filepath.Join(tmp, "o.tar"))
	testimage.WriteOCILayout(t, img, filepath.Join(tmp, "l"))
	root := filepath.Join(tmp, "root")
	testimage.Unpack(t, img, root)
	for _, ref := range []string{"d.tar", "o.tar", "l", "root"} {
		got, err := Open(context.Background(), filepath.Join(tmp, ref), Options{})
		if err != nil {
			t.Fatal(err)
		}
		ls, err := got.Layers()
		if err != nil {
			t.Fatal(err)
		}
		errs := make(chan error, 2*len(ls))
		for range 2 {
			for _, l := range ls {
				go func() {
					rc, err := l.Uncompressed()
					if err == nil {
						_, err = io.Copy(io.Discard, rc)
						rc.Close()
					}
					if err == nil {
						_, err = l.Digest()
					}
					errs <- err
				}()
			}
		}
		for range 2 * len(ls) {
			if err := <-errs; err != nil {
				t.Errorf("%s: %v", ref, err)
			}
		}
		got.Close()
	}
}

// TestAllSources: testimage.AllSources (what other packages use to check that
// every source gives the same result) writes the image where each kind opens it.
func TestAllSources(t *testing.T) {
	img := alpineImage(t)
	flat := tarEntries(t, mutate.Extract(img))
	srcs := testimage.AllSources(t, img)
	if len(srcs) < 5 {
		t.Fatalf("%d sources", len(srcs))
	}
	for _, s := range srcs {
		got, err := Open(context.Background(), s.Ref, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got.Kind != s.Kind {
			t.Errorf("%s: kind %q, want %q", s.Ref, got.Kind, s.Kind)
		}
		if d := cmp.Diff(flat, tarEntries(t, mutate.Extract(got.Image))); d != "" {
			t.Errorf("%s: flattened file system differs (-want +got):\n%s", s.Ref, d)
		}
		got.Close()
	}
}
