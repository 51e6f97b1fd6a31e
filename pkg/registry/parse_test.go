package registry

import (
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want route
		ok   bool
	}{
		{"/v2/", route{kind: "ping"}, true},
		{"/v2/_catalog", route{kind: "catalog"}, true},
		{"/v2/a/b/c/tags/list", route{kind: "tags", name: "a/b/c"}, true},
		{"/v2/a/blobs/uploads/", route{kind: "upload", name: "a"}, true},
		{"/v2/a/b/blobs/uploads/abc123", route{kind: "upload", name: "a/b", ref: "abc123"}, true},
		{"/v2/blobs/blobs/sha256:x", route{kind: "blob", name: "blobs", ref: "sha256:x"}, true},
		{"/v2/x/manifests/latest", route{kind: "manifest", name: "x", ref: "latest"}, true},
		{"/v2/x/y/referrers/sha256:abc", route{kind: "referrers", name: "x/y", ref: "sha256:abc"}, true},
		{"/v2/x", route{}, false},
		{"/v3/x/manifests/a", route{}, false},
	} {
		got, ok := parsePath(tc.in)
		if ok != tc.ok || got != tc.want {
			t.Errorf("parsePath(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/a/b/blobs/uploads/abc", "/v2/x/manifests/sha256:abc", "/v2//manifests/", "/v2/a/tags/list"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, ok := parsePath(s)
		if ok && r.kind != "ping" && r.kind != "catalog" && !strings.HasPrefix(s, "/v2/"+r.name) {
			t.Fatalf("parsePath(%q) = %+v", s, r)
		}
	})
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},"layers":[]}`), "application/vnd.oci.image.manifest.v1+json")
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2}],"subject":{"digest":"sha256:x"}}`), "")
	f.Add([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":null}`), "application/vnd.docker.distribution.manifest.v2+json")
	f.Add([]byte(`[]`), "application/json")
	f.Fuzz(func(t *testing.T, body []byte, mt string) {
		doc, got, err := parseManifest(body, mt)
		if err != nil {
			return
		}
		if doc == nil || got == "" {
			t.Fatalf("no document or media type without error")
		}
		_ = scannable(doc, got)
	})
}
