package feeds

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzResolve feeds the index files `db update` follows (Red Hat's
// archive_latest.txt, a yum mirror list and its repomd.xml) with arbitrary
// bytes: never a panic, and whatever is resolved stays on the server that
// answered (an index cannot send the update to another host).
func FuzzResolve(f *testing.F) {
	f.Add("csaf_vex_2024-07-21.tar.zst\n", "BASE/\n",
		`<repomd><data type="updateinfo"><location href="repodata/updateinfo.xml.gz"/></data></repomd>`)
	f.Add("../x.tar.zst", "# comment\nhttp://other.example/repo", `<repomd><data type="updateinfo"><location href="//evil/x"/></data></repomd>`)
	f.Add("", "BASE", `<repomd><data type="updateinfo"><location href="../../blobs/u.gz"/></data></repomd>`)
	f.Fuzz(func(t *testing.T, latest, mirror, repomd string) {
		var s *httptest.Server
		s = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasSuffix(r.URL.Path, "/archive_latest.txt"):
				w.Write([]byte(latest))
			case r.URL.Path == "/ml":
				w.Write([]byte(strings.ReplaceAll(mirror, "BASE", s.URL+"/repo")))
			case strings.HasSuffix(r.URL.Path, "/repodata/repomd.xml"):
				w.Write([]byte(repomd))
			default:
				http.NotFound(w, r)
			}
		}))
		defer s.Close()
		host := strings.TrimPrefix(s.URL, "http://")
		ctx := context.Background()
		check := func(got []string) {
			for _, u := range got {
				p, err := url.Parse(u)
				if err != nil || p.Host != host {
					t.Errorf("resolved to %q, off the server %s", u, host)
				}
			}
		}
		if got, err := resolveRedHatVEX(ctx, UpdateOptions{}, []string{s.URL + "/vex/archive_latest.txt"}); err == nil {
			check(got)
			if len(got) != 1 || !strings.HasPrefix(got[0], s.URL+"/vex/") || !strings.HasSuffix(got[0], ".tar.zst") {
				t.Errorf("archive resolved to %q", got)
			}
		}
		if got, err := resolveYumRepo(ctx, UpdateOptions{}, s.URL+"/ml", false); err == nil && strings.Contains(mirror, "BASE") &&
			!strings.Contains(mirror, "://") {
			check(got)
		}
	})
}
