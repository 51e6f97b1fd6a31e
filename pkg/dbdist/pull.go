package dbdist

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/klauspost/compress/zstd"

	"github.com/wardensec/warden/pkg/verify"
	"github.com/wardensec/warden/pkg/vulndb"
)

// PullLockTimeout bounds the wait for another process pulling the same database.
var PullLockTimeout = 10 * time.Minute

// PullResult says what a pull did.
type PullResult struct {
	Digest     name.Digest
	Unchanged  bool      // the installed database is the one ref names: nothing fetched
	Built      time.Time // the database's build time
	Size       int64     // the compressed layer
	Downloaded int64     // bytes fetched in this run
	Resumed    int64     // bytes kept from an interrupted download
	Signers    []verify.Signer
}

// Pull installs the database ref names at dbPath. When the installed
// database is the one ref names, it returns after one manifest HEAD.
// Otherwise it verifies the signature of the manifest digest, fetches the
// manifest by digest, downloads the layer (resuming a partial download with a
// Range request), checks the layer's digest and the file's, and replaces the
// database with vulndb.Install. On any error the database at dbPath is left
// as it was.
func Pull(ctx context.Context, dbPath string, ref name.Reference, opt PullOptions) (*PullResult, error) {
	if !opt.SkipVerify && len(opt.Keys) == 0 {
		return nil, errors.New("db pull: no public key to verify the database with")
	}
	ro := append([]remote.Option{remote.WithContext(ctx)}, opt.remote()...)
	puller, err := remote.NewPuller(ro...)
	if err != nil {
		return nil, err
	}
	ro = append(ro, remote.Reuse(puller))
	repo := ref.Context()

	old, hasState := ReadState(dbPath)
	hasState = hasState && old.Repository == repo.Name() && old.current(dbPath)
	if hasState {
		// The common case: nothing new. One anonymous HEAD answers it
		// (a registry that wants credentials answers 401: the full path follows).
		if d, ok := headDigest(ctx, ref, opt.transport()); ok && d == old.Digest {
			old.Checked = opt.now().UTC()
			if err := writeState(dbPath, old); err != nil {
				opt.logger().Warn("could not record the check", "err", err)
			}
			return &PullResult{Digest: repo.Digest(d), Unchanged: true, Built: old.Built}, nil
		}
	}

	desc, err := remote.Head(ref, ro...)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("db pull: %s: no such database in the registry: %w", ref, err)
		}
		// Some registries do not answer HEAD.
		d, gerr := remote.Get(ref, ro...)
		if gerr != nil {
			return nil, fmt.Errorf("db pull: %s: %w", ref, err)
		}
		desc = &d.Descriptor
	}
	dg := repo.Digest(desc.Digest.String())
	if d, ok := ref.(name.Digest); ok && d.DigestStr() != dg.DigestStr() {
		return nil, fmt.Errorf("db pull: %s: registry answered digest %s: %w", ref, dg.DigestStr(), ErrDigest)
	}
	res := &PullResult{Digest: dg}
	if hasState && old.Digest == dg.DigestStr() {
		res.Unchanged, res.Built = true, old.Built
		old.Checked = opt.now().UTC()
		if err := writeState(dbPath, old); err != nil {
			opt.logger().Warn("could not record the check", "err", err)
		}
		return res, nil
	}

	// One pull at a time per database (scans started together all want it):
	// the others wait, then find it installed.
	if err := os.MkdirAll(filepath.Dir(dbPath), 0o755); err != nil {
		return nil, fmt.Errorf("db pull: %w", err)
	}
	unlock, err := vulndb.LockFile(ctx, dbPath+".pull.lock", PullLockTimeout)
	if err != nil {
		return nil, fmt.Errorf("db pull: %w", err)
	}
	defer unlock()
	if st, ok := ReadState(dbPath); ok && st.Repository == repo.Name() && st.Digest == dg.DigestStr() && st.current(dbPath) {
		res.Unchanged, res.Built = true, st.Built
		return res, nil
	}

	if !opt.SkipVerify {
		vr, err := verify.Image(ctx, dg, verify.Options{Keys: opt.Keys, RemoteOptions: opt.remote(), Logger: opt.logger()})
		if err != nil {
			if errors.Is(err, verify.ErrUnsigned) {
				return nil, fmt.Errorf("db pull: the database %s is not signed: %w", dg, err)
			}
			if errors.Is(err, verify.ErrNotVerified) {
				why := ""
				if vr != nil && len(vr.Invalid) > 0 {
					why = " (" + vr.Invalid[0].Reason + ")"
				}
				return nil, fmt.Errorf("db pull: the signature of the database %s does not verify with %s%s: %w", dg, keyNames(opt.Keys), why, err)
			}
			return nil, fmt.Errorf("db pull: verifying %s: %w", dg, err)
		}
		res.Signers = vr.Signers
	}

	raw, err := remote.Get(dg, ro...) // by digest: ggcr checks the bytes against it
	if err != nil {
		return nil, fmt.Errorf("db pull: fetching the manifest %s: %w", dg, err)
	}
	layer, size, fileDigest, err := parseManifest(raw.Manifest)
	if err != nil {
		return nil, fmt.Errorf("db pull: %s: %w", dg, err)
	}
	res.Size = layer.Size

	part, err := download(ctx, dbPath, repo, layer, opt, res)
	if err != nil {
		return nil, err
	}
	pf, err := os.Open(part)
	if err != nil {
		return nil, fmt.Errorf("db pull: %w", err)
	}
	defer pf.Close()
	zr, err := zstd.NewReader(pf, zstd.WithDecoderMaxMemory(MaxSize), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, fmt.Errorf("db pull: %s: %w", layer.Digest, err)
	}
	defer zr.Close()
	h := sha256.New()
	cr := &countingReader{r: io.LimitReader(zr, size+1)}
	built, err := vulndb.Install(ctx, dbPath, io.TeeReader(cr, h), vulndb.InstallOptions{
		Logger: opt.logger(),
		Check: func() error {
			if cr.n != size {
				return fmt.Errorf("the database file in layer %s has %d bytes, the signed manifest says %d: %w", layer.Digest, cr.n, size, ErrDigest)
			}
			if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != fileDigest {
				return fmt.Errorf("the database file in layer %s has digest %s, the signed manifest says %s: %w", layer.Digest, got, fileDigest, ErrDigest)
			}
			return nil
		},
	})
	if err != nil {
		if errors.Is(err, ErrDigest) {
			os.Remove(part)
		}
		return nil, fmt.Errorf("db pull: installing %s (the previous database is unchanged): %w", dg, err)
	}
	pf.Close()
	os.Remove(part)
	res.Built = built
	now := opt.now().UTC()
	st := State{Repository: repo.Name(), Digest: dg.DigestStr(), LayerDigest: layer.Digest.String(), FileDigest: fileDigest,
		Built: built, Pulled: now, Checked: now}
	if fi, err := os.Stat(dbPath); err == nil {
		st.Size, st.ModTime = fi.Size(), fi.ModTime()
	}
	if err := writeState(dbPath, st); err != nil {
		return res, fmt.Errorf("db pull: the database was installed, but: %w", err)
	}
	return res, nil
}

