// Package osv reads vulnerability records in the OSV format
// (https://ossf.github.io/osv-schema/), JSON or YAML, one record per file
// (or a JSON array of records), from every ecosystem: language ecosystems
// (Go, npm, PyPI, Maven, ...) and distributions (AlmaLinux, Rocky Linux,
// Alpine, Debian, Ubuntu, ...). Each affected package becomes one
// vulndb.Advisory in the namespace of its ecosystem.
package osv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/wardensec/warden/pkg/feeds/cvss"
	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Record is an OSV record (the fields Warden uses).
type Record struct {
	SchemaVersion    string          `json:"schema_version"`
	ID               string          `json:"id"`
	Modified         string          `json:"modified"`
	Published        string          `json:"published"`
	Withdrawn        string          `json:"withdrawn"`
	Aliases          []string        `json:"aliases"`
	Upstream         []string        `json:"upstream"`
	Summary          string          `json:"summary"`
	Details          string          `json:"details"`
	Severity         []Severity      `json:"severity"`
	Affected         []Affected      `json:"affected"`
	References       []Reference     `json:"references"`
	DatabaseSpecific json.RawMessage `json:"database_specific"`
}

// Severity is an OSV severity entry.
type Severity struct {
	Type  string `json:"type"`
	Score string `json:"score"`
}

// Affected is one affected package.
type Affected struct {
	Package struct {
		Ecosystem string `json:"ecosystem"`
		Name      string `json:"name"`
		Purl      string `json:"purl"`
	} `json:"package"`
	Severity          []Severity      `json:"severity"`
	Ranges            []RangeJSON     `json:"ranges"`
	Versions          []string        `json:"versions"`
	EcosystemSpecific json.RawMessage `json:"ecosystem_specific"`
	DatabaseSpecific  json.RawMessage `json:"database_specific"`
}

// RangeJSON is an OSV range with its events.
type RangeJSON struct {
	Type   string  `json:"type"`
	Repo   string  `json:"repo"`
	Events []Event `json:"events"`
}

// Event is one OSV range event.
type Event struct {
	Introduced   string `json:"introduced"`
	Fixed        string `json:"fixed"`
	LastAffected string `json:"last_affected"`
	Limit        string `json:"limit"`
}

// Reference is an OSV reference.
type Reference struct {
	Type string `json:"type"`
	URL  string `json:"url"`
}

// Reader accumulates OSV records into one batch per source (per ecosystem).
type Reader struct {
	Warn    *feed.Warnings
	batches feed.Batches
	skipped int
	now     time.Time
}

// NewReader returns an empty Reader that reports malformed records to w.
func NewReader(w *feed.Warnings) *Reader {
	if w == nil {
		w = &feed.Warnings{}
	}
	return &Reader{Warn: w, batches: map[string]*vulndb.Batch{}, now: time.Now()}
}

// Add reads one file (JSON or YAML; a single record or a JSON array).
func (r *Reader) Add(e *feed.Entry) error {
	data, err := e.ReadAll()
	if err != nil {
		return err
	}
	r.AddBytes(e.String(), data)
	return nil
}

// AddBytes parses one file's content. Malformed records are skipped with a warning.
func (r *Reader) AddBytes(file string, data []byte) {
	recs, err := Parse(file, data)
	if err != nil {
		r.skipped++
		r.Warn.Skip(file, "", err)
		return
	}
	for i := range recs {
		if err := r.add(file, &recs[i]); err != nil {
			r.skipped++
			r.Warn.Skip(file, recs[i].ID, err)
		}
	}
}

