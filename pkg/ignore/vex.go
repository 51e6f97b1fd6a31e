package ignore

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/wardensec/warden/pkg/match"
)

// OpenVEX statuses.
const (
	VEXNotAffected        = "not_affected"
	VEXAffected           = "affected"
	VEXFixed              = "fixed"
	VEXUnderInvestigation = "under_investigation"
)

// VEX is a parsed OpenVEX document (v0.2.0, and the older v0.0.x shapes
// where vulnerability and products are plain strings).
type VEX struct {
	Path       string
	ID         string
	Author     string
	Statements []Statement
}

// Statement is one OpenVEX statement, flattened.
type Statement struct {
	Vulnerability string   // name (CVE-..., GHSA-...)
	Aliases       []string // vulnerability.aliases
	Products      []Product
	Status        string
	Justification string
	Impact        string // impact_statement
	Timestamp     time.Time
	Index         int // position in the document
}

// Product is a product and its subcomponents, as PURLs or other identifiers.
type Product struct {
	ID            string
	Subcomponents []string
}

type rawVEX struct {
	Context    string         `json:"@context"`
	ID         string         `json:"@id"`
	Author     string         `json:"author"`
	Timestamp  *time.Time     `json:"timestamp"`
	Statements []rawStatement `json:"statements"`
}

type rawStatement struct {
	Vulnerability   json.RawMessage   `json:"vulnerability"`
	Products        []json.RawMessage `json:"products"`
	Subcomponents   []json.RawMessage `json:"subcomponents"` // v0.0.x, statement level
	Status          string            `json:"status"`
	Justification   string            `json:"justification"`
	ImpactStatement string            `json:"impact_statement"`
	Timestamp       *time.Time        `json:"timestamp"`
}

type rawVuln struct {
	ID      string   `json:"@id"`
	Name    string   `json:"name"`
	Aliases []string `json:"aliases"`
}

type rawProduct struct {
	ID            string            `json:"@id"`
	Identifiers   map[string]string `json:"identifiers"`
	Subcomponents []json.RawMessage `json:"subcomponents"`
}

// LoadVEX reads and parses an OpenVEX document.
func LoadVEX(path string) (*VEX, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading VEX document: %w", err)
	}
	return ParseVEX(path, data)
}

// ParseVEX parses an OpenVEX JSON document. It must have an openvex
// @context and statements with a vulnerability, products and a known status.
func ParseVEX(name string, data []byte) (*VEX, error) {
	var raw rawVEX
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("VEX document %s: not OpenVEX JSON: %w", name, err)
	}
	if !strings.Contains(raw.Context, "openvex") {
		return nil, fmt.Errorf("VEX document %s: @context %q is not OpenVEX (want https://openvex.dev/ns/...)", name, raw.Context)
	}
	v := &VEX{Path: name, ID: raw.ID, Author: raw.Author}
	for i, rs := range raw.Statements {
		st := Statement{Status: rs.Status, Justification: rs.Justification, Impact: rs.ImpactStatement, Index: i}
		switch {
		case rs.Timestamp != nil:
			st.Timestamp = *rs.Timestamp
		case raw.Timestamp != nil:
			st.Timestamp = *raw.Timestamp
		}
		if err := parseVuln(rs.Vulnerability, &st); err != nil {
			return nil, fmt.Errorf("VEX document %s statement %d: %w", name, i, err)
		}
		switch st.Status {
		case VEXNotAffected, VEXAffected, VEXFixed, VEXUnderInvestigation:
		default:
			return nil, fmt.Errorf("VEX document %s statement %d (%s): unknown status %q", name, i, st.Vulnerability, st.Status)
		}
		var stmtSubs []string
		for _, s := range rs.Subcomponents {
			id, _, err := parseProduct(s)
			if err != nil {
				return nil, fmt.Errorf("VEX document %s statement %d (%s): subcomponent: %w", name, i, st.Vulnerability, err)
			}
			stmtSubs = append(stmtSubs, id)
		}
		for _, p := range rs.Products {
			id, subs, err := parseProduct(p)
			if err != nil {
				return nil, fmt.Errorf("VEX document %s statement %d (%s): product: %w", name, i, st.Vulnerability, err)
			}
			st.Products = append(st.Products, Product{ID: id, Subcomponents: append(subs, stmtSubs...)})
		}
		if len(st.Products) == 0 {
			return nil, fmt.Errorf("VEX document %s statement %d (%s): no products", name, i, st.Vulnerability)
		}
		v.Statements = append(v.Statements, st)
	}
	return v, nil
}

