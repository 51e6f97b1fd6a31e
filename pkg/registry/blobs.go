package registry

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardensec/warden/pkg/registry/meta"
	"github.com/wardensec/warden/pkg/registry/storage"
)

func (r *Registry) handleBlob(w http.ResponseWriter, req *http.Request, rt route) {
	d, err := storage.ParseDigest(rt.ref)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeDigestInvalid, err.Error(), nil)
		return
	}
	ctx := req.Context()
	switch req.Method {
	case http.MethodGet, http.MethodHead:
		_, ok, err := r.meta.BlobLinked(ctx, rt.name, d.String())
		if err != nil {
			r.internalError(w, "looking up blob", err)
			return
		}
		if !ok && r.upstream != nil && r.gate != nil {
			// Gateway: a digest asked for through the blobs endpoint may be a
			// manifest upstream (a child of an allowed index, say). Fetch it as
			// one first, so it is recorded as a manifest and gated below;
			// fetched as a plain blob it would slip past the gate.
			if err := r.fetchManifest(ctx, rt.name, d.String()); err == nil {
				ok = true
			}
		}
		if !ok && r.upstream != nil {
			if err := r.fetchBlob(ctx, rt.name, d); err != nil && !errors.Is(err, errUpstreamNotFound) {
				r.log.Warn("registry: upstream blob", "repo", rt.name, "digest", d, "err", err)
				writeError(w, http.StatusBadGateway, codeBlobUnknown, err.Error(), nil)
				return
			} else if err == nil {
				ok = true
			}
		}
		if !ok {
			writeError(w, http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("blob %s is not in repository %s", d, rt.name), nil)
			return
		}
		if r.gate != nil {
			// A manifest read through the blobs endpoint is gated like one read
			// through the manifests endpoint: otherwise the digest of a denied
			// image (from an allowed index) would be a way around the gate.
			if man, err := r.meta.GetManifest(ctx, rt.name, d.String()); err == nil {
				body, err := r.store.ReadAll(ctx, d, maxManifestSize)
				if err != nil {
					r.internalError(w, "reading manifest", err)
					return
				}
				if !r.checkGate(w, req, route{kind: "manifest", name: rt.name, ref: d.String()}, d, man, body) {
					return
				}
			}
		}
		if rd, ok := r.store.(storage.Redirector); ok && r.redirect && req.Method == http.MethodGet {
			// The link was checked above; the bytes come straight from the object store.
			u, err := rd.BlobURL(ctx, d, 20*time.Minute)
			if err != nil {
				r.internalError(w, "presigning blob", err)
				return
			}
			w.Header().Set("Docker-Content-Digest", d.String())
			http.Redirect(w, req, u, http.StatusTemporaryRedirect)
			return
		}
		f, err := r.store.Open(ctx, d)
		if errors.Is(err, storage.ErrNotFound) {
			writeError(w, http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("blob %s is not stored", d), nil)
			return
		}
		if err != nil {
			r.internalError(w, "opening blob", err)
			return
		}
		defer f.Close()
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Docker-Content-Digest", d.String())
		h.Set("Etag", `"`+d.String()+`"`)
		h.Set("Cache-Control", "max-age=31536000")
		// ServeContent answers Range requests (206, 416) and HEAD.
		http.ServeContent(w, req, "", time.Time{}, f)
	case http.MethodDelete:
		ok, err := r.meta.UnlinkBlob(ctx, rt.name, d.String())
		if err != nil {
			r.internalError(w, "deleting blob", err)
			return
		}
		if !ok {
			writeError(w, http.StatusNotFound, codeBlobUnknown, fmt.Sprintf("blob %s is not in repository %s", d, rt.name), nil)
			return
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
	default:
		writeError(w, http.StatusMethodNotAllowed, codeUnsupported, req.Method+" is not allowed on blobs", nil)
	}
}

func uploadLocation(name, id string) string { return "/v2/" + name + "/blobs/uploads/" + id }

func rangeHeader(size int64) string {
	if size > 0 {
		size--
	}
	return "0-" + strconv.FormatInt(size, 10)
}

