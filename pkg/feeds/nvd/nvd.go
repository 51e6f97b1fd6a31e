// Package nvd reads CVE records in the NVD CVE API 2.0 JSON format
// (https://nvd.nist.gov/developers/vulnerabilities): an API response
// ({"vulnerabilities": [{"cve": {...}}]}) or a single CVE object. It keeps
// the CVSS base scores per CVE, which the database uses for severity when
// the distribution gives none, and a short title (the first sentence of the
// English description, at most MaxTitle characters) for advisories that have
// none of their own (Alpine's secdb names only CVE ids).
package nvd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Source is the source name of NVD data.
const Source = "nvd"

// CVE is the part of an NVD CVE record Warden reads.
type CVE struct {
	ID           string `json:"id"`
	Published    string `json:"published"`
	LastModified string `json:"lastModified"`
	VulnStatus   string `json:"vulnStatus"`
	Descriptions []struct {
		Lang  string `json:"lang"`
		Value string `json:"value"`
	} `json:"descriptions"`
	Metrics struct {
		V40 []Metric `json:"cvssMetricV40"`
		V31 []Metric `json:"cvssMetricV31"`
		V30 []Metric `json:"cvssMetricV30"`
		V2  []Metric `json:"cvssMetricV2"`
	} `json:"metrics"`
}

// Metric is one cvssMetricVxx entry.
type Metric struct {
	Source   string `json:"source"`
	Type     string `json:"type"` // Primary (NVD) or Secondary (a CNA)
	CVSSData struct {
		Version      string  `json:"version"`
		VectorString string  `json:"vectorString"`
		BaseScore    float64 `json:"baseScore"`
	} `json:"cvssData"`
}

type response struct {
	Vulnerabilities []struct {
		CVE json.RawMessage `json:"cve"`
	} `json:"vulnerabilities"`
}

// Reader accumulates NVD files.
type Reader struct {
	Warn  *feed.Warnings
	batch *vulndb.Batch
}

// NewReader returns an empty Reader.
func NewReader(w *feed.Warnings) *Reader {
	if w == nil {
		w = &feed.Warnings{}
	}
	return &Reader{Warn: w, batch: &vulndb.Batch{Source: Source, Scores: map[string][]vulndb.CVSS{}, Titles: map[string]string{}}}
}

// Add reads one file.
func (r *Reader) Add(e *feed.Entry) error {
	data, err := e.ReadAll()
	if err != nil {
		return err
	}
	return r.AddBytes(e.String(), data)
}

// AddBytes reads an API response or a single CVE record.
func (r *Reader) AddBytes(file string, data []byte) error {
	if !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")) {
		return fmt.Errorf("%s: not NVD JSON", file)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return fmt.Errorf("%s: decoding NVD JSON: %w", file, err)
	}
	var raws []json.RawMessage
	if _, ok := probe["vulnerabilities"]; ok {
		var resp response
		if err := json.Unmarshal(data, &resp); err != nil {
			return fmt.Errorf("%s: decoding NVD API response: %w", file, err)
		}
		for _, v := range resp.Vulnerabilities {
			raws = append(raws, v.CVE)
		}
	} else {
		raws = []json.RawMessage{data}
	}
	for i, raw := range raws {
		r.batch.Records++
		var c CVE
		if err := json.Unmarshal(raw, &c); err != nil {
			r.batch.Skipped++
			r.Warn.Skip(file, fmt.Sprintf("vulnerabilities[%d]", i), err)
			continue
		}
		if !strings.HasPrefix(c.ID, "CVE-") {
			r.batch.Skipped++
			r.Warn.Skip(file, fmt.Sprintf("vulnerabilities[%d]", i), fmt.Errorf("id %q is not a CVE id", c.ID))
			continue
		}
		if c.VulnStatus == "Rejected" {
			continue
		}
		scores, err := Scores(&c)
		if err != nil {
			r.batch.Skipped++
			r.Warn.Skip(file, c.ID, err)
			continue
		}
		if len(scores) > 0 {
			r.batch.Scores[c.ID] = scores
		}
		if t := Title(&c); t != "" {
			r.batch.Titles[c.ID] = t
		}
		if t := feed.ParseTime(c.LastModified); t.After(r.batch.Newest) && t.Before(time.Now().Add(48*time.Hour)) {
			r.batch.Newest = t
		}
	}
	return nil
}

