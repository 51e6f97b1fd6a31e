// Package ignore suppresses findings: by the rules of a `.wardenignore` file
// (YAML: id, optional package, reason, optional expiry date) and by OpenVEX
// documents (not_affected statements). A suppressed finding keeps its place in
// the results with the reason attached, so reports can say what was hidden and why.
package ignore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wardensec/warden/pkg/match"
)

// DefaultFile is the ignore file `warden scan` reads from the working directory when present.
const DefaultFile = ".wardenignore"

// Rule is one entry of an ignore file.
type Rule struct {
	ID      string    // advisory id or alias (CVE-..., GHSA-..., GO-...)
	Package string    // optional: package name, source package name or PURL (without version = any version)
	Reason  string    // required: why the finding does not matter
	Expires time.Time // optional: the rule applies up to and including this day (UTC); zero = never expires
	Line    int       // line in the file, for messages
}

// File is a parsed ignore file.
type File struct {
	Path  string
	Rules []Rule
}

type yamlRule struct {
	ID      string `yaml:"id"`
	Package string `yaml:"package"`
	Reason  string `yaml:"reason"`
	Expires string `yaml:"expires"`
}

// Load reads and parses an ignore file.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading ignore file: %w", err)
	}
	return Parse(path, data)
}

// Parse parses an ignore file: either a mapping with an `ignore:` list or a
// bare list of rules. Unknown keys, a rule without id or reason, and a bad
// date are errors naming the file and line.
func Parse(name string, data []byte) (*File, error) {
	f := &File{Path: name}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return f, nil // empty file: no rules
		}
		return nil, fmt.Errorf("ignore file %s: %w", name, err)
	}
	if len(doc.Content) == 0 {
		return f, nil
	}
	root := doc.Content[0]
	list := root
	if root.Kind == yaml.MappingNode {
		list = nil
		for i := 0; i+1 < len(root.Content); i += 2 {
			k := root.Content[i]
			if k.Value != "ignore" {
				return nil, fmt.Errorf("ignore file %s line %d: unknown key %q (want \"ignore\")", name, k.Line, k.Value)
			}
			list = root.Content[i+1]
		}
		if list == nil {
			return f, nil
		}
	}
	if list.Kind == yaml.ScalarNode && list.Tag == "!!null" {
		return f, nil
	}
	if list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("ignore file %s line %d: want a list of rules", name, list.Line)
	}
	for _, n := range list.Content {
		if n.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("ignore file %s line %d: a rule must be a mapping with id and reason", name, n.Line)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			switch k := n.Content[i]; k.Value {
			case "id", "package", "reason", "expires":
			default:
				return nil, fmt.Errorf("ignore file %s line %d: unknown key %q (known: id, package, reason, expires)", name, k.Line, k.Value)
			}
		}
		var yr yamlRule
		if err := n.Decode(&yr); err != nil {
			return nil, fmt.Errorf("ignore file %s line %d: %w", name, n.Line, err)
		}
		r := Rule{ID: strings.TrimSpace(yr.ID), Package: strings.TrimSpace(yr.Package), Reason: strings.TrimSpace(yr.Reason), Line: n.Line}
		if r.ID == "" {
			return nil, fmt.Errorf("ignore file %s line %d: rule without id", name, n.Line)
		}
		if r.Reason == "" {
			return nil, fmt.Errorf("ignore file %s line %d: rule for %s has no reason", name, n.Line, r.ID)
		}
		if yr.Expires != "" {
			t, err := time.Parse("2006-01-02", strings.TrimSpace(yr.Expires))
			if err != nil {
				return nil, fmt.Errorf("ignore file %s line %d: rule for %s: expires %q is not a date like 2026-12-31", name, n.Line, r.ID, yr.Expires)
			}
			r.Expires = t
		}
		f.Rules = append(f.Rules, r)
	}
	return f, nil
}

// Expired reports whether the rule no longer applies at now (the expiry day itself still counts).
func (r *Rule) Expired(now time.Time) bool {
	return !r.Expires.IsZero() && !now.UTC().Before(r.Expires.AddDate(0, 0, 1))
}

func (r *Rule) matches(f *match.Finding) bool {
	if !f.HasID(r.ID) {
		return false
	}
	if r.Package == "" {
		return true
	}
	p := &f.Package
	if r.Package == p.Name || r.Package == p.SourceName {
		return true
	}
	return purlMatches(r.Package, p.PURL)
}

// Apply marks the findings the rules suppress (rules that expired before now
// are skipped) and returns the expired rules, so a report can list them.
func (f *File) Apply(findings []match.Finding, now time.Time) (expired []Rule) {
	if f == nil {
		return nil
	}
	for _, r := range f.Rules {
		if r.Expired(now) {
			expired = append(expired, r)
			continue
		}
		for i := range findings {
			fd := &findings[i]
			if fd.Suppressed != nil || !r.matches(fd) {
				continue
			}
			reason := r.Reason
			if !r.Expires.IsZero() {
				reason += " (until " + r.Expires.Format("2006-01-02") + ")"
			}
			fd.Suppressed = &match.Suppression{Kind: "ignore-file", Reason: reason, Source: fmt.Sprintf("%s:%d", f.Path, r.Line)}
		}
	}
	return expired
}

// purlMatches compares a rule's or statement's PURL with a package's,
// ignoring qualifiers and subpath; a pattern without a version matches any version.
func purlMatches(pattern, purl string) bool {
	if pattern == "" || purl == "" || !strings.HasPrefix(pattern, "pkg:") {
		return false
	}
	strip := func(s string) string {
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			s = s[:i]
		}
		return s
	}
	pattern, purl = strip(pattern), strip(purl)
	if pattern == purl {
		return true
	}
	if !strings.Contains(pattern[strings.LastIndex(pattern, "/")+1:], "@") {
		if i := strings.LastIndex(purl, "@"); i > strings.LastIndex(purl, "/") {
			return purl[:i] == pattern
		}
	}
	return false
}
