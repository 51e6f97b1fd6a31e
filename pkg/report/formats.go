package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/template"

	"github.com/wardensec/warden/internal/jsonindent"
)

func writeJSON(w io.Writer, doc *Document) error {
	// Indented as it is written (jsonindent): the same bytes as an Encoder with SetIndent.
	if err := jsonindent.Encode(w, doc, "  ", false); err != nil {
		return fmt.Errorf("writing JSON report: %w", err)
	}
	return nil
}

// ParseTemplate parses a report template; its data is the JSON model as
// generic values, so fields are named as in docs/report-json.md
// ({{range .vulnerabilities}}{{.id}}{{end}}).
func ParseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=zero").Funcs(template.FuncMap{
		"join":  func(sep string, xs []any) string { return joinAny(sep, xs) },
		"upper": strings.ToUpper,
		"lower": strings.ToLower,
		"json": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	}).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("report template %s: %w", name, err)
	}
	return t, nil
}

func joinAny(sep string, xs []any) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, sep)
}

func writeTemplate(w io.Writer, doc *Document, text string) error {
	if text == "" {
		return fmt.Errorf("format template needs a template (--template FILE)")
	}
	t, err := ParseTemplate("template", text)
	if err != nil {
		return err
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	var data map[string]any
	if err := json.Unmarshal(b, &data); err != nil {
		return err
	}
	if err := t.Execute(w, data); err != nil {
		return fmt.Errorf("executing report template: %w", err)
	}
	return nil
}