func keyNames(keys []verify.Key) string {
	var names []string
	for _, k := range keys {
		names = append(names, k.Name)
	}
	return strings.Join(names, ", ")
}

// parseManifest checks the artifact's manifest and returns its layer, the
// database file's size and digest.
func parseManifest(raw []byte) (v1.Descriptor, int64, string, error) {
	var m manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return v1.Descriptor{}, 0, "", fmt.Errorf("reading the manifest: %w", err)
	}
	if m.Config.MediaType != ConfigMediaType || len(m.Layers) != 1 || m.Layers[0].MediaType != LayerMediaType {
		return v1.Descriptor{}, 0, "", fmt.Errorf("config %q with %d layer(s): %w", m.Config.MediaType, len(m.Layers), ErrArtifact)
	}
	if s := m.Annotations[AnnotationSchema]; s != strconv.Itoa(vulndb.SchemaVersion) {
		return v1.Descriptor{}, 0, "", fmt.Errorf("database schema %q, this warden reads %d (upgrade warden, or pull a tag built for it)", s, vulndb.SchemaVersion)
	}
	l := m.Layers[0]
	size, err := strconv.ParseInt(l.Annotations[AnnotationSize], 10, 64)
	if err != nil || size <= 0 || size > MaxSize {
		return v1.Descriptor{}, 0, "", fmt.Errorf("layer %s: bad %s annotation %q (at most %d bytes): %w", l.Digest, AnnotationSize, l.Annotations[AnnotationSize], MaxSize, ErrArtifact)
	}
	fd := l.Annotations[AnnotationDigest]
	if !strings.HasPrefix(fd, "sha256:") || len(fd) != 7+64 {
		return v1.Descriptor{}, 0, "", fmt.Errorf("layer %s: bad %s annotation %q: %w", l.Digest, AnnotationDigest, fd, ErrArtifact)
	}
	if l.Size <= 0 || l.Size > MaxSize || l.Digest.Algorithm != "sha256" {
		return v1.Descriptor{}, 0, "", fmt.Errorf("layer %s of %d bytes: %w", l.Digest, l.Size, ErrArtifact)
	}
	return l, size, fd, nil
}

