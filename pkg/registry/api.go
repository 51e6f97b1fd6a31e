package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/wardensec/warden/pkg/registry/meta"
	"github.com/wardensec/warden/pkg/registry/storage"
)

// RepoSummary is one repository in the JSON API.
type RepoSummary struct {
	Name string `json:"name"`
	Tags int    `json:"tags"`
}

// TagSummary is one tag in the JSON API and the UI.
type TagSummary struct {
	Tag       string         `json:"tag"`
	Digest    string         `json:"digest"`
	MediaType string         `json:"mediaType"`
	Updated   time.Time      `json:"updated"`
	ScanState string         `json:"scanState"`
	Counts    map[string]int `json:"counts,omitempty"`
	Signed    bool           `json:"signed"` // a cosign .sig tag or a referrer exists
	// SignatureStatus and SignedBy are the verified state (SignatureReport)
	// when the server has a SignatureChecker.
	SignatureStatus string   `json:"signatureStatus,omitempty"`
	SignedBy        []string `json:"signedBy,omitempty"`
}

// ImageDetail is everything known about one manifest.
type ImageDetail struct {
	Repo       string         `json:"repository"`
	Reference  string         `json:"reference"`
	Digest     string         `json:"digest"`
	MediaType  string         `json:"mediaType"`
	Size       int64          `json:"size"`
	Tags       []string       `json:"tags"`
	Scan       *ScanInfo      `json:"scan"`
	Referrers  []ReferrerInfo `json:"referrers"`
	Signatures []string       `json:"signatures"` // tags such as sha256-<hex>.sig
	// SignatureCheck is the verification of the image's signatures against the
	// server's trusted keys (who signed; invalid ones and why); nil when the
	// server has no SignatureChecker or the manifest is not an image.
	SignatureCheck *SignatureReport `json:"signatureCheck,omitempty"`
	Verdict        *Verdict         `json:"verdict,omitempty"`
	SBOM           bool             `json:"sbomAvailable"` // /api/v1/sbom serves this image's SBOM
}

// ReferrerInfo is one referrer (signature, attestation, SBOM) of a manifest.
type ReferrerInfo struct {
	Digest       string            `json:"digest"`
	ArtifactType string            `json:"artifactType"`
	MediaType    string            `json:"mediaType"`
	Annotations  map[string]string `json:"annotations,omitempty"`
}

// Verdict is the gate's answer for an image, as shown to people.
type Verdict struct {
	Allow   bool     `json:"allow"`
	Reasons []string `json:"reasons,omitempty"`
	Error   string   `json:"error,omitempty"`
}

// Repositories lists every repository with its tag counts, whoever asks: for
// the server itself. Pages and API answers use VisibleRepositories.
func (r *Registry) Repositories(ctx context.Context) ([]RepoSummary, error) {
	names, err := r.meta.Repos(ctx, "", 0)
	if err != nil {
		return nil, err
	}
	return r.summaries(ctx, names)
}

// VisibleRepositories lists the repositories the request's caller may pull,
// with their tag counts (the JSON API and the UI).
func (r *Registry) VisibleRepositories(req *http.Request) ([]RepoSummary, error) {
	names, err := r.listRepos(req, "", 0)
	if err != nil {
		return nil, err
	}
	return r.summaries(req.Context(), names)
}

func (r *Registry) summaries(ctx context.Context, names []string) ([]RepoSummary, error) {
	out := []RepoSummary{}
	for _, n := range names {
		tags, err := r.meta.Tags(ctx, n, "", 0)
		if err != nil {
			return nil, err
		}
		out = append(out, RepoSummary{Name: n, Tags: len(tags)})
	}
	return out, nil
}

