package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/wardensec/warden/pkg/registry/meta"
	"github.com/wardensec/warden/pkg/registry/storage"
)

// Media types the registry understands.
const (
	mtOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mtOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mtDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	mtDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mtOCIConfig      = "application/vnd.oci.image.config.v1+json"
	mtDockerConfig   = "application/vnd.docker.container.image.v1+json"
)

func isImageManifest(mt string) bool { return mt == mtOCIManifest || mt == mtDockerManifest }
func isIndex(mt string) bool         { return mt == mtOCIIndex || mt == mtDockerList }

// descriptor is the part of an OCI descriptor the registry reads.
type descriptor struct {
	MediaType    string            `json:"mediaType"`
	Digest       string            `json:"digest"`
	Size         int64             `json:"size"`
	URLs         []string          `json:"urls,omitempty"`
	ArtifactType string            `json:"artifactType,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// manifestDoc is the union of image manifest and index fields.
type manifestDoc struct {
	SchemaVersion int               `json:"schemaVersion"`
	MediaType     string            `json:"mediaType"`
	ArtifactType  string            `json:"artifactType"`
	Config        *descriptor       `json:"config"`
	Layers        []descriptor      `json:"layers"`
	Manifests     []descriptor      `json:"manifests"`
	Subject       *descriptor       `json:"subject"`
	Annotations   map[string]string `json:"annotations"`
}

// parseManifest decodes and checks a manifest body; mt is the Content-Type sent.
func parseManifest(body []byte, mt string) (*manifestDoc, string, error) {
	var doc manifestDoc
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, "", fmt.Errorf("manifest is not valid JSON: %w", err)
	}
	if mt == "" || mt == "application/json" || mt == "application/octet-stream" {
		mt = doc.MediaType
	}
	if doc.MediaType != "" && doc.MediaType != mt {
		return nil, "", fmt.Errorf("manifest mediaType %q does not match Content-Type %q", doc.MediaType, mt)
	}
	if mt == "" {
		return nil, "", errors.New("manifest has no media type (neither Content-Type nor mediaType)")
	}
	switch {
	case isImageManifest(mt):
		if doc.SchemaVersion != 2 {
			return nil, "", fmt.Errorf("image manifest schemaVersion is %d, want 2", doc.SchemaVersion)
		}
		if doc.Config == nil {
			return nil, "", errors.New("image manifest has no config")
		}
		if doc.Manifests != nil {
			return nil, "", errors.New("image manifest has a manifests field")
		}
	case isIndex(mt):
		if doc.SchemaVersion != 2 {
			return nil, "", fmt.Errorf("index schemaVersion is %d, want 2", doc.SchemaVersion)
		}
		if doc.Config != nil || doc.Layers != nil {
			return nil, "", errors.New("index has config or layers")
		}
	}
	check := func(what string, d *descriptor) error {
		if d == nil {
			return nil
		}
		if _, err := storage.ParseDigest(d.Digest); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if d.Size < 0 {
			return fmt.Errorf("%s %s: negative size", what, d.Digest)
		}
		return nil
	}
	if err := check("config", doc.Config); err != nil {
		return nil, "", err
	}
	if err := check("subject", doc.Subject); err != nil {
		return nil, "", err
	}
	for i := range doc.Layers {
		if err := check("layer", &doc.Layers[i]); err != nil {
			return nil, "", err
		}
	}
	for i := range doc.Manifests {
		if err := check("manifest", &doc.Manifests[i]); err != nil {
			return nil, "", err
		}
	}
	return &doc, mt, nil
}

// nonDistributable layers may be absent from the registry.
func nonDistributable(d descriptor) bool {
	return strings.Contains(d.MediaType, "nondistributable") ||
		d.MediaType == "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip" || len(d.URLs) > 0
}

func (r *Registry) handleManifest(w http.ResponseWriter, req *http.Request, rt route) {
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		r.getManifest(w, req, rt)
	case http.MethodPut:
		r.putManifest(w, req, rt)
	case http.MethodDelete:
		r.deleteManifest(w, req, rt)
	default:
		writeError(w, http.StatusMethodNotAllowed, codeUnsupported, req.Method+" is not allowed on manifests", nil)
	}
}

// resolve turns a tag or digest into a digest string; ok=false has answered.
func (r *Registry) resolve(w http.ResponseWriter, req *http.Request, rt route) (storage.Digest, bool) {
	if strings.Contains(rt.ref, ":") {
		d, err := storage.ParseDigest(rt.ref)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeDigestInvalid, err.Error(), nil)
			return storage.Digest{}, false
		}
		return d, true
	}
	if !reTag().MatchString(rt.ref) {
		writeError(w, http.StatusBadRequest, codeManifestInvalid, fmt.Sprintf("invalid tag %q", rt.ref), nil)
		return storage.Digest{}, false
	}
	ds, err := r.meta.ResolveTag(req.Context(), rt.name, rt.ref)
	if errors.Is(err, meta.ErrNotFound) {
		writeError(w, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("tag %q is not in repository %s", rt.ref, rt.name), nil)
		return storage.Digest{}, false
	}
	if err != nil {
		r.internalError(w, "resolving tag", err)
		return storage.Digest{}, false
	}
	d, err := storage.ParseDigest(ds)
	if err != nil {
		r.internalError(w, "resolving tag", err)
		return storage.Digest{}, false
	}
	return d, true
}

func (r *Registry) getManifest(w http.ResponseWriter, req *http.Request, rt route) {
	ctx := req.Context()
	if r.upstream != nil && !r.haveManifest(ctx, rt) {
		if err := r.fetchManifest(ctx, rt.name, rt.ref); err != nil && !errors.Is(err, errUpstreamNotFound) {
			r.log.Warn("registry: upstream manifest", "repo", rt.name, "ref", rt.ref, "err", err)
			writeError(w, http.StatusBadGateway, codeManifestUnknown, err.Error(), nil)
			return
		}
	}
	d, ok := r.resolve(w, req, rt)
	if !ok {
		return
	}
	man, err := r.meta.GetManifest(ctx, rt.name, d.String())
	if errors.Is(err, meta.ErrNotFound) {
		writeError(w, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("manifest %s is not in repository %s", rt.ref, rt.name), nil)
		return
	}
	if err != nil {
		r.internalError(w, "looking up manifest", err)
		return
	}
	body, err := r.store.ReadAll(ctx, d, maxManifestSize)
	if errors.Is(err, storage.ErrNotFound) {
		writeError(w, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("manifest %s is not stored", d), nil)
		return
	}
	if err != nil {
		r.internalError(w, "reading manifest", err)
		return
	}
	if !r.checkGate(w, req, rt, d, man, body) {
		return
	}
	h := w.Header()
	h.Set("Content-Type", man.MediaType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Etag", `"`+d.String()+`"`)
	w.WriteHeader(http.StatusOK)
	if req.Method == http.MethodGet {
		_, _ = w.Write(body)
		if !isInternal(req) {
			r.metrics.manifestPulled()
		}
	}
}

// haveManifest reports whether a tag or digest is known locally.
func (r *Registry) haveManifest(ctx context.Context, rt route) bool {
	ds := rt.ref
	if !strings.Contains(rt.ref, ":") {
		var err error
		if ds, err = r.meta.ResolveTag(ctx, rt.name, rt.ref); err != nil {
			return false
		}
	}
	_, err := r.meta.GetManifest(ctx, rt.name, ds)
	return err == nil
}

func (r *Registry) putManifest(w http.ResponseWriter, req *http.Request, rt route) {
	ctx := req.Context()
	body, err := io.ReadAll(io.LimitReader(req.Body, maxManifestSize+1))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeManifestInvalid, "reading manifest: "+err.Error(), nil)
		return
	}
	if len(body) > maxManifestSize {
		writeError(w, http.StatusRequestEntityTooLarge, codeSizeInvalid, fmt.Sprintf("manifest is larger than %d bytes", maxManifestSize), nil)
		return
	}
	ct := req.Header.Get("Content-Type")
	if ct != "" {
		if m, _, err := mime.ParseMediaType(ct); err == nil {
			ct = m
		}
	}
	doc, mt, err := parseManifest(body, ct)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeManifestInvalid, err.Error(), nil)
		return
	}
	// The digest: the one named in the URL (its algorithm), else sha256.
	var d storage.Digest
	var tags []string
	if strings.Contains(rt.ref, ":") {
		want, err := storage.ParseDigest(rt.ref)
		if err != nil {
			writeError(w, http.StatusBadRequest, codeDigestInvalid, err.Error(), nil)
			return
		}
		d = storage.FromBytes(want.Algorithm, body)
		if d != want {
			writeError(w, http.StatusBadRequest, codeDigestInvalid, fmt.Sprintf("manifest digest is %s, not %s", d, want), nil)
			return
		}
		for _, t := range req.URL.Query()["tag"] {
			if !reTag().MatchString(t) {
				writeError(w, http.StatusBadRequest, codeManifestInvalid, fmt.Sprintf("invalid tag %q", t), nil)
				return
			}
			tags = append(tags, t)
		}
	} else {
		if !reTag().MatchString(rt.ref) {
			writeError(w, http.StatusBadRequest, codeManifestInvalid, fmt.Sprintf("invalid tag %q", rt.ref), nil)
			return
		}
		d = storage.FromBytes("sha256", body)
		tags = []string{rt.ref}
	}
	// Referenced content must exist in this repository.
	var refs, required []string
	var lookupErr error // the database failing is a 500, not an unknown blob
	missing := func(ds string) bool {
		required = append(required, ds)
		_, ok, err := r.meta.BlobLinked(ctx, rt.name, ds)
		if err != nil {
			lookupErr = err
			return false
		}
		return !ok
	}
	if doc.Config != nil {
		if isImageManifest(mt) && missing(doc.Config.Digest) {
			writeError(w, http.StatusBadRequest, codeManifestBlobUnknown, "config blob "+doc.Config.Digest+" is not in repository "+rt.name, map[string]string{"digest": doc.Config.Digest})
			return
		}
		refs = append(refs, doc.Config.Digest)
	}
	for _, l := range doc.Layers {
		if isImageManifest(mt) && !nonDistributable(l) && missing(l.Digest) {
			writeError(w, http.StatusBadRequest, codeManifestBlobUnknown, "layer blob "+l.Digest+" is not in repository "+rt.name, map[string]string{"digest": l.Digest})
			return
		}
		refs = append(refs, l.Digest)
	}
	for _, m := range doc.Manifests {
		if isIndex(mt) && missing(m.Digest) {
			writeError(w, http.StatusBadRequest, codeManifestBlobUnknown, "manifest "+m.Digest+" is not in repository "+rt.name, map[string]string{"digest": m.Digest})
			return
		}
		refs = append(refs, m.Digest)
	}
	if lookupErr != nil {
		r.internalError(w, "looking up referenced blobs", lookupErr)
		return
	}
	artifactType := doc.ArtifactType
	if artifactType == "" && isImageManifest(mt) && doc.Config != nil && mt == mtOCIManifest {
		artifactType = doc.Config.MediaType
	}
	var subject string
	if doc.Subject != nil {
		subject = doc.Subject.Digest
	}
	var ann string
	if len(doc.Annotations) > 0 {
		b, _ := json.Marshal(doc.Annotations)
		ann = string(b)
	}
	man := meta.Manifest{Repo: rt.name, Digest: d.String(), MediaType: mt, Size: int64(len(body)),
		ArtifactType: artifactType, Subject: subject, Annotations: ann}
	// The bytes are stored and the references rechecked under the digests'
	// locks, so online GC cannot take a blob from under this manifest.
	var putErr error
	err = r.meta.PutManifestGuarded(ctx, man, refs, tags, required, func() error {
		putErr = r.store.PutBytes(ctx, d, body)
		return putErr
	})
	if putErr != nil {
		r.internalError(w, "storing manifest", putErr)
		return
	}
	if errors.Is(err, meta.ErrMissingRef) {
		writeError(w, http.StatusBadRequest, codeManifestBlobUnknown, err.Error(), nil)
		return
	}
	if err != nil {
		r.internalError(w, "recording manifest", err)
		return
	}
	if r.scanner != nil && scannable(doc, mt) {
		if err := r.meta.Enqueue(ctx, rt.name, d.String()); err != nil {
			r.log.Error("registry: queueing scan", "repo", rt.name, "digest", d, "err", err)
		} else {
			r.kick()
		}
	}
	r.metrics.manifestPushed()
	h := w.Header()
	h.Set("Location", "/v2/"+rt.name+"/manifests/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	if subject != "" {
		h.Set("OCI-Subject", subject)
	}
	if strings.Contains(rt.ref, ":") && len(tags) > 0 {
		h.Set("OCI-Tag", strings.Join(tags, ", "))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

// scannable: a runnable image (image manifest with an image config and tar layers).
func scannable(doc *manifestDoc, mt string) bool {
	if !isImageManifest(mt) || doc.Config == nil {
		return false
	}
	if doc.Config.MediaType != mtOCIConfig && doc.Config.MediaType != mtDockerConfig {
		return false
	}
	for _, l := range doc.Layers {
		if !isLayerMediaType(l.MediaType) {
			return false
		}
	}
	return true
}

func isLayerMediaType(mt string) bool {
	return strings.HasPrefix(mt, "application/vnd.oci.image.layer.") ||
		strings.HasPrefix(mt, "application/vnd.docker.image.rootfs.")
}

func (r *Registry) deleteManifest(w http.ResponseWriter, req *http.Request, rt route) {
	ctx := req.Context()
	var found bool
	var err error
	if strings.Contains(rt.ref, ":") {
		d, perr := storage.ParseDigest(rt.ref)
		if perr != nil {
			writeError(w, http.StatusBadRequest, codeDigestInvalid, perr.Error(), nil)
			return
		}
		found, err = r.meta.DeleteManifest(ctx, rt.name, d.String())
	} else {
		if !reTag().MatchString(rt.ref) {
			writeError(w, http.StatusBadRequest, codeManifestInvalid, fmt.Sprintf("invalid tag %q", rt.ref), nil)
			return
		}
		found, err = r.meta.DeleteTag(ctx, rt.name, rt.ref)
	}
	if err != nil {
		r.internalError(w, "deleting manifest", err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("manifest %s is not in repository %s", rt.ref, rt.name), nil)
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

func (r *Registry) handleTags(w http.ResponseWriter, req *http.Request, rt route) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, codeUnsupported, req.Method+" is not allowed on tags", nil)
		return
	}
	ctx := req.Context()
	q := req.URL.Query()
	n := -1
	if ns := q.Get("n"); ns != "" {
		v, err := strconv.Atoi(ns)
		if err != nil || v < 0 {
			writeError(w, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", fmt.Sprintf("invalid n=%q", ns), nil)
			return
		}
		n = v
	}
	exists, err := r.meta.RepoExists(ctx, rt.name)
	if err != nil {
		r.internalError(w, "listing tags", err)
		return
	}
	if !exists {
		writeError(w, http.StatusNotFound, codeNameUnknown, fmt.Sprintf("repository %s is not known", rt.name), nil)
		return
	}
	last := q.Get("last")
	var tags []string
	more := false
	if n == 0 {
		tags = []string{}
	} else {
		lim := 0
		if n > 0 {
			lim = n + 1
		}
		tags, err = r.meta.Tags(ctx, rt.name, last, lim)
		if err != nil {
			r.internalError(w, "listing tags", err)
			return
		}
		if n > 0 && len(tags) > n {
			tags = tags[:n]
			more = true
		}
	}
	if more {
		w.Header().Set("Link", fmt.Sprintf(`</v2/%s/tags/list?n=%d&last=%s>; rel="next"`, rt.name, n, tags[len(tags)-1]))
	}
	writeJSON(w, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{rt.name, tags}, req.Method == http.MethodHead)
}

func (r *Registry) handleCatalog(w http.ResponseWriter, req *http.Request) {
	q := req.URL.Query()
	n := -1
	if ns := q.Get("n"); ns != "" {
		v, err := strconv.Atoi(ns)
		if err != nil || v < 0 {
			writeError(w, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID", fmt.Sprintf("invalid n=%q", ns), nil)
			return
		}
		n = v
	}
	repos := []string{}
	if n != 0 {
		var err error
		if repos, err = r.listRepos(req, q.Get("last"), n+1); err != nil {
			r.internalError(w, "listing repositories", err)
			return
		}
	}
	if n > 0 && len(repos) > n {
		repos = repos[:n]
		w.Header().Set("Link", fmt.Sprintf(`</v2/_catalog?n=%d&last=%s>; rel="next"`, n, repos[len(repos)-1]))
	}
	writeJSON(w, "application/json", struct {
		Repositories []string `json:"repositories"`
	}{repos}, req.Method == http.MethodHead)
}

// listRepos lists, after last, up to max (<= 0: all) repositories the caller
// may pull: what a caller may not pull is not listed, to anyone.
func (r *Registry) listRepos(req *http.Request, last string, max int) ([]string, error) {
	const batch = 500
	allow := r.pullable(req)
	out := []string{}
	for {
		names, err := r.meta.Repos(req.Context(), last, batch)
		if err != nil {
			return nil, err
		}
		for _, name := range names {
			if allow(name) {
				out = append(out, name)
				if max > 0 && len(out) >= max {
					return out, nil
				}
			}
		}
		if len(names) < batch {
			return out, nil
		}
		last = names[len(names)-1]
	}
}

func (r *Registry) handleReferrers(w http.ResponseWriter, req *http.Request, rt route) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		writeError(w, http.StatusMethodNotAllowed, codeUnsupported, req.Method+" is not allowed on referrers", nil)
		return
	}
	d, err := storage.ParseDigest(rt.ref)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeDigestInvalid, err.Error(), nil)
		return
	}
	refs, err := r.meta.Referrers(req.Context(), rt.name, d.String())
	if err != nil {
		r.internalError(w, "listing referrers", err)
		return
	}
	filter := req.URL.Query().Get("artifactType")
	out := []descriptor{}
	for _, m := range refs {
		if filter != "" && m.ArtifactType != filter {
			continue
		}
		desc := descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size, ArtifactType: m.ArtifactType}
		if m.Annotations != "" {
			_ = json.Unmarshal([]byte(m.Annotations), &desc.Annotations)
		}
		out = append(out, desc)
	}
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	writeJSON(w, mtOCIIndex, struct {
		SchemaVersion int          `json:"schemaVersion"`
		MediaType     string       `json:"mediaType"`
		Manifests     []descriptor `json:"manifests"`
	}{2, mtOCIIndex, out}, req.Method == http.MethodHead)
}

func writeJSON(w http.ResponseWriter, ct string, v any, head bool) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusOK)
	if !head {
		_, _ = w.Write(buf.Bytes())
	}
}
