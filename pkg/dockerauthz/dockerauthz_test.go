package dockerauthz

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testpolicy"
	"github.com/wardensec/warden/pkg/policy/imagegate"
)

// fakeEngine answers RepoDigests from a map; a missing name is "no such image".
type fakeEngine map[string][]string

func (e fakeEngine) RepoDigests(_ context.Context, image string) ([]string, bool, error) {
	d, ok := e[image]
	return d, ok, nil
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		method, uri string
		want        Route
	}{
		{"POST", "/v1.41/images/create?fromImage=alpine&tag=3", Pull},
		{"POST", "/images/create?fromImage=alpine", Pull},
		{"POST", "/v1.41//images/./create?fromImage=alpine", Pull},
		{"POST", "/v1.41/containers/create?name=x", ContainerCreate},
		{"POST", "/v1.41/services/create", ServiceCreate},
		{"POST", "/v1.41/services/abc123/update?version=4", ServiceUpdate},
		{"GET", "/v1.41/images/create", Other},
		{"POST", "/v1.41/containers/abc/start", Other},
		{"GET", "/_ping", Other},
		{"POST", "/v1.41/images/load", Other},
	} {
		got, _, err := Classify(c.method, c.uri)
		if err != nil || got != c.want {
			t.Errorf("Classify(%s %s) = %v, %v; want %v", c.method, c.uri, got, err, c.want)
		}
	}
}

// TestAuthZReq speaks the protocol over HTTP, as the Engine does: the
// interface the project is checked against.
func TestAuthZReq(t *testing.T) {
	f := testpolicy.New(t)
	gate := imagegate.New(imagegate.Options{Policy: f.Policy, Timeout: 5 * time.Second})
	signedDigests := resolve(t, gate, f.Signed)
	eng := fakeEngine{
		f.Signed:          {signedDigests},
		"localbuild:1":    {},
		"sha256:0123abcd": {signedDigests},
	}
	srv := httptest.NewServer(New(Options{Gate: gate, Engine: eng}))
	defer srv.Close()

	post := func(path string, req any) Response {
		t.Helper()
		b, _ := json.Marshal(req)
		res, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out Response
		if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	res, err := http.Post(srv.URL+"/Plugin.Activate", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	var act struct{ Implements []string }
	json.NewDecoder(res.Body).Decode(&act)
	res.Body.Close()
	if len(act.Implements) != 1 || act.Implements[0] != "authz" {
		t.Errorf("activate: %+v", act)
	}

	create := func(image string) map[string]any {
		body, _ := json.Marshal(map[string]any{"Image": image, "Cmd": []string{"/hello"}})
		return map[string]any{"RequestMethod": "POST", "RequestURI": "/v1.41/containers/create?name=x", "RequestBody": body,
			"RequestHeaders": map[string]string{"Content-Type": "application/json"}}
	}
	pull := func(from, tag string) map[string]any {
		return map[string]any{"RequestMethod": "POST", "RequestURI": "/v1.41/images/create?fromImage=" + from + "&tag=" + tag}
	}
	service := func(image string) map[string]any {
		body, _ := json.Marshal(map[string]any{"Name": "web", "TaskTemplate": map[string]any{"ContainerSpec": map[string]any{"Image": image}}})
		return map[string]any{"RequestMethod": "POST", "RequestURI": "/v1.41/services/create", "RequestBody": body}
	}
	repo, tag, _ := strings.Cut(f.Unsigned[strings.Index(f.Unsigned, "/")+1:], ":")
	host := f.Host
	for _, c := range []struct {
		name string
		req  map[string]any
		want string // "" = allowed
	}{
		{"create unsigned (not local: decided at its registry)", create(f.Unsigned), "signatures: the image is not signed"},
		{"create signed (local, by its repo digest)", create(f.Signed), ""},
		{"create by image ID", create("sha256:0123abcd"), ""},
		{"create of a local build", create("localbuild:1"), "has no registry digest"},
		{"create without image", create(""), "names no image"},
		{"pull unsigned", pull(host+"/"+repo, tag), "not signed"},
		{"pull signed", pull(host+"/prod/app", "1"), ""},
		{"pull every tag", pull(host+"/prod/app", ""), "every tag"},
		{"pull bad reference", pull("UPPER/Case", "x"), "is not an image reference"},
		{"service unsigned", service(f.Unsigned), "not signed"},
		{"service signed", service(f.Signed), ""},
		{"start is not policed", map[string]any{"RequestMethod": "POST", "RequestURI": "/v1.41/containers/abc/start"}, ""},
		{"bad body", map[string]any{"RequestMethod": "POST", "RequestURI": "/containers/create", "RequestBody": []byte("{")}, "decoding the container create body"},
	} {
		got := post("/AuthZPlugin.AuthZReq", c.req)
		switch {
		case c.want == "" && !got.Allow:
			t.Errorf("%s: denied: %s", c.name, got.Msg)
		case c.want != "" && (got.Allow || !strings.Contains(got.Msg, c.want)):
			t.Errorf("%s: %+v; want a denial with %q", c.name, got, c.want)
		}
	}
	if got := post("/AuthZPlugin.AuthZRes", pull(host+"/prod/app", "1")); !got.Allow {
		t.Errorf("AuthZRes: %+v", got)
	}
	// Malformed JSON: a denial, never a panic.
	res, err = http.Post(srv.URL+"/AuthZPlugin.AuthZReq", "application/json", strings.NewReader(`{"RequestBody": 12`))
	if err != nil {
		t.Fatal(err)
	}
	var bad Response
	json.NewDecoder(res.Body).Decode(&bad)
	res.Body.Close()
	if bad.Allow || !strings.Contains(bad.Msg, "decoding the AuthZ request") {
		t.Errorf("malformed request: %+v", bad)
	}
}

func resolve(t *testing.T, g *imagegate.Gate, ref string) string {
	t.Helper()
	r := g.Decide(context.Background(), ref, nil)
	if r.Digest == "" {
		t.Fatalf("%s: %s", ref, r.Message())
	}
	return ref[:strings.LastIndex(ref, ":")] + "@" + r.Digest
}

// FuzzDecodeRequest: any bytes give a request or an error, and deciding on a
// decoded request never panics (no policy: every policed call is denied).
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"RequestMethod":"POST","RequestURI":"/v1.41/containers/create","RequestBody":"eyJJbWFnZSI6ImFscGluZSJ9"}`))
	f.Add([]byte(`{"RequestMethod":"POST","RequestURI":"/v1.41/images/create?fromImage=alpine&tag=3"}`))
	f.Add([]byte(`{"RequestMethod":"POST","RequestURI":"/services/x/update","RequestBody":"e30="}`))
	f.Add([]byte(`{"RequestURI":"%zz"}`))
	p := New(Options{Engine: fakeEngine{}})
	f.Fuzz(func(t *testing.T, b []byte) {
		req, err := DecodeRequest(bytes.NewReader(b))
		if err != nil {
			return
		}
		res := p.Authorize(context.Background(), req)
		if route, _, _ := Classify(req.RequestMethod, req.RequestURI); route != Other && res.Allow {
			if route == Pull && !strings.Contains(req.RequestURI, "fromImage") {
				return // an import
			}
			t.Errorf("allowed without a policy: %+v", req)
		}
	})
}