// Tags lists a repository's tags with scan summaries (signature tags left out).
func (r *Registry) Tags(ctx context.Context, repo string) ([]TagSummary, error) {
	tis, err := r.meta.TagsDetailed(ctx, repo)
	if err != nil {
		return nil, err
	}
	sigs := map[string]bool{}
	for _, t := range tis {
		if reSigTag().MatchString(t.Tag) && strings.HasSuffix(t.Tag, ".sig") {
			sigs["sha256:"+strings.TrimSuffix(strings.TrimPrefix(t.Tag, "sha256-"), ".sig")] = true
		}
	}
	out := []TagSummary{}
	for _, t := range tis {
		if reSigTag().MatchString(t.Tag) {
			continue
		}
		ts := TagSummary{Tag: t.Tag, Digest: t.Digest, Updated: t.Updated, Signed: sigs[t.Digest]}
		if m, err := r.meta.GetManifest(ctx, repo, t.Digest); err == nil {
			ts.MediaType = m.MediaType
		}
		if r.sigs != nil && (isImageManifest(ts.MediaType) || isIndex(ts.MediaType)) {
			if d, err := storage.ParseDigest(t.Digest); err == nil {
				if rep, err := r.sigs.CheckSignatures(ctx, repo, toHash(d)); err != nil {
					ts.SignatureStatus = SigCheckFail
				} else {
					ts.SignatureStatus, ts.SignedBy = rep.Status, rep.SignedBy
				}
			}
		}
		if !ts.Signed {
			if refs, err := r.meta.Referrers(ctx, repo, t.Digest); err == nil && len(refs) > 0 {
				ts.Signed = true
			}
		}
		if info, err := r.Scan(ctx, repo, t.Digest); err == nil {
			ts.ScanState = info.State
			if info.Result != nil {
				ts.Counts = info.Result.Counts()
			}
		}
		out = append(out, ts)
	}
	return out, nil
}

// Image describes one manifest by tag or digest, with the gate's verdict.
func (r *Registry) Image(ctx context.Context, repo, ref string) (*ImageDetail, error) {
	digest := ref
	if !strings.Contains(ref, ":") {
		d, err := r.meta.ResolveTag(ctx, repo, ref)
		if err != nil {
			return nil, err
		}
		digest = d
	}
	d, err := storage.ParseDigest(digest)
	if err != nil {
		return nil, err
	}
	man, err := r.meta.GetManifest(ctx, repo, digest)
	if err != nil {
		return nil, err
	}
	det := &ImageDetail{Repo: repo, Reference: ref, Digest: digest, MediaType: man.MediaType, Size: man.Size,
		Tags: []string{}, Referrers: []ReferrerInfo{}, Signatures: []string{}}
	tis, err := r.meta.TagsDetailed(ctx, repo)
	if err != nil {
		return nil, err
	}
	sigPrefix := "sha256-" + d.Hex
	for _, t := range tis {
		if t.Digest == digest {
			det.Tags = append(det.Tags, t.Tag)
		}
		if strings.HasPrefix(t.Tag, sigPrefix) {
			det.Signatures = append(det.Signatures, t.Tag)
		}
	}
	refs, err := r.meta.Referrers(ctx, repo, digest)
	if err != nil {
		return nil, err
	}
	for _, m := range refs {
		ri := ReferrerInfo{Digest: m.Digest, ArtifactType: m.ArtifactType, MediaType: m.MediaType}
		if m.Annotations != "" {
			_ = json.Unmarshal([]byte(m.Annotations), &ri.Annotations)
		}
		det.Referrers = append(det.Referrers, ri)
	}
	if det.Scan, err = r.Scan(ctx, repo, digest); err != nil {
		return nil, err
	}
	if r.sigs != nil && (isImageManifest(man.MediaType) || isIndex(man.MediaType)) {
		rep, err := r.sigs.CheckSignatures(ctx, repo, toHash(d))
		if err != nil {
			rep = &SignatureReport{Status: SigCheckFail, Error: err.Error()}
		}
		det.SignatureCheck = rep
	}
	if r.gate != nil {
		det.Verdict = r.verdict(ctx, repo, ref, d, man)
	}
	det.SBOM = r.sbom != nil && isImageManifest(man.MediaType) // gated like the manifest (serveSBOM)
	return det, nil
}

func (r *Registry) verdict(ctx context.Context, repo, ref string, d storage.Digest, man meta.Manifest) *Verdict {
	body, err := r.store.ReadAll(ctx, d, maxManifestSize)
	if err != nil {
		return &Verdict{Error: err.Error()}
	}
	s := Subject{Repo: repo, Reference: ref, Digest: toHash(d), MediaType: types.MediaType(man.MediaType)}
	switch {
	case isImageManifest(man.MediaType):
		s.Image, err = r.image(repo, body, s.MediaType)
	case isIndex(man.MediaType):
		s.Index, err = r.imageIndex(repo, body, s.MediaType)
	default:
		return &Verdict{Allow: true, Reasons: []string{"not an image: not subject to policy"}}
	}
	if err != nil {
		return &Verdict{Error: err.Error()}
	}
	if info, err := r.Scan(ctx, repo, d.String()); err == nil {
		s.ScanState, s.Scan = info.State, info.Result
	}
	dec, err := r.gate.Decide(ctx, s)
	if err != nil {
		return &Verdict{Error: "policy evaluation failed: " + err.Error()}
	}
	return &Verdict{Allow: dec.Allow, Reasons: dec.Reasons}
}

