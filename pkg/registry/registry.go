// Package registry is Warden's OCI Distribution v1.1 registry as an
// http.Handler: pull, push (monolithic, chunked, cross-repository mount),
// tag listing, deletes and the referrers API, on content-addressed storage
// (pkg/registry/storage) with metadata in SQLite (pkg/registry/meta).
//
// Scanning and policy are reached through two small interfaces, Scanner and
// Gate: a push queues the manifest for background scanning, and a pull of an
// image the Gate refuses is answered 403 DENIED with the Gate's reasons.
package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/wardensec/warden/pkg/registry/meta"
	"github.com/wardensec/warden/pkg/registry/storage"
)

// Options configure a Registry.
type Options struct {
	Root  string        // directory holding blobs/, uploads/ and meta.db (when Store or Meta is nil)
	Store storage.Store // nil: the filesystem store under Root
	Meta  *meta.DB      // nil: SQLite in Root/meta.db
	// Redirect answers blob GETs with a 307 to a presigned URL when the
	// store can make one (S3); off by default.
	Redirect bool
	Logger   *slog.Logger // nil: silent

	// Auth authorizes each request; nil allows everything (loopback-only use).
	Auth Authorizer
	// Gate decides pulls of image and index manifests; nil allows all.
	Gate Gate
	// Scanner scans pushed images in the background; nil disables scanning.
	Scanner Scanner
	// ScanWorkers is the number of background scan workers (default 1).
	ScanWorkers int
	// AnonymousMount allows ?mount= without from= (the blob must exist in
	// some repository). Off by default when Auth is set.
	AnonymousMount bool
	// Upstream turns on gateway mode: what is missing here is fetched from it.
	Upstream *Upstream
	// Webhook, when set, receives a JSON POST for every rescan (Rescan) that
	// finds vulnerabilities an image did not have before.
	Webhook string
	// SBOM serves /api/v1/sbom; nil: no SBOM downloads.
	SBOM SBOMWriter
	// Signatures verifies signatures for the UI and API; nil: they are only listed.
	Signatures SignatureChecker
}

// Registry is the OCI registry handler.
type Registry struct {
	store    storage.Store
	redirect bool
	meta     *meta.DB
	log      *slog.Logger
	auth     Authorizer
	gate     Gate
	scanner  Scanner
	anonMnt  bool
	upstream *Upstream
	webhook  string
	sbom     SBOMWriter
	sigs     SignatureChecker
	metrics  *metrics

	wake   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New opens the storage and metadata under opt.Root and starts the scan workers.
func New(opt Options) (*Registry, error) {
	if opt.Root == "" && (opt.Store == nil || opt.Meta == nil) {
		return nil, errors.New("registry: no root directory")
	}
	st := opt.Store
	if st == nil {
		fs, err := storage.Open(opt.Root)
		if err != nil {
			return nil, err
		}
		if err := fs.CleanTemp(); err != nil {
			return nil, fmt.Errorf("cleaning temporary files in %s: %w", opt.Root, err)
		}
		st = fs
	}
	md := opt.Meta
	if md == nil {
		var err error
		if md, err = meta.Open(filepath.Join(opt.Root, "meta.db")); err != nil {
			return nil, err
		}
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		store: st, redirect: opt.Redirect, meta: md, log: log, auth: opt.Auth, gate: opt.Gate, scanner: opt.Scanner,
		anonMnt: opt.AnonymousMount || opt.Auth == nil, upstream: opt.Upstream, webhook: opt.Webhook, sbom: opt.SBOM, sigs: opt.Signatures,
		metrics: newMetrics(),
		wake:    make(chan struct{}, 1),
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	r.wg.Add(1)
	go r.sweepUploads(ctx, time.Hour, 24*time.Hour)
	if r.scanner != nil {
		if err := md.RequeueRunning(ctx); err != nil {
			cancel()
			md.Close()
			return nil, fmt.Errorf("requeueing interrupted scans: %w", err)
		}
		n := opt.ScanWorkers
		if n <= 0 {
			n = 1
		}
		for i := 0; i < n; i++ {
			r.wg.Add(1)
			go r.scanWorker(ctx)
		}
	}
	return r, nil
}

// sweepUploads discards upload sessions abandoned for longer than maxAge.
func (r *Registry) sweepUploads(ctx context.Context, every, maxAge time.Duration) {
	defer r.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ids, err := r.meta.StaleUploads(ctx, time.Now().Add(-maxAge))
		if err != nil {
			continue
		}
		for _, id := range ids {
			_ = r.store.Cancel(ctx, id)
			_ = r.meta.DeleteUpload(ctx, id)
		}
		if len(ids) > 0 {
			r.log.Info("registry: discarded abandoned uploads", "count", len(ids))
		}
	}
}

// Close stops the workers and closes the metadata store.
func (r *Registry) Close() error {
	r.cancel()
	r.wg.Wait()
	return r.meta.Close()
}

// Meta exposes the metadata store (for the UI, the JSON API and GC).
func (r *Registry) Meta() *meta.DB { return r.meta }

// Store exposes the blob store.
func (r *Registry) Store() storage.Store { return r.store }

var (
	reName = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$`)
	})
	reTag = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$`) })
)