func parseVuln(raw json.RawMessage, st *Statement) error {
	if len(raw) == 0 {
		return fmt.Errorf("no vulnerability")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		st.Vulnerability = s
	} else {
		var rv rawVuln
		if err := json.Unmarshal(raw, &rv); err != nil {
			return fmt.Errorf("vulnerability: %w", err)
		}
		st.Vulnerability, st.Aliases = rv.Name, rv.Aliases
		if st.Vulnerability == "" {
			st.Vulnerability = rv.ID
		}
	}
	if strings.TrimSpace(st.Vulnerability) == "" {
		return fmt.Errorf("vulnerability without a name")
	}
	return nil
}

func parseProduct(raw json.RawMessage) (string, []string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s == "" {
			return "", nil, fmt.Errorf("empty product id")
		}
		return s, nil, nil
	}
	var rp rawProduct
	if err := json.Unmarshal(raw, &rp); err != nil {
		return "", nil, err
	}
	id := rp.ID
	if id == "" {
		id = rp.Identifiers["purl"]
	}
	if id == "" {
		return "", nil, fmt.Errorf("product without @id or purl identifier")
	}
	var subs []string
	for _, sc := range rp.Subcomponents {
		sid, _, err := parseProduct(sc)
		if err != nil {
			return "", nil, err
		}
		subs = append(subs, sid)
	}
	return id, subs, nil
}

// appliesTo reports whether a product names the package, or the whole image
// (the artifact, or an OCI/Docker PURL) when it lists no subcomponents.
func (p *Product) appliesTo(f *match.Finding, artifact string) bool {
	if len(p.Subcomponents) > 0 {
		for _, s := range p.Subcomponents {
			if purlMatches(s, f.Package.PURL) {
				return true
			}
		}
		return false
	}
	if purlMatches(p.ID, f.Package.PURL) {
		return true
	}
	return p.ID == artifact || strings.HasPrefix(p.ID, "pkg:oci/") || strings.HasPrefix(p.ID, "pkg:docker/")
}

func (st *Statement) names(f *match.Finding) bool {
	if f.HasID(st.Vulnerability) {
		return true
	}
	for _, a := range st.Aliases {
		if f.HasID(a) {
			return true
		}
	}
	return false
}

// ApplyVEX suppresses the findings that a not_affected statement covers. When
// several statements cover a finding, the latest (by timestamp, then position) wins.
func ApplyVEX(findings []match.Finding, artifact string, docs ...*VEX) {
	type ordered struct {
		st  *Statement
		doc *VEX
	}
	var all []ordered
	for _, d := range docs {
		for i := range d.Statements {
			all = append(all, ordered{&d.Statements[i], d})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].st.Timestamp.Before(all[j].st.Timestamp) })
	for i := range findings {
		f := &findings[i]
		if f.Suppressed != nil {
			continue
		}
		var last *ordered
		for j := range all {
			st := all[j].st
			if !st.names(f) {
				continue
			}
			for k := range st.Products {
				if st.Products[k].appliesTo(f, artifact) {
					last = &all[j]
					break
				}
			}
		}
		if last == nil || last.st.Status != VEXNotAffected {
			continue
		}
		reason := "not_affected"
		if last.st.Justification != "" {
			reason += ": " + last.st.Justification
		}
		if last.st.Impact != "" {
			reason += " — " + last.st.Impact
		}
		f.Suppressed = &match.Suppression{Kind: "vex", Reason: reason, Justification: last.st.Justification, Source: last.doc.Path}
	}
}
