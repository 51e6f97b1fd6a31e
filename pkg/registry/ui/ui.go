// Package ui is the registry's web UI: server-rendered html/template pages
// (no front-end build) listing repositories, tags, and per image the
// vulnerabilities ordered by severity, signatures and the policy verdict.
package ui

import (
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strings"

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
	"sevs": func() []string { return []string{"CRITICAL", "HIGH", "MEDIUM", "LOW", "NEGLIGIBLE", "UNKNOWN"} },
}

var tmpl = template.Must(template.New("").Funcs(funcs).ParseFS(files, "templates/*.html"))

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
			data, err = reg.Repositories(ctx)
		case "repo":
			name = "repo.html"
			var tags []registry.TagSummary
			tags, err = reg.Tags(ctx, repo)
			data = struct {
				Repo string
				Tags []registry.TagSummary
			}{repo, tags}
		case "image":
			name = "image.html"
			data, err = reg.Image(ctx, repo, q.Get("ref"))
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
		if err := tmpl.ExecuteTemplate(w, name, data); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
}
