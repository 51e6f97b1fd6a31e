package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// registryRefusal turns a 401 or 403 met while reading ref into an error
// that gives the registry's reason and what to do; other errors come back
// unchanged. A HEAD answer has no body, so the manifest is asked for again
// with GET to read the registry's errors (Warden's gate: DENIED and the
// policy's reasons). verb is what the user was doing: "sign", "verify", ….
func registryRefusal(ctx context.Context, ref name.Reference, opts []remote.Option, verb string, err error) error {
	var te *transport.Error
	if !errors.As(err, &te) || (te.StatusCode != http.StatusForbidden && te.StatusCode != http.StatusUnauthorized) {
		return err
	}
	reason := ""
	_, gerr := remote.Get(ref, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
	var ge *transport.Error
	if errors.As(gerr, &ge) {
		var parts []string
		for _, d := range ge.Errors {
			parts = append(parts, strings.TrimSpace(string(d.Code)+": "+d.Message))
		}
		reason = strings.Join(parts, "; ")
	}
	if reason == "" {
		reason = http.StatusText(te.StatusCode)
	}
	host := ref.Context().RegistryStr()
	if te.StatusCode == http.StatusUnauthorized {
		return refusal(err, "%s: the registry wants credentials (HTTP 401): %s\n"+
			"Log in (docker login %s; credentials come from the Docker config) as a user granted bypass on %s, and %s again.",
			ref, reason, host, ref.Context().RepositoryStr(), verb)
	}
	return refusal(err, "%s: the registry refused to show the image (HTTP 403): %s\n"+
		"A registry's pull gate (warden serve --policy or --gate-repos) lets only identities granted the bypass action on\n"+
		"the repository past it, and without authentication nobody (docs/registry.md, \"Who reads past the gate\"). Turn authentication on\n"+
		"(warden serve --htpasswd FILE, with an access rule giving you [pull, push, bypass] on %s), log in (docker login %s),\n"+
		"and %s again.",
		ref, reason, ref.Context().RepositoryStr(), host, verb)
}

// refusalError is the explained refusal; it wraps the original error.
type refusalError struct {
	msg string
	err error
}

func (e *refusalError) Error() string { return e.msg }
func (e *refusalError) Unwrap() error { return e.err }

func refusal(err error, format string, args ...any) error {
	return &refusalError{msg: fmt.Sprintf(format, args...), err: err}
}