// Parse decodes a file holding one OSV record or a JSON array of records.
func Parse(file string, data []byte) ([]Record, error) {
	trim := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trim) == 0 {
		return nil, errors.New("empty file")
	}
	if trim[0] == '[' {
		var recs []Record
		if err := json.Unmarshal(trim, &recs); err != nil {
			return nil, fmt.Errorf("decoding OSV JSON array: %w", err)
		}
		return recs, nil
	}
	if trim[0] != '{' {
		j, err := yamlToJSON(data)
		if err != nil {
			return nil, fmt.Errorf("decoding OSV YAML: %w", err)
		}
		trim = j
	}
	var rec Record
	if err := json.Unmarshal(trim, &rec); err != nil {
		return nil, fmt.Errorf("decoding OSV JSON: %w", err)
	}
	return []Record{rec}, nil
}

// yamlToJSON converts YAML to JSON keeping every scalar's text as written
// (so version "1.10" does not become the number 1.1).
func yamlToJSON(data []byte) ([]byte, error) {
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, err
	}
	budget := 1 << 20 // nodes, aliases expanded: no "billion laughs"
	v, err := nodeValue(&n, 0, &budget)
	if err != nil {
		return nil, err
	}
	return json.Marshal(v)
}

func nodeValue(n *yaml.Node, depth int, budget *int) (any, error) {
	if depth > 64 {
		return nil, errors.New("YAML nested too deeply")
	}
	if *budget--; *budget < 0 {
		return nil, errors.New("YAML document too large once its aliases are expanded")
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, errors.New("empty YAML document")
		}
		return nodeValue(n.Content[0], depth+1, budget)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			v, err := nodeValue(n.Content[i+1], depth+1, budget)
			if err != nil {
				return nil, err
			}
			m[n.Content[i].Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c, depth+1, budget)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, errors.New("dangling YAML alias")
		}
		return nodeValue(n.Alias, depth+1, budget)
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!bool":
			return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("unexpected YAML node kind %d", n.Kind)
}

// SourceName is the Warden source name for an OSV ecosystem ("Go" -> "osv-go",
// "AlmaLinux:9" -> "osv-almalinux", "Rocky Linux:9" -> "osv-rocky").
func SourceName(ecosystem string) string {
	ns := Namespace(ecosystem)
	base, _, _ := strings.Cut(ns, ":")
	return "osv-" + strings.ToLower(strings.ReplaceAll(base, " ", "-"))
}

var releaseRe = regexp.MustCompile(`\d+(\.\d+)*`)

// Namespace maps an OSV ecosystem to Warden's namespace: distributions to
// "<id>:<release>" as derived from os-release (AlmaLinux:9 -> almalinux:9,
// Alpine:v3.19 -> alpine:3.19, Debian:12 -> debian:12, Ubuntu:24.04:LTS ->
// ubuntu:24.04, Rocky Linux:9 -> rocky:9); language ecosystems keep their OSV
// name ("Go", "npm", "PyPI", "crates.io", ...) without any ":suffix".
func Namespace(ecosystem string) string {
	eco, rest, hasRest := strings.Cut(strings.TrimSpace(ecosystem), ":")
	distro := map[string]string{
		"AlmaLinux": "almalinux", "Alpine": "alpine", "Debian": "debian", "Ubuntu": "ubuntu",
		"Rocky Linux": "rocky", "Red Hat": "rhel", "Mageia": "mageia", "Photon OS": "photon",
		"openEuler": "openeuler", "openSUSE": "opensuse", "SUSE": "sles", "Azure Linux": "azurelinux",
		"Wolfi": "wolfi", "Chainguard": "chainguard", "MinimOS": "minimos", "Echo": "echo",
	}
	id, isDistro := distro[eco]
	if !isDistro {
		return eco
	}
	switch id {
	case "wolfi", "chainguard", "minimos", "echo":
		return id + ":rolling"
	}
	if !hasRest {
		return id
	}
	switch id {
	case "alpine":
		return id + ":" + strings.TrimPrefix(rest, "v")
	case "ubuntu":
		// "24.04:LTS", "Pro:18.04:LTS", "22.04:FIPS" ...
		if m := releaseRe.FindString(rest); m != "" {
			return id + ":" + m
		}
	case "rhel":
		// "enterprise_linux:9::appstream" and similar
		if m := regexp.MustCompile(`(?:^|:)(\d+)(?:\D|$)`).FindStringSubmatch(rest); m != nil {
			return id + ":" + m[1]
		}
	case "opensuse":
		// "Leap 15.5", "Tumbleweed"
		if strings.HasPrefix(rest, "Tumbleweed") {
			return "opensuse-tumbleweed:rolling"
		}
		if m := releaseRe.FindString(rest); m != "" {
			return "opensuse-leap:" + m
		}
	case "sles":
		if m := regexp.MustCompile(`(\d+)(?: SP(\d+))?`).FindStringSubmatch(rest); m != nil {
			if m[2] != "" {
				return id + ":" + m[1] + "." + m[2]
			}
			return id + ":" + m[1]
		}
	}
	return id + ":" + rest
}

