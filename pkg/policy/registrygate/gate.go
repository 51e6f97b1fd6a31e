// Package registrygate makes pkg/policy the registry's pull gate: Gate
// implements registry.Gate by calling policy.Evaluate, the very call `warden
// check` makes, with facts the registry has — its stored scan result, the
// image in its own storage (lint and inventory) and, optionally, signatures
// and attestations verified through pkg/verify.
package registrygate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/layercache"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/policy/facts"
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/vulndb"
	"github.com/wardensec/warden/pkg/walk"
)

// BaseAnnotation names an image's base image (OCI pre-defined annotation).
const BaseAnnotation = facts.BaseAnnotation

// Options configure a Gate.
type Options struct {
	// Policy is the policy; nil denies every pull (fail closed).
	Policy *policy.Policy
	// Host is the registry's name as clients write it ("registry.example.com",
	// "127.0.0.1:5000"): the policy's patterns see Host/repository.
	Host string
	// Signatures and Attestations check signatures; nil makes rules that
	// require them deny. facts.Verifier checks them against a registry (this one).
	Signatures   policy.SignatureVerifier
	Attestations policy.AttestationVerifier
	// Keys are trusted keys for rules that list none.
	Keys []policy.Key
	// DBBuilt is when the database the scanner uses was built; nil takes the
	// scan time (a database is never newer than the scan that used it).
	DBBuilt func() time.Time
	// LayerCache speeds up the inventory of pulled images; nil: no cache.
	LayerCache *layercache.Cache
	// Now is the clock; nil: time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Gate is a registry.Gate backed by policy.Evaluate. Image facts (lint,
// inventory) are computed once per digest.
type Gate struct {
	opt      Options
	mu       sync.Mutex
	facts    map[string]*policy.ImageFacts
	handler  http.Handler
	inflight map[string]*manifestDesc // digests being decided (see Transport)
}

type manifestDesc struct {
	mediaType string
	size      int
	n         int // concurrent decisions on this digest
}

// New returns a Gate.
func New(opt Options) *Gate {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Gate{opt: opt, facts: map[string]*policy.ImageFacts{}, inflight: map[string]*manifestDesc{}}
}

// SetPolicy replaces the policy (a reload); nil denies every pull.
func (g *Gate) SetPolicy(p *policy.Policy) {
	g.mu.Lock()
	g.opt.Policy = p
	g.mu.Unlock()
}

// SetVerifiers sets the signature and attestation verifiers (usually one
// facts.Verifier over Transport()).
func (g *Gate) SetVerifiers(s policy.SignatureVerifier, a policy.AttestationVerifier) {
	g.mu.Lock()
	g.opt.Signatures, g.opt.Attestations = s, a
	g.mu.Unlock()
}

// SetHandler gives the gate the registry's own handler, for Transport: use
// (*registry.Registry).InternalHandler(), which reads without credentials
// (authentication on) and past the pull gate.
func (g *Gate) SetHandler(h http.Handler) {
	g.mu.Lock()
	g.handler = h
	g.mu.Unlock()
}

// Transport sends requests to the registry handler in-process (SetHandler).
// Checking a signature starts with a HEAD of the image manifest, which the
// registry would ask this gate about again; the transport answers that HEAD
// itself for the manifest being decided, from what the gate already has. Use
// it as remote.WithTransport(g.Transport()) in a facts.Verifier: external
// clients never go through it, so it opens no way around the gate.
func (g *Gate) Transport() http.RoundTripper { return selfTransport{g} }

type selfTransport struct{ g *Gate }

func (t selfTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	t.g.mu.Lock()
	h := t.g.handler
	var desc manifestDesc
	ok := false
	if req.Method == http.MethodHead {
		if i := strings.LastIndex(req.URL.Path, "/manifests/"); i >= 0 && strings.HasPrefix(req.URL.Path, "/v2/") {
			if d := t.g.inflight[req.URL.Path[i+len("/manifests/"):]]; d != nil {
				desc, ok = *d, true
			}
		}
	}
	t.g.mu.Unlock()
	if ok {
		dg := req.URL.Path[strings.LastIndex(req.URL.Path, "/")+1:]
		hdr := http.Header{}
		hdr.Set("Content-Type", desc.mediaType)
		hdr.Set("Content-Length", strconv.Itoa(desc.size))
		hdr.Set("Docker-Content-Digest", dg)
		return &http.Response{StatusCode: http.StatusOK, Status: "200 OK", Header: hdr, Body: http.NoBody,
			ContentLength: int64(desc.size), Request: req, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}, nil
	}
	if h == nil {
		return nil, errors.New("registrygate: no registry handler (SetHandler)")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	res.Request = req
	return res, nil
}

// Subject is the policy subject of a registry subject: Host/repo with the tag
// or digest the client asked for, and the manifest digest.
func (g *Gate) Subject(s registry.Subject) policy.Subject {
	repo := s.Repo
	if g.opt.Host != "" {
		repo = g.opt.Host + "/" + s.Repo
	}
	ref := repo
	switch {
	case s.Reference == "":
	case strings.HasPrefix(s.Reference, "sha256:"):
		ref += "@" + s.Reference
	default:
		ref += ":" + s.Reference
	}
	return policy.NewSubject(ref, s.Digest.String())
}

// Decide implements registry.Gate. An index is allowed: each platform image
// is decided when it is pulled by digest.
func (g *Gate) Decide(ctx context.Context, s registry.Subject) (registry.Decision, error) {
	if s.Index != nil && s.Image == nil {
		return registry.Decision{Allow: true}, nil
	}
	subj := g.Subject(s)
	if s.Image != nil {
		if raw, err := s.Image.RawManifest(); err == nil {
			key := s.Digest.String()
			g.mu.Lock()
			d := g.inflight[key]
			if d == nil {
				d = &manifestDesc{mediaType: string(s.MediaType), size: len(raw)}
				g.inflight[key] = d
			}
			d.n++
			g.mu.Unlock()
			defer func() {
				g.mu.Lock()
				if d.n--; d.n == 0 {
					delete(g.inflight, key)
				}
				g.mu.Unlock()
			}()
		}
	}
	now := time.Now()
	if g.opt.Now != nil {
		now = g.opt.Now()
	}
	g.mu.Lock()
	pol := g.opt.Policy
	sigs, atts := g.opt.Signatures, g.opt.Attestations
	g.mu.Unlock()
	d := policy.Evaluate(ctx, pol, subj, policy.Facts{
		Signatures:      sigs,
		Attestations:    atts,
		Vulnerabilities: scanFacts{s: s, dbBuilt: g.opt.DBBuilt},
		Image:           inspector{g: g, s: s},
		Keys:            g.opt.Keys,
		Now:             now,
	})
	out := registry.Decision{Allow: d.Allow}
	if !d.Allow {
		out.Reasons = d.Failures()
		g.opt.Logger.Info("pull denied by policy", "ref", subj.Ref, "digest", subj.Digest, "rule", d.Rule, "reasons", out.Reasons)
	}
	return out, nil
}

// scanFacts turns the registry's stored scan result into policy facts.
type scanFacts struct {
	s       registry.Subject
	dbBuilt func() time.Time
}

// ErrNotScanned is returned (and denies) while an image has no scan result.
var ErrNotScanned = errors.New("the image has not been scanned")

func (f scanFacts) Vulnerabilities(context.Context, policy.Subject) (*policy.VulnFacts, error) {
	if f.s.Scan == nil {
		if f.s.ScanState == "failed" {
			return nil, fmt.Errorf("the vulnerability scan of %s failed", f.s.Digest)
		}
		return nil, fmt.Errorf("%w yet (state %q)", ErrNotScanned, f.s.ScanState)
	}
	built := f.s.Scan.ScannedAt
	if f.dbBuilt != nil {
		built = f.dbBuilt()
	}
	out := &policy.VulnFacts{DBBuilt: built}
	for _, x := range f.s.Scan.Findings {
		status := vulndb.StatusFixed
		if x.FixedVersion == "" {
			status = vulndb.StatusUnfixed
		}
		out.Findings = append(out.Findings, match.Finding{
			Package:      inventory.Package{Name: x.Package, Version: x.Version, Ecosystem: x.Ecosystem},
			Advisory:     vulndb.Advisory{ID: x.ID, Aliases: x.Aliases, Severity: x.Severity, Title: x.Title},
			Status:       status,
			FixedVersion: x.FixedVersion,
		})
	}
	return out, nil
}

// inspector lints and inventories the image from the registry's own storage.
type inspector struct {
	g *Gate
	s registry.Subject
}

func (in inspector) Inspect(ctx context.Context, subj policy.Subject) (*policy.ImageFacts, error) {
	g, s := in.g, in.s
	if s.Image == nil {
		return nil, fmt.Errorf("%s is not an image", s.Digest)
	}
	key := s.Digest.String()
	g.mu.Lock()
	cached := g.facts[key]
	g.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	inv, err := walk.Inventory(ctx, s.Image, walk.Options{Extractors: all.Extractors(), Cache: g.opt.LayerCache,
		Logger: g.opt.Logger, ImageName: subj.Ref})
	if err != nil {
		return nil, err
	}
	im, err := facts.Inspect(ctx, s.Image, inv, facts.InspectOptions{Reference: subj.Ref, Logger: g.opt.Logger})
	if err != nil {
		return nil, err
	}
	g.mu.Lock()
	g.facts[key] = im
	g.mu.Unlock()
	return im, nil
}
