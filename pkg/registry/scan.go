package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/wardensec/warden/pkg/registry/meta"
	"github.com/wardensec/warden/pkg/registry/storage"
)

// kick wakes a scan worker.
func (r *Registry) kick() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// scanWorker takes queued manifests from the metadata store and scans them.
func (r *Registry) scanWorker(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		for {
			job, err := r.meta.Claim(ctx)
			if err != nil {
				if ctx.Err() == nil {
					r.log.Error("registry: claiming scan job", "err", err)
				}
				break
			}
			if job == nil {
				break
			}
			r.runJob(ctx, job)
			if ctx.Err() != nil {
				return
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-t.C:
		}
	}
}

func (r *Registry) runJob(ctx context.Context, job *meta.Job) {
	start := time.Now()
	// Renew the job's lease while it runs, so no other process takes it over.
	renewCtx, stopRenew := context.WithCancel(ctx)
	go func() {
		t := time.NewTicker(meta.DefaultLease / 3)
		defer t.Stop()
		for {
			select {
			case <-renewCtx.Done():
				return
			case <-t.C:
				if err := r.meta.RenewLease(renewCtx, job); err != nil && renewCtx.Err() == nil {
					r.log.Warn("registry: renewing scan lease", "repo", job.Repo, "digest", job.Digest, "err", err)
				}
			}
		}
	}()
	res, err := r.scanOne(ctx, job.Repo, job.Digest)
	stopRenew()
	if ctx.Err() != nil {
		return // shutting down: the job stays 'running' and is requeued at the next start
	}
	var b []byte
	if err == nil {
		if res.ScannedAt.IsZero() {
			res.ScannedAt = time.Now().UTC()
		}
		SortFindings(res.Findings)
		b, err = json.Marshal(res)
	}
	if err != nil {
		r.log.Warn("registry: scan failed", "repo", job.Repo, "digest", job.Digest, "err", err)
	} else {
		r.log.Info("registry: scanned", "repo", job.Repo, "digest", job.Digest, "findings", len(res.Findings), "took", time.Since(start))
	}
	r.metrics.scanned(err == nil, time.Since(start))
	var prev *ScanResult
	if err == nil && r.webhook != "" {
		if pb, _, perr := r.meta.ScanResult(ctx, job.Repo, job.Digest); perr == nil {
			prev = &ScanResult{}
			if json.Unmarshal(pb, prev) != nil {
				prev = nil
			}
		}
	}
	// Record the outcome, retrying while the database is away (a restart):
	// otherwise the job waits for its lease to run out.
	for try, wait := 0, 200*time.Millisecond; ; try, wait = try+1, min(2*wait, 5*time.Second) {
		ferr := r.meta.Finish(context.WithoutCancel(ctx), job, b, err)
		if ferr == nil {
			break
		}
		if try == 12 || ctx.Err() != nil {
			r.log.Error("registry: recording scan", "repo", job.Repo, "digest", job.Digest, "err", ferr)
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
	}
	if prev != nil {
		if added := newFindings(prev, res); len(added) > 0 {
			r.notify(ctx, job.Repo, job.Digest, added)
		}
	}
}

// Rescan queues every scanned image again: after a vulnerability database
// update the workers re-match them (layer inventories come from the layer
// cache, so nothing is re-extracted), and the webhook hears of new findings.
func (r *Registry) Rescan(ctx context.Context) (int64, error) {
	return r.rescan(ctx)
}

// RescanOnce is Rescan done by one process only of all that share the
// metadata database: the first to claim key (say, the new vulnerability
// database's build time) requeues, the others do nothing and report 0. The
// scan workers of every process then share the queue, so each image is
// re-matched, and its webhook sent, once.
func (r *Registry) RescanOnce(ctx context.Context, key string) (int64, error) {
	first, err := r.meta.Once(ctx, "rescan:"+key)
	if err != nil || !first {
		return 0, err
	}
	return r.rescan(ctx)
}

func (r *Registry) rescan(ctx context.Context) (int64, error) {
	n, err := r.meta.RequeueScanned(ctx)
	if err == nil && n > 0 {
		r.kick()
	}
	return n, err
}

// newFindings lists the findings of cur that prev did not have (by ID and package).
func newFindings(prev, cur *ScanResult) []Finding {
	had := map[string]bool{}
	for _, f := range prev.Findings {
		had[f.ID+"\x00"+f.Package+"\x00"+f.Version] = true
	}
	var out []Finding
	for _, f := range cur.Findings {
		if !had[f.ID+"\x00"+f.Package+"\x00"+f.Version] {
			out = append(out, f)
		}
	}
	return out
}

// WebhookEvent is the JSON body POSTed to the webhook.
type WebhookEvent struct {
	Event       string    `json:"event"` // "new-findings"
	Repository  string    `json:"repository"`
	Digest      string    `json:"digest"`
	Tags        []string  `json:"tags"`
	NewFindings []Finding `json:"newFindings"`
}

func (r *Registry) notify(ctx context.Context, repo, digest string, added []Finding) {
	ev := WebhookEvent{Event: "new-findings", Repository: repo, Digest: digest, Tags: []string{}, NewFindings: added}
	if tis, err := r.meta.TagsDetailed(ctx, repo); err == nil {
		for _, t := range tis {
			if t.Digest == digest {
				ev.Tags = append(ev.Tags, t.Tag)
			}
		}
	}
	body, _ := json.Marshal(ev)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.webhook, bytes.NewReader(body))
		if err != nil {
			r.log.Error("registry: webhook", "err", err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			r.log.Warn("registry: webhook failed", "url", r.webhook, "err", err)
			return
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			r.log.Warn("registry: webhook refused", "url", r.webhook, "status", resp.StatusCode)
		}
	}()
}