type dbSpecific struct {
	Severity string `json:"severity"`
}

type goSpecific struct {
	Imports []vulndb.GoImport `json:"imports"`
}

func (r *Reader) batch(eco string) *vulndb.Batch {
	return r.batches.Get(SourceName(eco))
}

func (r *Reader) add(file string, rec *Record) error {
	if rec.ID == "" {
		return errors.New("record without an id")
	}
	if len(rec.Affected) == 0 {
		// A record about nothing installable (e.g. a withdrawn one): count it.
		b := r.batch(idEcosystem(rec.ID))
		b.Records++
		if rec.Withdrawn != "" {
			b.Withdrawn++
		}
		return nil
	}
	// Validate everything before counting, so a skipped record counts once.
	ranges := make([][]vulndb.Range, len(rec.Affected))
	imports := make([][]vulndb.GoImport, len(rec.Affected))
	for i, af := range rec.Affected {
		if af.Package.Ecosystem == "" || af.Package.Name == "" {
			return fmt.Errorf("affected[%d] has no package ecosystem or name", i)
		}
		rs, err := convertRanges(af.Ranges)
		if err != nil {
			return fmt.Errorf("affected[%d] %s: %w", i, af.Package.Name, err)
		}
		ranges[i] = rs
		if len(af.EcosystemSpecific) > 0 && Namespace(af.Package.Ecosystem) == "Go" {
			var gs goSpecific
			if err := json.Unmarshal(af.EcosystemSpecific, &gs); err != nil {
				return fmt.Errorf("affected[%d] %s: ecosystem_specific: %w", i, af.Package.Name, err)
			}
			imports[i] = gs.Imports
		}
	}
	modified, published := feed.ParseTime(rec.Modified), feed.ParseTime(rec.Published)
	// One record counts once per ecosystem it touches.
	seen := map[string]bool{}
	for _, af := range rec.Affected {
		b := r.batch(af.Package.Ecosystem)
		if seen[b.Source] {
			continue
		}
		seen[b.Source] = true
		b.Records++
		if rec.Withdrawn != "" {
			b.Withdrawn++
		}
		for _, t := range []time.Time{modified, published} {
			if t.After(b.Newest) && t.Before(r.now.Add(48*time.Hour)) {
				b.Newest = t
			}
		}
	}
	if rec.Withdrawn != "" {
		return nil
	}

	cvssList, ownSev := recordSeverity(rec.Severity, rec.ID)
	var dbs dbSpecific
	if len(rec.DatabaseSpecific) > 0 {
		_ = json.Unmarshal(rec.DatabaseSpecific, &dbs) // optional and free-form
	}
	var urls []string
	for _, ref := range rec.References {
		if ref.URL != "" {
			urls = append(urls, ref.URL)
		}
	}
	aliases := append(append([]string(nil), rec.Aliases...), rec.Upstream...)
	title := rec.Summary

	type key struct{ ns, pkg string }
	out := map[key]*vulndb.Advisory{}
	var order []key
	for i, af := range rec.Affected {
		ns := Namespace(af.Package.Ecosystem)
		name := vulndb.NormalizeName(ns, af.Package.Name)
		k := key{ns, name}
		a := out[k]
		if a == nil {
			a = &vulndb.Advisory{
				ID: rec.ID, Aliases: aliases, Namespace: ns, Package: name,
				Title: title, Description: rec.Details, URLs: urls,
				Published: published, Modified: modified, Source: SourceName(af.Package.Ecosystem),
				CVSS: cvssList,
			}
			out[k] = a
			order = append(order, k)
		}
		a.Ranges = append(a.Ranges, ranges[i]...)
		a.Versions = append(a.Versions, af.Versions...)
		a.Imports = append(a.Imports, imports[i]...)
		// Severity: the distribution's own for OS namespaces, else the advisory's own.
		sev, sevSrc := "", ""
		pkgCVSS, pkgSev := recordSeverity(af.Severity, rec.ID)
		a.CVSS = appendCVSS(a.CVSS, pkgCVSS)
		var adbs dbSpecific
		if len(af.DatabaseSpecific) > 0 {
			_ = json.Unmarshal(af.DatabaseSpecific, &adbs)
		}
		switch {
		case strings.Contains(ns, ":") && distroSeverity(rec, af) != "":
			sev, sevSrc = distroSeverity(rec, af), a.Source
		case dbs.Severity != "" && vulndb.NormalizeSeverity(dbs.Severity) != "UNKNOWN":
			sev, sevSrc = vulndb.NormalizeSeverity(dbs.Severity), ownSource(rec.ID, a.Source)
		case adbs.Severity != "" && vulndb.NormalizeSeverity(adbs.Severity) != "UNKNOWN":
			sev, sevSrc = vulndb.NormalizeSeverity(adbs.Severity), ownSource(rec.ID, a.Source)
		case pkgSev != "":
			sev, sevSrc = pkgSev, ownSource(rec.ID, a.Source)
		case ownSev != "":
			sev, sevSrc = ownSev, ownSource(rec.ID, a.Source)
		}
		if a.Severity == "" && sev != "" {
			a.Severity, a.SeveritySource = sev, sevSrc
		}
	}
	for _, k := range order {
		a := out[k]
		var fixed []string
		for _, rg := range a.Ranges {
			if rg.Fixed != "" {
				fixed = append(fixed, rg.Fixed)
			}
		}
		if len(fixed) > 0 {
			a.Status = vulndb.StatusFixed
			a.FixedVersion = strings.Join(fixed, ", ")
		} else {
			a.Status = vulndb.StatusUnfixed
		}
		if a.Severity == "" {
			a.Severity = "UNKNOWN"
		}
		b := r.batches[a.Source]
		b.Advisories = append(b.Advisories, *a)
	}
	return nil
}