// APIHandler serves the JSON API under /api/v1/:
//
//	GET /api/v1/repositories                      (those the caller may pull)
//	GET /api/v1/tags?repo=NAME
//	GET /api/v1/image?repo=NAME&ref=TAG|DIGEST   (scan result, referrers, signatures, verdict)
//	GET /api/v1/scan?repo=NAME&digest=DIGEST
//	GET /api/v1/sbom?repo=NAME&ref=TAG|DIGEST&format=cyclonedx-json|spdx-json|json
//
// It sits behind the same Authorizer as the registry (pull on the repository);
// the repository list shows only what the caller may pull.
func (r *Registry) APIHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		ctx := req.Context()
		q := req.URL.Query()
		repo := q.Get("repo")
		if req.Method != http.MethodGet {
			writeError(w, http.StatusMethodNotAllowed, codeUnsupported, "only GET", nil)
			return
		}
		endpoint := strings.TrimPrefix(req.URL.Path, "/api/v1/")
		if endpoint != "repositories" && !reName().MatchString(repo) {
			writeError(w, http.StatusBadRequest, codeNameInvalid, "repo= must name a repository", nil)
			return
		}
		if !r.authorize(w, req, route{kind: "api", name: repo}) {
			return
		}
		var v any
		var err error
		switch endpoint {
		case "repositories":
			v, err = r.VisibleRepositories(req)
		case "tags":
			v, err = r.Tags(ctx, repo)
		case "image":
			v, err = r.Image(ctx, repo, q.Get("ref"))
		case "scan":
			v, err = r.Scan(ctx, repo, q.Get("digest"))
		case "sbom":
			r.serveSBOM(w, req, repo, q.Get("ref"), q.Get("format"))
			return
		default:
			writeError(w, http.StatusNotFound, codeUnsupported, "no such API endpoint", nil)
			return
		}
		if errors.Is(err, meta.ErrNotFound) || errors.Is(err, storage.ErrInvalidDigest) {
			writeError(w, http.StatusNotFound, codeManifestUnknown, err.Error(), nil)
			return
		}
		if err != nil {
			r.internalError(w, "api", err)
			return
		}
		writeJSON(w, "application/json", v, false)
	})
}

// serveSBOM writes an image's SBOM as a download.
func (r *Registry) serveSBOM(w http.ResponseWriter, req *http.Request, repo, ref, format string) {
	ctx := req.Context()
	if r.sbom == nil {
		writeError(w, http.StatusNotFound, codeUnsupported, "SBOM downloads are not configured", nil)
		return
	}
	if format == "" {
		format = "cyclonedx-json"
	}
	digest := ref
	if !strings.Contains(ref, ":") {
		var err error
		if digest, err = r.meta.ResolveTag(ctx, repo, ref); err != nil {
			writeError(w, http.StatusNotFound, codeManifestUnknown, err.Error(), nil)
			return
		}
	}
	d, err := storage.ParseDigest(digest)
	if err != nil {
		writeError(w, http.StatusBadRequest, codeDigestInvalid, err.Error(), nil)
		return
	}
	man, err := r.meta.GetManifest(ctx, repo, d.String())
	if err != nil || !isImageManifest(man.MediaType) {
		writeError(w, http.StatusNotFound, codeManifestUnknown, fmt.Sprintf("no image %s in %s", ref, repo), nil)
		return
	}
	raw, err := r.store.ReadAll(ctx, d, maxManifestSize)
	if err != nil {
		r.internalError(w, "reading manifest", err)
		return
	}
	// The SBOM is gated like the manifest: its "json" format names every layer
	// blob and the config, enough to fetch them and rebuild a denied image.
	if !r.checkGate(w, req, route{kind: "manifest", name: repo, ref: d.String()}, d, man, raw) {
		return
	}
	img, err := r.image(repo, raw, types.MediaType(man.MediaType))
	if err != nil {
		r.internalError(w, "reading image", err)
		return
	}
	var buf bytes.Buffer
	if err := r.sbom.WriteSBOM(ctx, &buf, format, repo, toHash(d), img); err != nil {
		writeError(w, http.StatusBadRequest, codeUnsupported, "SBOM: "+err.Error(), nil)
		return
	}
	name := strings.ReplaceAll(repo, "/", "_") + "_" + d.Hex[:12] + "." + strings.TrimSuffix(format, "-json") + ".json"
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, _ = w.Write(buf.Bytes())
}