func (r *Registry) handleUpload(w http.ResponseWriter, req *http.Request, rt route) {
	if rt.ref == "" {
		if req.Method != http.MethodPost {
			writeError(w, http.StatusMethodNotAllowed, codeUnsupported, req.Method+" is not allowed here", nil)
			return
		}
		r.startUpload(w, req, rt)
		return
	}
	ctx := req.Context()
	repo, err := r.meta.UploadRepo(ctx, rt.ref)
	if errors.Is(err, meta.ErrNotFound) || err == nil && repo != rt.name {
		writeError(w, http.StatusNotFound, codeBlobUploadUnknown, fmt.Sprintf("upload %q is not known in %s", rt.ref, rt.name), nil)
		return
	}
	if err != nil {
		r.internalError(w, "looking up upload", err)
		return
	}
	up, err := r.store.GetUpload(ctx, rt.ref)
	if errors.Is(err, storage.ErrUploadUnknown) {
		_ = r.meta.DeleteUpload(ctx, rt.ref)
		writeError(w, http.StatusNotFound, codeBlobUploadUnknown, fmt.Sprintf("upload %q is gone", rt.ref), nil)
		return
	}
	if err != nil {
		r.internalError(w, "opening upload", err)
		return
	}
	loc := uploadLocation(rt.name, rt.ref)
	h := w.Header()
	h.Set("Docker-Upload-UUID", rt.ref)
	switch req.Method {
	case http.MethodGet:
		h.Set("Location", loc)
		h.Set("Range", rangeHeader(up.Size()))
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		if err := r.store.Cancel(ctx, rt.ref); err != nil && !errors.Is(err, storage.ErrUploadUnknown) {
			r.internalError(w, "cancelling upload", err)
			return
		}
		_ = r.meta.DeleteUpload(ctx, rt.ref)
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		start, ok := r.chunkStart(w, req, up.Size(), loc)
		if !ok {
			return
		}
		size, err := up.Append(ctx, req.Body, start, req.ContentLength)
		if err != nil {
			r.appendError(w, err, loc, size)
			return
		}
		h.Set("Location", loc)
		h.Set("Range", rangeHeader(size))
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
	case http.MethodPut:
		want, err := storage.ParseDigest(req.URL.Query().Get("digest"))
		if err != nil {
			writeError(w, http.StatusBadRequest, codeDigestInvalid, "PUT needs a valid ?digest=: "+err.Error(), nil)
			return
		}
		start, ok := r.chunkStart(w, req, up.Size(), loc)
		if !ok {
			return
		}
		if req.ContentLength != 0 {
			if size, err := up.Append(ctx, req.Body, start, req.ContentLength); err != nil {
				r.appendError(w, err, loc, size)
				return
			}
		}
		r.finishUpload(w, req, rt.name, up, want)
	default:
		writeError(w, http.StatusMethodNotAllowed, codeUnsupported, req.Method+" is not allowed on uploads", nil)
	}
}