func ownSource(id, src string) string {
	if strings.HasPrefix(id, "GHSA-") {
		return "ghsa"
	}
	return src
}

func idEcosystem(id string) string {
	prefix, _, _ := strings.Cut(id, "-")
	switch prefix {
	case "GO":
		return "Go"
	case "PYSEC":
		return "PyPI"
	case "RUSTSEC":
		return "crates.io"
	case "ALSA", "ALBA", "ALEA":
		return "AlmaLinux"
	case "RLSA", "RXSA":
		return "Rocky Linux"
	}
	return prefix
}

var redHatWord = regexp.MustCompile(`^(Critical|Important|Moderate|Low):`)

// distroSeverity is the distribution's own rating: the Ubuntu severity
// entry, the Red Hat style "Important: ..." summary prefix (AlmaLinux,
// Rocky), or a database_specific severity on a distro record.
func distroSeverity(rec *Record, af Affected) string {
	for _, s := range append(append([]Severity(nil), af.Severity...), rec.Severity...) {
		if strings.EqualFold(s.Type, "Ubuntu") {
			if v := vulndb.NormalizeSeverity(s.Score); v != "UNKNOWN" {
				return v
			}
		}
	}
	if m := redHatWord.FindStringSubmatch(rec.Summary); m != nil {
		return vulndb.NormalizeSeverity(m[1])
	}
	var dbs dbSpecific
	if len(af.DatabaseSpecific) > 0 && json.Unmarshal(af.DatabaseSpecific, &dbs) == nil && dbs.Severity != "" {
		if v := vulndb.NormalizeSeverity(dbs.Severity); v != "UNKNOWN" {
			return v
		}
	}
	return ""
}

