// Package amazon reads Amazon Linux security advisories (ALAS) from the
// updateinfo.xml of the Amazon Linux repositories (repodata/updateinfo.xml.gz
// of the core repository of Amazon Linux 2 and 2023). Each security update
// becomes one advisory per binary package it ships: fixed in that package's
// EVR, in the namespace "amzn:2" or "amzn:2023", with Amazon's severity and
// the CVEs it references as aliases.
package amazon

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Source is the source name of ALAS data.
const Source = "amazon-alas"

// Update is one <update> of updateinfo.xml.
type Update struct {
	Type     string `xml:"type,attr"`
	ID       string `xml:"id"`
	Title    string `xml:"title"`
	Severity string `xml:"severity"`
	Issued   struct {
		Date string `xml:"date,attr"`
	} `xml:"issued"`
	Updated struct {
		Date string `xml:"date,attr"`
	} `xml:"updated"`
	References []struct {
		ID   string `xml:"id,attr"`
		Type string `xml:"type,attr"`
		Href string `xml:"href,attr"`
	} `xml:"references>reference"`
	Collections []struct {
		Short    string `xml:"short,attr"`
		Packages []struct {
			Name    string `xml:"name,attr"`
			Epoch   string `xml:"epoch,attr"`
			Version string `xml:"version,attr"`
			Release string `xml:"release,attr"`
			Arch    string `xml:"arch,attr"`
		} `xml:"package"`
	} `xml:"pkglist>collection"`
}

// namespaces maps a collection's short name to the namespace its release uses.
var namespaces = map[string]string{
	"amazon-linux-2":    "amzn:2",
	"amazon-linux-2022": "amzn:2022",
	"amazon-linux-2023": "amzn:2023",
}

// Reader accumulates updateinfo files.
type Reader struct {
	Warn  *feed.Warnings
	batch *vulndb.Batch
}

// NewReader returns an empty Reader.
func NewReader(w *feed.Warnings) *Reader {
	if w == nil {
		w = &feed.Warnings{}
	}
	return &Reader{Warn: w, batch: &vulndb.Batch{Source: Source}}
}

// Add reads one file.
func (r *Reader) Add(e *feed.Entry) error {
	data, err := e.ReadAll()
	if err != nil {
		return err
	}
	return r.AddBytes(e.String(), data)
}

// AddBytes reads an updateinfo.xml document. A malformed <update> is skipped
// with a warning naming the file and the record; a document that is not
// updateinfo XML is an error.
func (r *Reader) AddBytes(file string, data []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(data))
	seenRoot := false
	for i := 0; ; {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !seenRoot {
				return fmt.Errorf("%s: not updateinfo XML: %w", file, err)
			}
			r.Warn.Skip(file, fmt.Sprintf("after update %d", i), err)
			r.batch.Skipped++
			break
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "updates":
			seenRoot = true
			continue
		case "update":
		default:
			if !seenRoot {
				return fmt.Errorf("%s: not updateinfo XML (root element <%s>)", file, se.Name.Local)
			}
			if err := dec.Skip(); err != nil {
				return fmt.Errorf("%s: %w", file, err)
			}
			continue
		}
		i++
		var u Update
		if err := dec.DecodeElement(&u, &se); err != nil {
			r.batch.Records++
			r.batch.Skipped++
			r.Warn.Skip(file, fmt.Sprintf("update %d", i), err)
			break // the decoder cannot resynchronise after a syntax error
		}
		if u.Type != "" && u.Type != "security" {
			continue // bugfix and enhancement updates are no advisories
		}
		r.batch.Records++
		advs, err := convert(&u)
		if err != nil {
			r.batch.Skipped++
			rec := u.ID
			if rec == "" {
				rec = fmt.Sprintf("update %d", i)
			}
			r.Warn.Skip(file, rec, err)
			continue
		}
		r.batch.Advisories = append(r.batch.Advisories, advs...)
	}
	if !seenRoot {
		return fmt.Errorf("%s: not updateinfo XML (no <updates>)", file)
	}
	return nil
}

// convert makes the advisories of one update.
func convert(u *Update) ([]vulndb.Advisory, error) {
	id := strings.TrimSpace(u.ID)
	if !strings.HasPrefix(id, "ALAS") {
		return nil, fmt.Errorf("id %q is not an ALAS id", id)
	}
	var aliases, urls []string
	for _, ref := range u.References {
		if strings.EqualFold(ref.Type, "cve") && strings.HasPrefix(ref.ID, "CVE-") {
			aliases = append(aliases, ref.ID)
		}
		if ref.Href != "" {
			urls = append(urls, ref.Href)
		}
	}
	sort.Strings(aliases)
	sev := vulndb.NormalizeSeverity(u.Severity)
	published, modified := parseDate(u.Issued.Date), parseDate(u.Updated.Date)
	var out []vulndb.Advisory
	seen := map[string]bool{}
	known := false
	for _, c := range u.Collections {
		ns, ok := namespaces[c.Short]
		if !ok {
			continue // an extras repository (amazon-linux-2--golang1.19, ...): not the core release
		}
		known = true
		for _, p := range c.Packages {
			if p.Name == "" || p.Version == "" || p.Release == "" {
				return nil, fmt.Errorf("package %q without a version or release", p.Name)
			}
			evr := p.Version + "-" + p.Release
			if p.Epoch != "" && p.Epoch != "0" {
				evr = p.Epoch + ":" + evr
			}
			key := ns + "\x00" + p.Name
			if seen[key] {
				continue // one entry per architecture
			}
			seen[key] = true
			a := vulndb.Advisory{
				ID: id, Aliases: aliases, Namespace: ns, Package: p.Name, Source: Source,
				Status: vulndb.StatusFixed, FixedVersion: evr,
				Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Fixed: evr}},
				Title:  strings.TrimSpace(u.Title), URLs: urls,
				Published: published, Modified: modified, FixedAt: published,
			}
			if sev != "UNKNOWN" {
				a.Severity, a.SeveritySource = sev, Source
			}
			out = append(out, a)
		}
	}
	if !known && len(u.Collections) == 0 {
		return nil, errors.New("no package list")
	}
	return out, nil
}

// parseDate reads updateinfo's "2018-02-07 18:49" (UTC).
func parseDate(s string) time.Time {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return feed.ParseTime(s)
}

// Batches returns the ALAS batch.
func (r *Reader) Batches() []*vulndb.Batch {
	if r.batch.Records == 0 {
		return nil
	}
	for _, a := range r.batch.Advisories {
		if a.Modified.After(r.batch.Newest) && a.Modified.Before(time.Now().Add(48*time.Hour)) {
			r.batch.Newest = a.Modified
		}
	}
	return []*vulndb.Batch{r.batch}
}
