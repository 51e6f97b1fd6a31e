package registry

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// ActionBypass is the access action that lets a caller read manifests past
// the pull gate (the identity that signs). Only an explicit grant gives it:
// push or delete rights never do.
const ActionBypass = "bypass"

// Authorizer decides whether a request may do action ("pull", "push" or
// "delete") on repo; repo "" asks only whether the caller is authenticated (the
// /v2/ ping and the catalog). It returns nil to allow, or an *AuthError.
// pkg/registry/auth implements it with htpasswd basic auth and Docker tokens.
type Authorizer interface {
	Authorize(req *http.Request, repo, action string) error
}

// AuthError is an authorization failure: 401 with a WWW-Authenticate
// challenge (no or bad credentials), 403 (authenticated but not allowed) or
// 429 (too many failed logins: try again after RetryAfter).
type AuthError struct {
	Status     int    // http.StatusUnauthorized, http.StatusForbidden or http.StatusTooManyRequests
	Challenge  string // WWW-Authenticate value for 401
	Message    string
	RetryAfter time.Duration // for 429
}

func (e *AuthError) Error() string { return e.Message }

func action(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return "pull"
	case http.MethodDelete:
		return "delete"
	}
	return "push"
}

// authorize checks the request; it answers and returns false when refused.
func (r *Registry) authorize(w http.ResponseWriter, req *http.Request, rt route) bool {
	if r.auth == nil || isInternal(req) {
		return true
	}
	act := action(req.Method)
	if rt.kind == "ping" || rt.kind == "catalog" || rt.name == "" {
		act = ""
	}
	err := r.auth.Authorize(req, rt.name, act)
	if err == nil {
		return true
	}
	ae, ok := err.(*AuthError)
	if !ok {
		ae = &AuthError{Status: http.StatusUnauthorized, Message: err.Error()}
	}
	switch ae.Status {
	case http.StatusForbidden:
		writeError(w, http.StatusForbidden, codeDenied, ae.Message, nil)
		return false
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", RetryAfterSeconds(ae.RetryAfter))
		writeError(w, http.StatusTooManyRequests, codeTooManyRequests, ae.Message, nil)
		return false
	}
	if ae.Challenge != "" {
		w.Header().Set("WWW-Authenticate", ae.Challenge)
	}
	writeError(w, http.StatusUnauthorized, codeUnauthorized, fmt.Sprintf("authentication required: %s", ae.Message), nil)
	return false
}

// allowed reports whether the request may do action on another repository
// (the source of a cross-repository mount).
func (r *Registry) allowed(req *http.Request, repo, action string) bool {
	if r.auth == nil || r.auth.Authorize(req, repo, action) == nil {
		return true
	}
	// A token is scoped to the repository pushed to; what its user may do
	// elsewhere decides a mount from there.
	ia, ok := r.auth.(IdentityAuthorizer)
	return ok && req.Header.Get("Authorization") != "" && ia.IdentityCan(req, repo, action)
}

// Authorize checks that the request may pull repo ("" = only authenticated) for
// pages outside the /v2/ API (UI); it answers and returns false when refused.
func (r *Registry) Authorize(w http.ResponseWriter, req *http.Request, repo string) bool {
	return r.authorize(w, req, route{kind: "api", name: repo})
}

// RetryAfterSeconds formats d for a Retry-After header: whole seconds, at least 1.
func RetryAfterSeconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// PullFilter is implemented by Authorizers that can tell, once per request,
// which repositories its caller may pull. Listings (the catalog, the JSON
// API's and the UI's repository lists) show only those.
type PullFilter interface {
	PullFilter(req *http.Request) func(repo string) bool
}

// pullable returns what decides, for this request, whether a repository is
// listed: the caller's pull rights.
func (r *Registry) pullable(req *http.Request) func(repo string) bool {
	if r.auth == nil || isInternal(req) {
		return func(string) bool { return true }
	}
	if pf, ok := r.auth.(PullFilter); ok {
		return pf.PullFilter(req)
	}
	return func(repo string) bool { return r.auth.Authorize(req, repo, "pull") == nil }
}