// recordSeverity scores the CVSS vectors; the severity is from the best
// scored vector (v3 over v2).
func recordSeverity(list []Severity, id string) ([]vulndb.CVSS, string) {
	src := "osv"
	if strings.HasPrefix(id, "GHSA-") {
		src = "ghsa"
	}
	var out []vulndb.CVSS
	best, bestRank := "", 0
	for _, s := range list {
		t := strings.ToUpper(s.Type)
		if !strings.HasPrefix(t, "CVSS_") {
			continue
		}
		ver, score, err := cvss.Score(s.Score)
		c := vulndb.CVSS{Source: src, Version: ver, Vector: s.Score}
		if err == nil {
			c.Score = score
		}
		out = append(out, c)
		if err != nil {
			continue
		}
		rank := map[string]int{"3.1": 4, "3.0": 3, "4.0": 2, "2.0": 1}[ver]
		if rank > bestRank {
			bestRank = rank
			if ver == "2.0" {
				best = vulndb.SeverityFromV2Score(score)
			} else {
				best = vulndb.SeverityFromScore(score)
			}
		}
	}
	return out, best
}

func appendCVSS(to, add []vulndb.CVSS) []vulndb.CVSS {
next:
	for _, c := range add {
		for _, x := range to {
			if x.Vector == c.Vector {
				continue next
			}
		}
		to = append(to, c)
	}
	return to
}

// convertRanges turns OSV event lists into (introduced, fixed|last_affected)
// pairs. GIT ranges are skipped (commits cannot be compared to versions).
func convertRanges(in []RangeJSON) ([]vulndb.Range, error) {
	var out []vulndb.Range
	for _, rg := range in {
		typ := strings.ToUpper(rg.Type)
		if typ == "GIT" {
			continue
		}
		if typ != "ECOSYSTEM" && typ != "SEMVER" {
			return nil, fmt.Errorf("unknown range type %q", rg.Type)
		}
		if len(rg.Events) == 0 {
			return nil, fmt.Errorf("%s range without events", typ)
		}
		var cur *vulndb.Range
		for _, ev := range rg.Events {
			switch {
			case ev.Introduced != "":
				if cur != nil {
					out = append(out, *cur)
				}
				cur = &vulndb.Range{Type: typ, Introduced: ev.Introduced}
			case ev.Fixed != "" || ev.LastAffected != "":
				if cur == nil {
					cur = &vulndb.Range{Type: typ, Introduced: "0"}
				}
				cur.Fixed, cur.LastAffected = ev.Fixed, ev.LastAffected
				out = append(out, *cur)
				cur = nil
			case ev.Limit != "":
				// limit narrows git ranges; nothing to do for version ranges
			default:
				return nil, fmt.Errorf("%s range has an empty event", typ)
			}
		}
		if cur != nil {
			out = append(out, *cur)
		}
	}
	return out, nil
}

// Batches returns what was read, one batch per source, sorted by source.
// Malformed records are counted on the largest batch (they have no trusted
// ecosystem).
func (r *Reader) Batches() []*vulndb.Batch {
	out := r.batches.Sorted()
	if r.skipped > 0 {
		if len(out) == 0 {
			out = append(out, &vulndb.Batch{Source: "osv"})
		}
		big := out[0]
		for _, b := range out {
			if b.Records > big.Records {
				big = b
			}
		}
		big.Skipped += r.skipped
		big.Records += r.skipped
	}
	return out
}