// chunkStart reads Content-Range ("start-end"); -1 means "append".
func (r *Registry) chunkStart(w http.ResponseWriter, req *http.Request, size int64, loc string) (int64, bool) {
	cr := req.Header.Get("Content-Range")
	if cr == "" {
		return -1, true
	}
	cr = strings.TrimPrefix(cr, "bytes ")
	a, b, ok := strings.Cut(cr, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || end < start-1 {
		writeError(w, http.StatusBadRequest, codeBlobUploadInvalid, fmt.Sprintf("bad Content-Range %q", cr), nil)
		return 0, false
	}
	if start != size {
		w.Header().Set("Location", loc)
		w.Header().Set("Range", rangeHeader(size))
		writeError(w, http.StatusRequestedRangeNotSatisfiable, codeRangeInvalid,
			fmt.Sprintf("chunk starts at %d but the upload has %d bytes", start, size), nil)
		return 0, false
	}
	if req.ContentLength >= 0 && req.ContentLength != end-start+1 {
		writeError(w, http.StatusBadRequest, codeBlobUploadInvalid,
			fmt.Sprintf("Content-Range %q does not match Content-Length %d", cr, req.ContentLength), nil)
		return 0, false
	}
	return start, true
}

func (r *Registry) appendError(w http.ResponseWriter, err error, loc string, size int64) {
	if errors.Is(err, storage.ErrRange) {
		w.Header().Set("Location", loc)
		w.Header().Set("Range", rangeHeader(size))
		writeError(w, http.StatusRequestedRangeNotSatisfiable, codeRangeInvalid, err.Error(), nil)
		return
	}
	r.log.Warn("registry: upload write failed", "err", err)
	writeError(w, http.StatusInternalServerError, codeBlobUploadInvalid, err.Error(), nil)
}

// finishUpload verifies and commits an upload, then links the blob to repo.
func (r *Registry) finishUpload(w http.ResponseWriter, req *http.Request, repo string, up storage.Upload, want storage.Digest) {
	ctx := req.Context()
	size := up.Size()
	// The commit and the link share the digest's lock with online GC.
	var commitErr error
	linkErr := r.meta.LinkBlobGuarded(ctx, repo, want.String(), size, func() error {
		commitErr = r.store.Commit(ctx, up, want)
		return commitErr
	})
	if err := commitErr; err != nil {
		if errors.Is(err, storage.ErrDigestMismatch) {
			// A client that lies about the digest loses its upload.
			_ = r.store.Cancel(ctx, up.ID())
			_ = r.meta.DeleteUpload(ctx, up.ID())
			writeError(w, http.StatusBadRequest, codeDigestInvalid, err.Error(), map[string]string{"digest": want.String()})
			return
		}
		r.store.Forget(up.ID())
		r.internalError(w, "committing upload", err)
		return
	}
	_ = r.meta.DeleteUpload(ctx, up.ID())
	if linkErr != nil {
		r.internalError(w, "recording blob", linkErr)
		return
	}
	r.metrics.blobPushed(size)
	h := w.Header()
	h.Set("Location", "/v2/"+repo+"/blobs/"+want.String())
	h.Set("Docker-Content-Digest", want.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
}

func (r *Registry) startUpload(w http.ResponseWriter, req *http.Request, rt route) {
	ctx := req.Context()
	q := req.URL.Query()
	if m := q.Get("mount"); m != "" {
		if d, err := storage.ParseDigest(m); err == nil && r.tryMount(w, req, rt.name, d, q.Get("from")) {
			return
		}
		// Otherwise fall through to a normal upload session (202), as the spec says.
	}
	id := newID()
	up, err := r.store.StartUpload(ctx, id)
	if err != nil {
		r.internalError(w, "starting upload", err)
		return
	}
	if err := r.meta.AddUpload(ctx, id, rt.name); err != nil {
		_ = r.store.Cancel(ctx, id)
		r.internalError(w, "recording upload", err)
		return
	}
	if ds := q.Get("digest"); ds != "" {
		want, err := storage.ParseDigest(ds)
		if err != nil {
			_ = r.store.Cancel(ctx, id)
			_ = r.meta.DeleteUpload(ctx, id)
			writeError(w, http.StatusBadRequest, codeDigestInvalid, err.Error(), nil)
			return
		}
		if _, err := up.Append(ctx, req.Body, 0, req.ContentLength); err != nil {
			_ = r.store.Cancel(ctx, id)
			_ = r.meta.DeleteUpload(ctx, id)
			r.appendError(w, err, "", 0)
			return
		}
		r.finishUpload(w, req, rt.name, up, want)
		return
	}
	h := w.Header()
	h.Set("Location", uploadLocation(rt.name, id))
	h.Set("Docker-Upload-UUID", id)
	h.Set("Range", "0-0")
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
}

// tryMount links d into repo from the repository from (or, when allowed, from
// anywhere) and answers 201. It reports false when the mount cannot be done.
func (r *Registry) tryMount(w http.ResponseWriter, req *http.Request, repo string, d storage.Digest, from string) bool {
	ctx := req.Context()
	if r.gate != nil {
		// A manifest mounted into another repository would be readable there as a
		// blob, past the gate; the client can upload the bytes if it has them.
		if isMan, err := r.meta.IsManifest(ctx, d.String()); err != nil || isMan {
			return false
		}
	}
	var ok bool
	switch {
	case from != "":
		if !reName().MatchString(from) || !r.allowed(req, from, "pull") {
			return false
		}
		_, linked, err := r.meta.BlobLinked(ctx, from, d.String())
		ok = err == nil && linked
	case r.anonMnt:
		any, err := r.meta.BlobAnywhere(ctx, d.String())
		ok = err == nil && any
	}
	if !ok {
		return false
	}
	size, err := r.store.Stat(ctx, d)
	if err != nil {
		return false
	}
	gone := false
	err = r.meta.LinkBlobGuarded(ctx, repo, d.String(), size, func() error {
		_, err := r.store.Stat(ctx, d) // again, under the lock GC takes
		gone = err != nil
		return err
	})
	if gone {
		return false
	}
	if err != nil {
		r.internalError(w, "mounting blob", err)
		return true
	}
	h := w.Header()
	h.Set("Location", "/v2/"+repo+"/blobs/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return true
}
