// Package dockerauthz is a Docker Engine authorization plugin (the AuthZ
// plugin protocol of Docker's plugin API: /Plugin.Activate,
// /AuthZPlugin.AuthZReq, /AuthZPlugin.AuthZRes) that puts Warden's policy in
// front of every client of an Engine: pulls, container creates and swarm
// service creates/updates of an image the policy refuses are denied with the
// policy's reasons; everything else is allowed. Decisions are made by
// pkg/policy/imagegate, the same policy.Evaluate as `warden check`.
package dockerauthz

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/wardensec/warden/pkg/policy/imagegate"
)

// Request is what the Engine sends to /AuthZPlugin.AuthZReq and
// /AuthZPlugin.AuthZRes (Docker's authorization.Request; []byte fields are
// base64 in JSON).
type Request struct {
	User               string            `json:"User,omitempty"`
	UserAuthNMethod    string            `json:"UserAuthNMethod,omitempty"`
	RequestMethod      string            `json:"RequestMethod,omitempty"`
	RequestURI         string            `json:"RequestURI,omitempty"`
	RequestBody        []byte            `json:"RequestBody,omitempty"`
	RequestHeaders     map[string]string `json:"RequestHeaders,omitempty"`
	ResponseBody       []byte            `json:"ResponseBody,omitempty"`
	ResponseHeaders    map[string]string `json:"ResponseHeaders,omitempty"`
	ResponseStatusCode int               `json:"ResponseStatusCode,omitempty"`
}

// Response is the plugin's answer (Docker's authorization.Response).
type Response struct {
	Allow bool   `json:"Allow"`
	Msg   string `json:"Msg,omitempty"`
	Err   string `json:"Err,omitempty"`
}

// MaxRequest bounds a decoded request: the Engine forwards bodies of at most
// 1 MiB, base64 makes them 4/3 larger.
const MaxRequest = 4 << 20

// DecodeRequest reads one AuthZ request.
func DecodeRequest(r io.Reader) (*Request, error) {
	var req Request
	dec := json.NewDecoder(io.LimitReader(r, MaxRequest+1))
	if err := dec.Decode(&req); err != nil {
		return nil, fmt.Errorf("decoding the AuthZ request: %w", err)
	}
	if dec.InputOffset() > MaxRequest {
		return nil, fmt.Errorf("decoding the AuthZ request: larger than %d bytes", MaxRequest)
	}
	return &req, nil
}

// Engine answers which registry digests a local image has.
type Engine interface {
	// RepoDigests returns the image's RepoDigests ("repo@sha256:…");
	// found is false when the Engine has no such image.
	RepoDigests(ctx context.Context, image string) (digests []string, found bool, err error)
}

// Options configure a Plugin.
type Options struct {
	Gate   *imagegate.Gate
	Engine Engine
	Logger *slog.Logger
}

// Plugin is the AuthZ plugin's http.Handler.
type Plugin struct {
	opt Options
	mux *http.ServeMux
}

// New returns the plugin.
func New(opt Options) *Plugin {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Plugin{opt: opt, mux: http.NewServeMux()}
	p.mux.HandleFunc("POST /Plugin.Activate", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string][]string{"Implements": {"authz"}})
	})
	p.mux.HandleFunc("POST /AuthZPlugin.AuthZReq", func(w http.ResponseWriter, r *http.Request) {
		req, err := DecodeRequest(r.Body)
		if err != nil {
			writeJSON(w, Response{Allow: false, Msg: err.Error()})
			return
		}
		writeJSON(w, p.Authorize(r.Context(), req))
	})
	p.mux.HandleFunc("POST /AuthZPlugin.AuthZRes", func(w http.ResponseWriter, r *http.Request) {
		if _, err := DecodeRequest(r.Body); err != nil {
			writeJSON(w, Response{Allow: false, Msg: err.Error()})
			return
		}
		writeJSON(w, Response{Allow: true})
	})
	return p
}

func (p *Plugin) ServeHTTP(w http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(w, r) }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/vnd.docker.plugins.v1.2+json")
	_ = json.NewEncoder(w).Encode(v)
}

var versionPrefix = regexp.MustCompile(`^/v[0-9]+(\.[0-9]+)?/`)

// Route is what a request does, as far as the policy cares.
type Route int

const (
	Other Route = iota
	Pull
	ContainerCreate
	ServiceCreate
	ServiceUpdate
)