// route is a parsed /v2/ request path.
type route struct {
	kind string // ping, catalog, blob, upload, manifest, tags, referrers
	name string
	ref  string // digest, tag, or upload id
}

func parsePath(p string) (route, bool) {
	if p == "/v2/" || p == "/v2" {
		return route{kind: "ping"}, true
	}
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return route{}, false
	}
	if rest == "_catalog" {
		return route{kind: "catalog"}, true
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return route{kind: "tags", name: name}, true
	}
	if name, ok := strings.CutSuffix(rest, "/blobs/uploads/"); ok {
		return route{kind: "upload", name: name}, true
	}
	if name, ok := strings.CutSuffix(rest, "/blobs/uploads"); ok {
		return route{kind: "upload", name: name}, true
	}
	i := strings.LastIndex(rest, "/")
	if i < 0 {
		return route{}, false
	}
	head, last := rest[:i], rest[i+1:]
	j := strings.LastIndex(head, "/")
	if j < 0 {
		return route{}, false
	}
	name, kind := head[:j], head[j+1:]
	switch kind {
	case "blobs":
		return route{kind: "blob", name: name, ref: last}, true
	case "manifests":
		return route{kind: "manifest", name: name, ref: last}, true
	case "referrers":
		return route{kind: "referrers", name: name, ref: last}, true
	case "uploads":
		if n, ok := strings.CutSuffix(name, "/blobs"); ok {
			return route{kind: "upload", name: n, ref: last}, true
		}
	}
	return route{}, false
}

// ServeHTTP implements http.Handler.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w, status: 200}
	defer func() {
		if !isInternal(req) { // the server reading its own content is not traffic
			r.metrics.observe(req.Method, sw.status, sw.bytes, time.Since(start))
		}
	}()
	w = sw
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")

	rt, ok := parsePath(req.URL.Path)
	if !ok {
		writeError(w, http.StatusNotFound, codeNameUnknown, "no such endpoint: "+req.URL.Path, nil)
		return
	}
	if rt.kind != "ping" && rt.kind != "catalog" && (!reName().MatchString(rt.name) || len(rt.name) > 255) {
		writeError(w, http.StatusBadRequest, codeNameInvalid, fmt.Sprintf("invalid repository name %q", rt.name), nil)
		return
	}
	if !r.authorize(w, req, rt) {
		return
	}
	switch rt.kind {
	case "ping":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "2")
		_, _ = io.WriteString(w, "{}")
	case "catalog":
		r.handleCatalog(w, req)
	case "blob":
		r.handleBlob(w, req, rt)
	case "upload":
		r.handleUpload(w, req, rt)
	case "manifest":
		r.handleManifest(w, req, rt)
	case "tags":
		r.handleTags(w, req, rt)
	case "referrers":
		r.handleReferrers(w, req, rt)
	}
}

type internalKey struct{}

// InternalHandler serves read-only requests (GET, HEAD) of in-process callers
// — signature verification through verify.HandlerTransport, the policy gate's
// own look at signatures — without authentication and without the pull gate:
// the registry reading what it stores. It is never mounted on a listener, and
// an HTTP client cannot set the context value it relies on.
func (r *Registry) InternalHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, codeUnsupported, "internal handler is read-only", nil)
			return
		}
		r.ServeHTTP(w, req.WithContext(context.WithValue(req.Context(), internalKey{}, true)))
	})
}

func isInternal(req *http.Request) bool {
	v, _ := req.Context().Value(internalKey{}).(bool)
	return v && (req.Method == http.MethodGet || req.Method == http.MethodHead)
}

// statusWriter records the status and byte count for metrics. It passes
// ReadFrom through so blob downloads keep using sendfile.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusWriter) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }
func (s *statusWriter) Write(b []byte) (int, error) {
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}
func (s *statusWriter) ReadFrom(src io.Reader) (int64, error) {
	if rf, ok := s.ResponseWriter.(io.ReaderFrom); ok {
		n, err := rf.ReadFrom(src)
		s.bytes += n
		return n, err
	}
	n, err := io.Copy(struct{ io.Writer }{s.ResponseWriter}, src)
	s.bytes += n
	return n, err
}
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (r *Registry) internalError(w http.ResponseWriter, what string, err error) {
	r.log.Error("registry: internal error", "what", what, "err", err)
	writeError(w, http.StatusInternalServerError, "UNKNOWN", what+": "+err.Error(), nil)
}