// partPath is where the compressed layer is downloaded to (kept between runs for resuming).
func partPath(dbPath string, d v1.Hash) string {
	return dbPath + ".download-" + d.Hex[:16]
}

// download fetches the layer into its partial file, resuming what an earlier
// run left, and checks its digest. It returns the file's path.
func download(ctx context.Context, dbPath string, repo name.Repository, l v1.Descriptor, opt PullOptions, res *PullResult) (string, error) {
	part := partPath(dbPath, l.Digest)
	// Partial downloads of other layers are of no more use.
	if old, _ := filepath.Glob(dbPath + ".download-*"); len(old) > 0 {
		for _, f := range old {
			if f != part {
				os.Remove(f)
			}
		}
	}
	f, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", fmt.Errorf("db pull: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	have, err := io.Copy(h, f) // what an earlier run downloaded
	if err != nil {
		return "", fmt.Errorf("db pull: reading %s: %w", part, err)
	}
	if have > l.Size { // not ours: start over
		if err := f.Truncate(0); err != nil {
			return "", fmt.Errorf("db pull: %w", err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return "", fmt.Errorf("db pull: %w", err)
		}
		h.Reset()
		have = 0
	}
	if have < l.Size {
		if have, err = fetchBlob(ctx, repo, l, f, h, have, opt, res); err != nil {
			return "", err
		}
	}
	res.Resumed = have - res.Downloaded
	if have != l.Size {
		return "", fmt.Errorf("db pull: layer %s: got %d bytes, want %d", l.Digest, have, l.Size)
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != l.Digest.String() {
		f.Close()
		os.Remove(part)
		return "", fmt.Errorf("db pull: layer %s of %s: the downloaded content has digest %s: %w", l.Digest, repo, got, ErrDigest)
	}
	return part, nil
}

// fetchBlob GETs the layer from offset have (a Range request when have > 0)
// and appends it to f; h already holds f's first have bytes. It returns the
// bytes f holds.
func fetchBlob(ctx context.Context, repo name.Repository, l v1.Descriptor, f *os.File, h hash.Hash, have int64, opt PullOptions, res *PullResult) (int64, error) {
	auth, err := authn.Resolve(ctx, opt.keychain(), repo.Registry)
	if err != nil {
		return have, fmt.Errorf("db pull: credentials for %s: %w", repo.Registry, err)
	}
	tr, err := transport.NewWithContext(ctx, repo.Registry, auth, opt.transport(), []string{repo.Scope(transport.PullScope)})
	if err != nil {
		return have, fmt.Errorf("db pull: %s: %w", repo.Registry, err)
	}
	u := fmt.Sprintf("%s://%s/v2/%s/blobs/%s", repo.Registry.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), l.Digest)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return have, err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", have, l.Size-1))
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return have, fmt.Errorf("db pull: fetching layer %s: %w", l.Digest, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0 && strings.HasPrefix(resp.Header.Get("Content-Range"), fmt.Sprintf("bytes %d-", have)):
		opt.logger().Debug("resuming the download", "layer", l.Digest.String(), "from", have)
	case resp.StatusCode == http.StatusOK:
		// No ranges (or nothing to resume): start over.
		if err := f.Truncate(0); err != nil {
			return have, err
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return have, err
		}
		h.Reset()
		have = 0
	default:
		if err := transport.CheckError(resp, http.StatusOK); err != nil {
			return have, fmt.Errorf("db pull: fetching layer %s: %w", l.Digest, err)
		}
		return have, fmt.Errorf("db pull: fetching layer %s: unexpected %s", l.Digest, resp.Status)
	}
	n, err := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, l.Size-have+1))
	have += n
	res.Downloaded += n
	if err != nil {
		return have, fmt.Errorf("db pull: fetching layer %s (%d of %d bytes kept for the next try): %w", l.Digest, have, l.Size, err)
	}
	if err := f.Sync(); err != nil {
		return have, err
	}
	return have, nil
}

// manifestAccept is what a manifest HEAD accepts.
var manifestAccept = strings.Join([]string{
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
}, ", ")

// headDigest asks for ref's manifest digest with one HEAD request and no
// credentials; ok is false when the registry does not answer that way.
func headDigest(ctx context.Context, ref name.Reference, tr http.RoundTripper) (string, bool) {
	repo := ref.Context()
	u := fmt.Sprintf("%s://%s/v2/%s/manifests/%s", repo.Registry.Scheme(), repo.RegistryStr(), repo.RepositoryStr(), ref.Identifier())
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
	if err != nil {
		return "", false
	}
	req.Header.Set("Accept", manifestAccept)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", false
	}
	resp.Body.Close()
	d := resp.Header.Get("Docker-Content-Digest")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(d, "sha256:") {
		return "", false
	}
	return d, true
}