func (r *Registry) scanOne(ctx context.Context, repo, digest string) (*ScanResult, error) {
	d, err := storage.ParseDigest(digest)
	if err != nil {
		return nil, err
	}
	man, err := r.meta.GetManifest(ctx, repo, digest)
	if err != nil {
		return nil, err
	}
	raw, err := r.store.ReadAll(ctx, d, maxManifestSize)
	if err != nil {
		return nil, err
	}
	img, err := r.image(repo, raw, types.MediaType(man.MediaType))
	if err != nil {
		return nil, fmt.Errorf("%s@%s: %w", repo, digest, err)
	}
	res, err := r.scanner.Scan(ctx, repo, toHash(d), img)
	if err != nil {
		return nil, fmt.Errorf("scanning %s@%s: %w", repo, digest, err)
	}
	if res == nil {
		return nil, fmt.Errorf("scanning %s@%s: scanner returned no result", repo, digest)
	}
	return res, nil
}

// ScanInfo is what the JSON API and the UI show for one manifest.
type ScanInfo struct {
	Repo      string      `json:"repository"`
	Digest    string      `json:"digest"`
	State     string      `json:"state"` // "", queued, running, done, failed
	LastError string      `json:"lastError,omitempty"`
	Result    *ScanResult `json:"result,omitempty"`
}

// Scan returns the scan state and stored result of a manifest.
func (r *Registry) Scan(ctx context.Context, repo, digest string) (*ScanInfo, error) {
	state, lastErr, err := r.meta.ScanState(ctx, repo, digest)
	if err != nil {
		return nil, err
	}
	info := &ScanInfo{Repo: repo, Digest: digest, State: state, LastError: lastErr}
	b, _, err := r.meta.ScanResult(ctx, repo, digest)
	if errors.Is(err, meta.ErrNotFound) {
		return info, nil
	}
	if err != nil {
		return nil, err
	}
	var res ScanResult
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, fmt.Errorf("stored scan of %s@%s: %w", repo, digest, err)
	}
	info.Result = &res
	return info, nil
}

