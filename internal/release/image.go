// Package release builds Warden's own container image from the static release
// binary, with no base image: one layer with the CA certificates and the
// files of a non-root user, one with the binary. Every file's time is the
// commit's, so the image is byte-identical for one commit and binary.
package release

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The image's non-root user, as in distroless's "nonroot".
const (
	UID        = 65532
	User       = "nonroot"
	Home       = "/home/nonroot"
	BinaryPath = "/usr/local/bin/warden"
	CacheDir   = "/var/cache/warden"
	CACertPath = "/etc/ssl/certs/ca-certificates.crt"
)

// ImageOptions says what goes into the image.
type ImageOptions struct {
	Binary   string    // the static linux binary
	CACerts  string    // a PEM bundle of CA certificates
	Arch     string    // GOARCH of the binary (default amd64)
	Version  string    // org.opencontainers.image.version
	Revision string    // the commit
	Created  time.Time // the commit's date: every file's and the config's time
	Source   string    // org.opencontainers.image.source (optional)
}

// file is one entry of a layer.
type file struct {
	name string
	mode int64
	uid  int
	dir  bool
	data []byte
}

// Image builds the image.
func Image(opt ImageOptions) (v1.Image, error) {
	if opt.Created.IsZero() {
		return nil, fmt.Errorf("image: the creation time (the commit's date) is required")
	}
	if opt.Arch == "" {
		opt.Arch = "amd64"
	}
	bin, err := os.ReadFile(opt.Binary)
	if err != nil {
		return nil, fmt.Errorf("image: reading the binary: %w", err)
	}
	ca, err := os.ReadFile(opt.CACerts)
	if err != nil {
		return nil, fmt.Errorf("image: reading the CA certificates: %w", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("image: %s holds no PEM certificate", opt.CACerts)
	}
	base := []file{
		{name: "etc/passwd", mode: 0o644, data: []byte(fmt.Sprintf(
			"root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", User, UID, UID, User, Home))},
		{name: "etc/group", mode: 0o644, data: []byte(fmt.Sprintf("root:x:0:\n%s:x:%d:\n", User, UID))},
		{name: "etc/nsswitch.conf", mode: 0o644, data: []byte("hosts: files dns\n")},
		{name: CACertPath[1:], mode: 0o644, data: ca},
		{name: "tmp", mode: 0o1777, dir: true},
		{name: Home[1:], mode: 0o755, uid: UID, dir: true},
		{name: CacheDir[1:], mode: 0o755, uid: UID, dir: true},
	}
	binLayer := []file{{name: BinaryPath[1:], mode: 0o755, data: bin}}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for i, files := range [][]file{base, binLayer} {
		data, err := layerTar(files, opt.Created)
		if err != nil {
			return nil, err
		}
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			return nil, fmt.Errorf("image: layer %d: %w", i, err)
		}
		by := []string{"warden release: CA certificates, /etc/passwd with user " + User,
			"warden release: " + BinaryPath}[i]
		img, err = mutate.Append(img, mutate.Addendum{Layer: l, History: v1.History{
			Created: v1.Time{Time: opt.Created}, CreatedBy: by, Comment: "scripts/release.sh"}})
		if err != nil {
			return nil, fmt.Errorf("image: layer %d: %w", i, err)
		}
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", opt.Arch
	cf.Created = v1.Time{Time: opt.Created}
	labels := map[string]string{
		"org.opencontainers.image.title":    "warden",
		"org.opencontainers.image.version":  opt.Version,
		"org.opencontainers.image.revision": opt.Revision,
		"org.opencontainers.image.created":  opt.Created.UTC().Format(time.RFC3339),
	}
	if opt.Source != "" {
		labels["org.opencontainers.image.source"] = opt.Source
	}
	cf.Config = v1.Config{
		User: fmt.Sprintf("%d:%d", UID, UID),
		Env: []string{
			"PATH=/usr/local/bin",
			"HOME=" + Home,
			"SSL_CERT_FILE=" + CACertPath,
			"WARDEN_CACHE_DIR=" + CacheDir,
			// Large files are spooled (and unlinked at once) in the state
			// directory: with --read-only it is the one writable mount.
			"TMPDIR=" + CacheDir,
		},
		Entrypoint: []string{BinaryPath},
		Cmd:        []string{"--help"},
		WorkingDir: Home,
		Labels:     labels,
		Volumes:    map[string]struct{}{CacheDir: {}},
		// The binary runs: it loads, and finds its inflater.
		Healthcheck: &v1.HealthConfig{Test: []string{"CMD", BinaryPath, "version"},
			Interval: 5 * time.Minute, Timeout: 10 * time.Second, Retries: 1},
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, fmt.Errorf("image: config: %w", err)
	}
	return img, nil
}

// layerTar writes files as a tar archive with their parent directories,
// sorted, every time set to t and no user or group names.
func layerTar(files []file, t time.Time) ([]byte, error) {
	all := map[string]file{}
	for _, f := range files {
		all[f.name] = f
		for d := path.Dir(f.name); d != "."; d = path.Dir(d) {
			if _, ok := all[d]; !ok {
				all[d] = file{name: d, mode: 0o755, dir: true}
			}
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range names {
		f := all[n]
		h := &tar.Header{Name: n, Mode: f.mode, Uid: f.uid, Gid: f.uid, ModTime: t}
		if f.dir {
			h.Typeflag, h.Name = tar.TypeDir, n+"/"
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("image: %s: %w", n, err)
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, fmt.Errorf("image: %s: %w", n, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteDockerArchive writes img as a `docker load` archive tagged ref.
func WriteDockerArchive(file string, img v1.Image, ref string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("docker archive: tag %q: %w", ref, err)
	}
	if err := tarball.WriteToFile(file, tag, img); err != nil {
		return fmt.Errorf("docker archive %s: %w", file, err)
	}
	return nil
}
