// Package ui is the registry's web UI: server-rendered html/template pages
// (no front-end build) listing repositories, tags, and per image the
// vulnerabilities ordered by severity, signatures and the policy verdict.
package ui

import (
	"embed"
	"errors"
	"html/template"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/registry/meta"
)

//go:embed templates/*.html
var files embed.FS

var funcs = template.FuncMap{
	"sevclass": func(s string) string { return "sev-" + strings.ToLower(s) },
	"short": func(d string) string {
		if i := strings.Index(d, ":"); i >= 0 && len(d) > i+13 {
			return d[:i+13]
		}
		return d
	},
	"sevs":   func() []string { return severities },
	"sevbar": sevBar,
	"cves":   cveAliases,
}

var severities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN"}

// segment is one severity's share of a severity bar.
type segment struct {
	Severity string
	Count    int
	Percent  float64
}

// sevBar splits 100% of a bar among the severities in counts, most severe
// first; a severity word the list does not know counts as UNKNOWN.
func sevBar(counts map[string]int) []segment {
	total := 0
	known := map[string]int{}
	for s, n := range counts {
		if !slices.Contains(severities, s) {
			s = "UNKNOWN"
		}
		known[s] += n
		total += n
	}
	var out []segment
	for _, s := range severities {
		if n := known[s]; n > 0 {
			out = append(out, segment{s, n, math.Round(1000*float64(n)/float64(total)) / 10})
		}
	}
	return out
}

// cveAliases are the CVE ids of a finding whose own id is not one (GHSA-…, GO-…).
func cveAliases(f registry.Finding) []string {
	if strings.HasPrefix(f.ID, "CVE-") {
		return nil
	}
	var out []string
	for _, a := range f.Aliases {
		if strings.HasPrefix(a, "CVE-") && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

// tagRow is a tag of the tag list with its image's verdict.
type tagRow struct {
	registry.TagSummary
	Verdict *registry.Verdict // nil: no gate configured, or the image could not be judged
}

// tmpl is parsed at the first page served (not at start-up: every warden command links this package).
var tmpl = sync.OnceValue(func() *template.Template {
	return template.Must(template.New("").Funcs(funcs).ParseFS(files, "templates/*.html"))
})

// Handler serves the UI under prefix (e.g. "/ui/").
func Handler(reg *registry.Registry, prefix string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		// Every answer, errors too: browsers must not guess a type other than the one sent.
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ctx := req.Context()
		page := strings.TrimPrefix(req.URL.Path, prefix)
		q := req.URL.Query()
		repo := q.Get("repo")
		if page != "" && !reg.Authorize(w, req, repo) {
			return
		}
		if page == "" && !reg.Authorize(w, req, "") {
			return
		}
		var data any
		var name string
		var err error
		switch page {
		case "":
			name = "repos.html"
			data, err = reg.VisibleRepositories(req) // only what the caller may pull
		case "repo":
			name = "repo.html"
			var tags []registry.TagSummary
			tags, err = reg.Tags(ctx, repo)
			rows := make([]tagRow, 0, len(tags))
			gated := false
			for _, t := range tags {
				row := tagRow{TagSummary: t}
				// The verdict the gate gives a pull of this tag (what the
				// image page shows; signature checks are cached).
				if v, verr := reg.Verdict(ctx, repo, t.Tag, t.Digest); verr == nil && v != nil {
					row.Verdict, gated = v, true
				}
				rows = append(rows, row)
			}
			data = struct {
				Repo  string
				Gated bool
				Tags  []tagRow
			}{repo, gated, rows}
		case "image":
			name = "image.html"
			var det *registry.ImageDetail
			det, err = reg.Image(ctx, repo, q.Get("ref"))
			data = struct {
				*registry.ImageDetail
				Pull string // docker pull HOST/REPO@DIGEST
			}{det, pullCommand(req, det)}
		default:
			http.NotFound(w, req)
			return
		}
		if errors.Is(err, meta.ErrNotFound) {
			http.Error(w, err.Error(), http.StatusNotFound)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		if err := tmpl().ExecuteTemplate(w, name, data); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
}

// pullCommand is the docker pull of the image by digest, at the host the
// browser used (the registry's name as clients write it).
func pullCommand(req *http.Request, det *registry.ImageDetail) string {
	if det == nil {
		return ""
	}
	return "docker pull " + req.Host + "/" + det.Repo + "@" + det.Digest
}