// Classify names the API call of a method and request URI (with or without
// the /vX.Y prefix).
func Classify(method, uri string) (Route, url.Values, error) {
	u, err := url.ParseRequestURI(uri)
	if err != nil {
		return Other, nil, fmt.Errorf("request URI %q: %w", uri, err)
	}
	p := path.Clean("/" + u.Path)
	if m := versionPrefix.FindString(p + "/"); m != "" {
		p = "/" + strings.TrimPrefix(p+"/", m)
		p = strings.TrimSuffix(p, "/")
		if p == "" {
			p = "/"
		}
	}
	if !strings.EqualFold(method, http.MethodPost) {
		return Other, u.Query(), nil
	}
	switch {
	case p == "/images/create":
		return Pull, u.Query(), nil
	case p == "/containers/create":
		return ContainerCreate, u.Query(), nil
	case p == "/services/create":
		return ServiceCreate, u.Query(), nil
	case strings.HasPrefix(p, "/services/") && strings.HasSuffix(p, "/update") && strings.Count(p, "/") == 3:
		return ServiceUpdate, u.Query(), nil
	}
	return Other, u.Query(), nil
}

// Authorize decides one request.
func (p *Plugin) Authorize(ctx context.Context, req *Request) Response {
	route, q, err := Classify(req.RequestMethod, req.RequestURI)
	if err != nil {
		return deny(err.Error())
	}
	switch route {
	case Pull:
		ref, err := pullRef(q)
		if err != nil {
			return deny(err.Error())
		}
		if ref == "" {
			return Response{Allow: true} // an import (fromSrc): what it makes has no registry digest and cannot be run
		}
		return p.decide(ctx, ref)
	case ContainerCreate:
		var body struct{ Image string }
		if err := json.Unmarshal(req.RequestBody, &body); err != nil {
			return deny(fmt.Sprintf("decoding the container create body: %v", err))
		}
		if body.Image == "" {
			return deny("container create names no image")
		}
		return p.local(ctx, body.Image)
	case ServiceCreate, ServiceUpdate:
		var spec struct {
			TaskTemplate struct {
				ContainerSpec *struct{ Image string }
				PluginSpec    *struct{ Remote string }
			}
		}
		if err := json.Unmarshal(req.RequestBody, &spec); err != nil {
			return deny(fmt.Sprintf("decoding the service spec: %v", err))
		}
		switch {
		case spec.TaskTemplate.ContainerSpec != nil && spec.TaskTemplate.ContainerSpec.Image != "":
			return p.decide(ctx, spec.TaskTemplate.ContainerSpec.Image)
		case spec.TaskTemplate.PluginSpec != nil && spec.TaskTemplate.PluginSpec.Remote != "":
			return p.decide(ctx, spec.TaskTemplate.PluginSpec.Remote)
		}
		return deny("service spec names no image")
	}
	return Response{Allow: true}
}

// pullRef is the reference of POST /images/create: fromImage with tag (a tag
// or a digest); "" for an import. A pull of every tag cannot be checked.
func pullRef(q url.Values) (string, error) {
	from, tag := q.Get("fromImage"), q.Get("tag")
	if from == "" {
		return "", nil
	}
	if tag != "" {
		if strings.Contains(tag, ":") {
			return from + "@" + tag, nil
		}
		return from + ":" + tag, nil
	}
	r, err := name.ParseReference(from, name.WithDefaultTag(""))
	if err != nil {
		return "", fmt.Errorf("pull of %q: %w", from, err)
	}
	if t, ok := r.(name.Tag); ok && t.TagStr() == "" {
		return "", fmt.Errorf("pull of every tag of %s: Warden checks one image at a time; name a tag or digest", from)
	}
	return from, nil
}

// local decides on the image of a container create: the Engine's image
// resolved to its registry digests (allowed when the policy allows one of the
// digests in the repository the create names, else one of any); an image
// the Engine does not have is decided at its registry, as its pull will be.
func (p *Plugin) local(ctx context.Context, image string) Response {
	if p.opt.Engine == nil {
		return deny("no Engine to resolve " + image + " to its digests")
	}
	digests, found, err := p.opt.Engine.RepoDigests(ctx, image)
	if err != nil {
		return deny(fmt.Sprintf("resolving %s through the Engine: %v", image, err))
	}
	if !found {
		return p.decide(ctx, image)
	}
	if len(digests) == 0 {
		return deny(fmt.Sprintf("image %s has no registry digest (built, loaded or imported locally): the policy cannot verify it", image))
	}
	cands := digests
	if r, err := name.ParseReference(image); err == nil {
		var same []string
		for _, d := range digests {
			if dr, err := name.ParseReference(d); err == nil && dr.Context().Name() == r.Context().Name() {
				same = append(same, d)
			}
		}
		if len(same) > 0 {
			cands = same
		}
	}
	var first *Response
	for _, d := range cands {
		res := p.decide(ctx, d)
		if res.Allow {
			return res
		}
		if first == nil {
			first = &res
		}
	}
	return *first
}

func (p *Plugin) decide(ctx context.Context, ref string) Response {
	if p.opt.Gate == nil {
		return deny("no policy")
	}
	res := p.opt.Gate.Decide(ctx, ref, nil)
	if res.Allow {
		return Response{Allow: true}
	}
	p.opt.Logger.Info("denied", "ref", ref, "reasons", res.Failures())
	return deny(res.Message())
}

func deny(msg string) Response { return Response{Allow: false, Msg: msg} }