// reSigTag matches cosign's signature/attestation/SBOM tags (left out of the
// UI's tag lists; the gate looks at their content, not their name).
var reSigTag = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^sha256-[a-f0-9]{64}(\.sig|\.att|\.sbom)?$`) })

// checkGate asks the Gate about a pull of an image or index manifest. It
// answers the request (403 DENIED) and returns false when the pull is refused.
func (r *Registry) checkGate(w http.ResponseWriter, req *http.Request, rt route, d storage.Digest, man meta.Manifest, body []byte) bool {
	if r.gate == nil || isInternal(req) {
		return true // the registry reading its own content (InternalHandler)
	}
	// What is exempt is decided by content, never by name: a runnable image
	// pushed under a cosign-style tag (sha256-<hex>.sig) or with a subject is
	// gated like any other; signatures, attestations and SBOMs are artifacts
	// (not scannable) and pass below.
	if r.mayBypass(req, rt.name) {
		return true // an explicit bypass grant (the identity that signs); push rights alone never
	}
	s := Subject{Repo: rt.name, Reference: rt.ref, Digest: toHash(d), MediaType: types.MediaType(man.MediaType)}
	switch {
	case isImageManifest(man.MediaType):
		doc, _, err := parseManifest(body, man.MediaType)
		if err == nil && !scannable(doc, man.MediaType) {
			return true // an artifact (e.g. a cosign signature), not a runnable image
		}
		img, err := r.image(rt.name, body, s.MediaType)
		if err != nil {
			r.deny(w, rt, []string{"policy could not read the image: " + err.Error()})
			return false
		}
		s.Image = img
	case isIndex(man.MediaType):
		idx, err := r.imageIndex(rt.name, body, s.MediaType)
		if err != nil {
			r.deny(w, rt, []string{"policy could not read the index: " + err.Error()})
			return false
		}
		s.Index = idx
	case isSchema1(man.MediaType):
		// Docker schema 1 (stored as an artifact): older clients still run it,
		// and nothing here can check it, so the gate decides with no image
		// (a covering rule then denies: no scan, no inspection).
	default:
		return true // other artifacts
	}
	if info, err := r.Scan(req.Context(), rt.name, d.String()); err == nil {
		s.ScanState = info.State
		s.Scan = info.Result
	}
	dec, err := r.gate.Decide(req.Context(), s)
	if err != nil {
		r.deny(w, rt, []string{"policy evaluation failed: " + err.Error()})
		return false
	}
	if !dec.Allow {
		reasons := dec.Reasons
		if len(reasons) == 0 {
			reasons = []string{"denied by policy"}
		}
		r.deny(w, rt, reasons)
		return false
	}
	return true
}

func (r *Registry) deny(w http.ResponseWriter, rt route, reasons []string) {
	r.metrics.denied()
	msg := fmt.Sprintf("warden policy denied %s:%s: %s", rt.name, rt.ref, strings.Join(reasons, "; "))
	writeError(w, http.StatusForbidden, codeDenied, msg, map[string]any{"reasons": reasons})
}

// IdentityAuthorizer is implemented by Authorizers that can tell what the
// caller's identity may do, beyond what this request's token grants (a pull
// token of a user who may also push).
type IdentityAuthorizer interface {
	IdentityCan(req *http.Request, repo, action string) bool
}

// mayBypass reports whether the authenticated caller holds an explicit
// bypass grant on repo. Without authentication nobody is known, so nobody does.
func (r *Registry) mayBypass(req *http.Request, repo string) bool {
	if r.auth == nil || req.Header.Get("Authorization") == "" {
		return false
	}
	if ia, ok := r.auth.(IdentityAuthorizer); ok {
		return ia.IdentityCan(req, repo, ActionBypass)
	}
	return r.auth.Authorize(req, repo, ActionBypass) == nil
}

func isSchema1(mt string) bool {
	return mt == "application/vnd.docker.distribution.manifest.v1+json" ||
		mt == "application/vnd.docker.distribution.manifest.v1+prettyjws"
}