// Scores returns a record's base scores, one per CVSS version: NVD's own
// (Primary) metric when there is one, else the first CNA (Secondary) one.
func Scores(c *CVE) ([]vulndb.CVSS, error) {
	var out []vulndb.CVSS
	for _, group := range [][]Metric{c.Metrics.V31, c.Metrics.V30, c.Metrics.V40, c.Metrics.V2} {
		if len(group) == 0 {
			continue
		}
		m := group[0]
		for _, x := range group {
			if strings.EqualFold(x.Type, "Primary") {
				m = x
				break
			}
		}
		if m.CVSSData.VectorString == "" || m.CVSSData.BaseScore < 0 || m.CVSSData.BaseScore > 10 {
			return nil, errors.New("CVSS metric without a vector or with a score outside 0-10")
		}
		out = append(out, vulndb.CVSS{Source: Source, Version: m.CVSSData.Version, Vector: m.CVSSData.VectorString, Score: m.CVSSData.BaseScore})
	}
	return out, nil
}

// MaxTitle bounds a title (in characters): NVD holds over 300,000 CVEs, and
// the database keeps one title for each (docs/vulndb.md, "NVD titles").
const MaxTitle = 120

// Title is the first sentence of the record's English description (its
// first paragraph when no sentence ends sooner), without a leading "Issue
// summary:" label, its lines joined, cut at a word boundary to at most
// MaxTitle characters with "…". A record without an English description has none.
func Title(c *CVE) string {
	desc := ""
	for _, d := range c.Descriptions {
		if strings.EqualFold(d.Lang, "en") && strings.TrimSpace(d.Value) != "" {
			desc = d.Value
			break
		}
	}
	return Shorten(desc, MaxTitle)
}

// Shorten makes a one-line title of a description: its first sentence,
// at most max characters.
func Shorten(desc string, max int) string {
	desc = strings.TrimSpace(desc)
	if p, _, ok := strings.Cut(desc, "\n\n"); ok {
		desc = p // the first paragraph
	}
	desc = strings.Join(strings.Fields(desc), " ")
	for _, label := range []string{"Issue summary:", "Summary:"} {
		if len(desc) > len(label) && strings.EqualFold(desc[:len(label)], label) {
			desc = strings.TrimSpace(desc[len(label):])
		}
	}
	desc = firstSentence(desc)
	if utf8.RuneCountInString(desc) <= max {
		return desc
	}
	r := []rune(desc)[:max]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > max/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,;:-") + "…"
}

// firstSentence ends s at the first ". " (or "! ", "? ") that is followed
// by an upper-case letter or a digit and does not end a common abbreviation.
func firstSentence(s string) string {
	for i := 0; i+2 < len(s); i++ {
		if (s[i] != '.' && s[i] != '!' && s[i] != '?') || s[i+1] != ' ' {
			continue
		}
		next, _ := utf8.DecodeRuneInString(s[i+2:])
		if !unicode.IsUpper(next) && !unicode.IsDigit(next) {
			continue
		}
		word := strings.TrimLeft(s[strings.LastIndexByte(s[:i], ' ')+1:i], "([\"'")
		switch strings.ToLower(word) {
		case "e.g", "i.e", "etc", "vs", "al", "approx", "no", "ver", "v", "mr", "dr", "inc", "ltd", "co", "corp":
			continue
		}
		if len(word) == 1 && unicode.IsUpper(rune(word[0])) {
			continue // an initial
		}
		return s[:i+1]
	}
	return s
}

// Batches returns the NVD batch (scores and titles per CVE).
func (r *Reader) Batches() []*vulndb.Batch {
	if r.batch.Records == 0 {
		return nil
	}
	return []*vulndb.Batch{r.batch}
}
