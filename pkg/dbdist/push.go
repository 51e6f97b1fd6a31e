package dbdist

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"

	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/vulndb"
)

// PushResult says what was published.
type PushResult struct {
	Digest     name.Digest          // the manifest
	Layer      v1.Hash              // the compressed database
	Size       int64                // the compressed layer
	FileSize   int64                // the database file
	Built      time.Time            // the database's build time
	Feeds      map[string]time.Time // each feed's newest record
	Signature  *sign.Result
	Compressed time.Duration // time spent compressing
}

// manifest is an OCI 1.1 image manifest with an artifactType.
type manifest struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType,omitempty"`
	Config        v1.Descriptor     `json:"config"`
	Layers        []v1.Descriptor   `json:"layers"`
	Annotations   map[string]string `json:"annotations,omitempty"`
}

type rawManifest struct{ raw []byte }

func (r rawManifest) RawManifest() ([]byte, error) { return r.raw, nil }
func (r rawManifest) MediaType() (types.MediaType, error) {
	return types.OCIManifestSchema1, nil
}

// Push publishes the database at dbPath to ref (a tag) and signs the
// manifest digest with opt.Key.
func Push(ctx context.Context, dbPath string, ref name.Reference, opt PushOptions) (*PushResult, error) {
	if opt.Key == nil {
		return nil, errors.New("db push: no signing key")
	}
	res, err := publish(ctx, dbPath, ref, opt.Options)
	if err != nil {
		return nil, err
	}
	sres, err := sign.Image(ctx, res.Digest, opt.Key, sign.Options{
		Format:        opt.Format,
		Annotations:   map[string]string{AnnotationVersion: res.Built.Format(time.RFC3339Nano)},
		RemoteOptions: opt.remote(),
		Logger:        opt.logger(),
		Now:           opt.Now,
	})
	if err != nil {
		return nil, fmt.Errorf("db push: signing %s: %w", res.Digest, err)
	}
	res.Signature = sres
	return res, nil
}

// publish pushes the artifact (unsigned).
func publish(ctx context.Context, dbPath string, ref name.Reference, opt Options) (*PushResult, error) {
	f, err := os.Open(dbPath)
	if err != nil {
		return nil, fmt.Errorf("db push: opening %s: %w", dbPath, err)
	}
	defer f.Close()
	// The facts for the annotations, from the same file.
	db, err := vulndb.Open(dbPath)
	if err != nil {
		return nil, fmt.Errorf("db push: %w", err)
	}
	st, err := db.Status()
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("db push: %w", err)
	}
	cfg := Config{Schema: vulndb.SchemaVersion, Built: st.Built.UTC(), Feeds: map[string]time.Time{}}
	for _, is := range st.Imports {
		cfg.Feeds[is.Source] = is.Newest.UTC()
	}

	start := time.Now()
	var buf bytes.Buffer
	zw, err := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	n, err := io.Copy(zw, io.TeeReader(f, h))
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("db push: compressing %s: %w", dbPath, err)
	}
	took := time.Since(start)
	cfg.Size, cfg.Digest = n, "sha256:"+hex.EncodeToString(h.Sum(nil))

	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	feedsJSON, err := json.Marshal(feedDates(cfg.Feeds))
	if err != nil {
		return nil, err
	}
	layer := static.NewLayer(buf.Bytes(), LayerMediaType)
	cfgLayer := static.NewLayer(cfgJSON, ConfigMediaType)
	ld, _ := layer.Digest()
	cd, _ := cfgLayer.Digest()
	m := manifest{
		SchemaVersion: 2,
		MediaType:     string(types.OCIManifestSchema1),
		ArtifactType:  ArtifactType,
		Config:        v1.Descriptor{MediaType: ConfigMediaType, Digest: cd, Size: int64(len(cfgJSON))},
		Layers: []v1.Descriptor{{MediaType: LayerMediaType, Digest: ld, Size: int64(buf.Len()), Annotations: map[string]string{
			AnnotationTitle:  "warden-db.bbolt.zst",
			AnnotationDigest: cfg.Digest,
			AnnotationSize:   strconv.FormatInt(cfg.Size, 10),
		}}},
		Annotations: map[string]string{
			AnnotationCreated: cfg.Built.Format(time.RFC3339),
			AnnotationSchema:  strconv.Itoa(cfg.Schema),
			AnnotationFeeds:   string(feedsJSON),
		},
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}

	ro := append([]remote.Option{remote.WithContext(ctx)}, opt.remote()...)
	pusher, err := remote.NewPusher(ro...)
	if err != nil {
		return nil, err
	}
	ro = append(ro, remote.Reuse(pusher))
	repo := ref.Context()
	for _, l := range []v1.Layer{cfgLayer, layer} {
		if err := remote.WriteLayer(repo, l, ro...); err != nil {
			return nil, fmt.Errorf("db push: uploading to %s: %w", repo, err)
		}
	}
	if err := remote.Put(ref, rawManifest{raw}, ro...); err != nil {
		return nil, fmt.Errorf("db push: writing the manifest %s: %w", ref, err)
	}
	sum := sha256.Sum256(raw)
	dg := repo.Digest("sha256:" + hex.EncodeToString(sum[:]))
	return &PushResult{Digest: dg, Layer: ld, Size: int64(buf.Len()), FileSize: n, Built: cfg.Built, Feeds: cfg.Feeds, Compressed: took}, nil
}

// feedDates renders feed dates as RFC 3339 ("" when unknown); encoding/json sorts the keys.
func feedDates(m map[string]time.Time) map[string]string {
	out := make(map[string]string, len(m))
	for k, t := range m {
		if !t.IsZero() {
			out[k] = t.Format(time.RFC3339)
		} else {
			out[k] = ""
		}
	}
	return out
}
