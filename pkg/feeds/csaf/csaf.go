// Package csaf reads Red Hat's CSAF VEX files (one per CVE,
// https://security.access.redhat.com/data/csaf/v2/vex/YYYY/cve-YYYY-NNNN.json)
// and Red Hat's repository-to-cpe.json.
//
// A VEX file names product streams in its product tree (product_name
// entries with a CPE: "AppStream-9.3.0.Z.MAIN" is
// cpe:/a:redhat:enterprise_linux:9::appstream, "red_hat_enterprise_linux_9"
// is cpe:/o:redhat:enterprise_linux:9) and, in the vulnerability's
// product_status, product ids "<stream>:<component>" where the component is
//
//	openssl                                   a source package (unfixed, not affected)
//	nodejs:16/nodejs                          a source package of a module stream
//	pam-0:1.5.1-21.el9_5.x86_64               a fixed binary (or .src) rpm, NEVRA
//	nodejs:18:8090020240301110609:a75119d5:nodejs-1:18.19.1-1.module+el8.9.0+21387+21356dec.x86_64
//	                                          a fixed rpm of a module stream (name:stream:version:context:NEVRA)
//
// Each (namespace, package, module stream, state, fixed EVR) becomes one
// advisory row in "rhel:N", with the CPEs of the streams it came from:
// fixed → fixed in the EVR; known_affected → unfixed, or wont-fix when the
// remediation is no_fix_planned "Will not fix", end-of-life when it is "Out
// of support scope"; known_not_affected → not-affected; under_investigation
// → unfixed (Red Hat's guidelines report it). Red Hat's impact rating of the
// product/component pair is the severity, else the document's aggregate one.
package csaf

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Source is the source name of Red Hat CSAF VEX data.
const Source = "redhat-csaf"

// Document is the part of a CSAF VEX document Warden reads.
type Document struct {
	Document struct {
		Category          string `json:"category"`
		CSAFVersion       string `json:"csaf_version"`
		Title             string `json:"title"`
		AggregateSeverity struct {
			Text string `json:"text"`
		} `json:"aggregate_severity"`
		Tracking struct {
			ID                 string `json:"id"`
			CurrentReleaseDate string `json:"current_release_date"`
			InitialReleaseDate string `json:"initial_release_date"`
		} `json:"tracking"`
	} `json:"document"`
	ProductTree struct {
		Branches []Branch `json:"branches"`
	} `json:"product_tree"`
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
}

// Branch is a product tree node.
type Branch struct {
	Category string   `json:"category"`
	Name     string   `json:"name"`
	Product  *Product `json:"product"`
	Branches []Branch `json:"branches"`
}

// Product is a product tree leaf.
type Product struct {
	Name       string `json:"name"`
	ProductID  string `json:"product_id"`
	Identifier struct {
		CPE  string `json:"cpe"`
		PURL string `json:"purl"`
	} `json:"product_identification_helper"`
}

// Vulnerability is one entry of vulnerabilities[].
type Vulnerability struct {
	CVE   string `json:"cve"`
	Title string `json:"title"`
	Notes []struct {
		Category string `json:"category"`
		Text     string `json:"text"`
	} `json:"notes"`
	ProductStatus map[string][]string `json:"product_status"`
	Remediations  []struct {
		Category   string   `json:"category"`
		Details    string   `json:"details"`
		Date       string   `json:"date"`
		URL        string   `json:"url"`
		ProductIDs []string `json:"product_ids"`
	} `json:"remediations"`
	Scores []struct {
		CVSSv3 *struct {
			Version      string  `json:"version"`
			VectorString string  `json:"vectorString"`
			BaseScore    float64 `json:"baseScore"`
		} `json:"cvss_v3"`
		Products []string `json:"products"`
	} `json:"scores"`
	Threats []struct {
		Category   string   `json:"category"`
		Details    string   `json:"details"`
		ProductIDs []string `json:"product_ids"`
	} `json:"threats"`
	References []struct {
		Category string `json:"category"`
		URL      string `json:"url"`
	} `json:"references"`
	ReleaseDate string `json:"release_date"`
}

// Reader accumulates VEX files and repository-to-cpe.json.
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

// AddBytes reads a VEX document or repository-to-cpe.json. A VEX file whose
// JSON does not parse is an error; a document that parses but cannot be used
// (no CVE, a product id it cannot place) is skipped with a warning naming the
// file and the record.
func (r *Reader) AddBytes(file string, data []byte) error {
	var probe struct {
		Document *json.RawMessage `json:"document"`
		Data     map[string]struct {
			CPEs []string `json:"cpes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return fmt.Errorf("%s: not CSAF JSON: %w", file, err)
	}
	if probe.Document == nil {
		if probe.Data == nil {
			return fmt.Errorf("%s: neither a CSAF document nor repository-to-cpe.json", file)
		}
		if r.batch.RepoCPEs == nil {
			r.batch.RepoCPEs = map[string][]string{}
		}
		// Only the RHEL product streams: the rows name no other product, and
		// most of the file's repositories are layered products (2.4 MB of JSON).
		for repo, v := range probe.Data {
			var keep []string
			for _, c := range v.CPEs {
				if rhelMajor(c) != "" {
					keep = append(keep, c)
				}
			}
			if len(keep) > 0 {
				r.batch.RepoCPEs[repo] = keep
			}
		}
		return nil
	}
	var doc Document
	if err := json.Unmarshal(data, &doc); err != nil {
		r.batch.Records++
		r.batch.Skipped++
		r.Warn.Skip(file, "document", err)
		return nil
	}
	r.batch.Records++
	advs, warns, err := Convert(&doc)
	rec := doc.Document.Tracking.ID
	if rec == "" {
		rec = "document"
	}
	for _, w := range warns {
		r.Warn.Skip(file, rec, errors.New(w))
	}
	if err != nil {
		r.batch.Skipped++
		r.Warn.Skip(file, rec, err)
		return nil
	}
	r.batch.Advisories = append(r.batch.Advisories, advs...)
	if t := feed.ParseTime(doc.Document.Tracking.CurrentReleaseDate); t.After(r.batch.Newest) && t.Before(time.Now().Add(48*time.Hour)) {
		r.batch.Newest = t
	}
	return nil
}

// Batches returns the batch.
func (r *Reader) Batches() []*vulndb.Batch {
	if r.batch.Records == 0 && len(r.batch.RepoCPEs) == 0 {
		return nil
	}
	return []*vulndb.Batch{r.batch}
}

// component is a product id's part after the stream.
type component struct {
	name   string // rpm name ("nodejs", "npm"; a .src rpm's or an unfixed entry's source name)
	evr    string // "1:18.19.1-1.module+el8.9.0+21387+21356dec" for a fixed rpm, else ""
	module string // "nodejs:18"
	isMod  bool   // the entry is the module itself ("nodejs:18:8090020240301110609:a75119d5")
}

// parseComponent reads the component forms listed in the package comment.
func parseComponent(s string) (component, error) {
	var c component
	// name:stream:version:context[:NEVRA]: the version is all digits.
	if parts := strings.SplitN(s, ":", 5); len(parts) >= 4 && isDigits(parts[2]) && parts[0] != "" && parts[1] != "" {
		c.module = parts[0] + ":" + parts[1]
		if len(parts) == 4 {
			c.isMod = true
			return c, nil
		}
		s = parts[4]
		if !strings.Contains(s, ":") {
			return c, fmt.Errorf("module rpm %q is not name-epoch:version-release.arch", s)
		}
	} else if m, name, ok := strings.Cut(s, "/"); ok {
		// "nodejs:16/nodejs"
		mn, ms, _ := strings.Cut(m, ":")
		if mn == "" || ms == "" || name == "" {
			return c, fmt.Errorf("component %q is not module:stream/package", s)
		}
		c.module, c.name = m, name
		return c, nil
	}
	if !strings.Contains(s, ":") {
		// A package name (unfixed / not affected); "gnupg2.src" names the source.
		c.name = strings.TrimSuffix(s, ".src")
		return c, nil
	}
	// NEVRA: name-epoch:version-release.arch
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 {
		return c, fmt.Errorf("rpm %q has no architecture", s)
	}
	nevr := s[:dot]
	rel := strings.LastIndexByte(nevr, '-')
	if rel <= 0 {
		return c, fmt.Errorf("rpm %q has no release", s)
	}
	ver := strings.LastIndexByte(nevr[:rel], '-')
	if ver <= 0 {
		return c, fmt.Errorf("rpm %q has no version", s)
	}
	c.name = nevr[:ver]
	ev := nevr[ver+1:]
	epoch, v, ok := strings.Cut(ev, ":")
	if !ok || !isDigits(epoch) || v == "" || nevr[rel+1:] == "" {
		return c, fmt.Errorf("rpm %q is not name-epoch:version-release.arch", s)
	}
	c.evr = nevr[ver+1:]
	if epoch == "0" {
		c.evr = nevr[ver+1+len("0:"):]
	}
	return c, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// rhelMajor returns the RHEL major release of a Red Hat product CPE
// ("cpe:/a:redhat:enterprise_linux:9::appstream" → "9",
// "cpe:/a:redhat:rhel_eus:8.8::appstream" → "8"), "" for other products.
func rhelMajor(cpe string) string {
	parts := strings.Split(cpe, ":")
	if len(parts) < 5 || parts[0] != "cpe" || parts[2] != "redhat" {
		return ""
	}
	switch parts[3] {
	case "enterprise_linux", "enterprise_linux_eus", "rhel_eus", "rhel_aus", "rhel_e4s", "rhel_tus", "rhel_els", "rhel_eus_long_life":
	default:
		return ""
	}
	major, _, _ := strings.Cut(parts[4], ".")
	if !isDigits(major) {
		return ""
	}
	return major
}

type rowKey struct{ ns, pkg, module, status, evr string }

// Convert turns one VEX document into advisory rows; warns lists product ids
// it could not read (the rest of the document is still used).
func Convert(doc *Document) (out []vulndb.Advisory, warns []string, err error) {
	if doc.Document.Category != "csaf_vex" {
		return nil, nil, fmt.Errorf("category %q is not csaf_vex", doc.Document.Category)
	}
	streams := map[string]string{} // product id -> CPE
	var walk func(bs []Branch)
	walk = func(bs []Branch) {
		for i := range bs {
			b := &bs[i]
			if b.Product != nil && b.Product.Identifier.CPE != "" {
				streams[b.Product.ProductID] = b.Product.Identifier.CPE
			}
			walk(b.Branches)
		}
	}
	walk(doc.ProductTree.Branches)
	if len(doc.Vulnerabilities) == 0 {
		return nil, nil, errors.New("no vulnerabilities")
	}
	for vi := range doc.Vulnerabilities {
		v := &doc.Vulnerabilities[vi]
		id := strings.TrimSpace(v.CVE)
		if id == "" {
			id = doc.Document.Tracking.ID
		}
		if !strings.HasPrefix(id, "CVE-") {
			return nil, warns, fmt.Errorf("vulnerability %d has no CVE id", vi)
		}
		impact := map[string]string{}
		for _, t := range v.Threats {
			if t.Category == "impact" {
				for _, p := range t.ProductIDs {
					impact[p] = t.Details
				}
			}
		}
		type remedy struct{ category, details, url, date string }
		remedies := map[string]remedy{}
		for _, rm := range v.Remediations {
			for _, p := range rm.ProductIDs {
				if prev, ok := remedies[p]; ok && prev.category == "vendor_fix" {
					continue // keep the fix over a workaround
				}
				remedies[p] = remedy{rm.Category, rm.Details, rm.URL, rm.Date}
			}
		}
		var cvss []vulndb.CVSS
		for _, s := range v.Scores {
			if s.CVSSv3 != nil && s.CVSSv3.VectorString != "" {
				cvss = append(cvss, vulndb.CVSS{Source: "redhat", Version: s.CVSSv3.Version, Vector: s.CVSSv3.VectorString, Score: s.CVSSv3.BaseScore})
				break
			}
		}
		var desc string
		for _, n := range v.Notes {
			if n.Category == "description" {
				desc = n.Text
			}
		}
		urls := []string{}
		for _, ref := range v.References {
			if ref.Category == "self" {
				urls = append(urls, ref.URL)
			}
		}
		title := v.Title
		if title == "" {
			title = doc.Document.Title
		}
		published := feed.ParseTime(v.ReleaseDate)
		modified := feed.ParseTime(doc.Document.Tracking.CurrentReleaseDate)

		rows := map[rowKey]*vulndb.Advisory{}
		var order []rowKey
		states := []struct{ key, status string }{
			{"fixed", vulndb.StatusFixed}, {"known_affected", vulndb.StatusUnfixed}, {"known_not_affected", vulndb.StatusNotAffected},
			// Red Hat's guidance: under_investigation is reported (as affected, no fix).
			{"under_investigation", vulndb.StatusUnfixed},
		}
		for _, st := range states {
			for _, pid := range v.ProductStatus[st.key] {
				stream, comp, ok := splitProductID(pid, streams)
				if !ok {
					continue // not a product of the tree with a CPE: another vendor's, or a container image
				}
				cpe := streams[stream]
				major := rhelMajor(cpe)
				if major == "" {
					continue // not RHEL (OpenShift, JBoss, Software Collections, ...)
				}
				c, err := parseComponent(comp)
				if err != nil {
					warns = append(warns, fmt.Sprintf("product %q: %v", pid, err))
					continue
				}
				if c.isMod || c.name == "" {
					continue
				}
				status := st.status
				rm := remedies[pid]
				a := vulndb.Advisory{}
				switch status {
				case vulndb.StatusFixed:
					if c.evr == "" {
						warns = append(warns, fmt.Sprintf("product %q: fixed, but %q names no rpm version", pid, comp))
						continue
					}
					a.FixedVersion = c.evr
					a.Ranges = []vulndb.Range{{Type: "ECOSYSTEM", Fixed: c.evr}}
					if rm.category == "vendor_fix" {
						a.FixedAt = feed.ParseTime(rm.date)
						if rm.url != "" {
							a.URLs = []string{rm.url}
						}
					}
				case vulndb.StatusUnfixed:
					if rm.category == "no_fix_planned" {
						switch strings.ToLower(strings.TrimSpace(rm.details)) {
						case "out of support scope":
							status = vulndb.StatusEndOfLife
						default: // "Will not fix"
							status = vulndb.StatusWontFix
						}
					}
				}
				k := rowKey{"rhel:" + major, c.name, c.module, status, c.evr}
				if prev := rows[k]; prev != nil {
					if !contains(prev.CPEs, cpe) {
						prev.CPEs = append(prev.CPEs, cpe)
					}
					for _, u := range a.URLs {
						if !contains(prev.URLs, u) {
							prev.URLs = append(prev.URLs, u)
						}
					}
					continue
				}
				a.ID, a.Namespace, a.Package, a.Source = id, k.ns, c.name, Source
				a.Status, a.Module, a.CPEs = status, c.module, []string{cpe}
				a.Title, a.Description, a.CVSS = title, desc, cvss
				a.Published, a.Modified = published, modified
				if sev := vulndb.NormalizeSeverity(impact[pid]); sev != "UNKNOWN" {
					a.Severity, a.SeveritySource = sev, Source
				} else if sev := vulndb.NormalizeSeverity(doc.Document.AggregateSeverity.Text); sev != "UNKNOWN" {
					a.Severity, a.SeveritySource = sev, Source
				}
				rows[k] = &a
				order = append(order, k)
			}
		}
		// The body (URLs) is shared by all rows of the advisory in a namespace: give each the union.
		nsURLs := map[string][]string{}
		for _, k := range order {
			for _, u := range append(append([]string{}, urls...), rows[k].URLs...) {
				if !contains(nsURLs[k.ns], u) {
					nsURLs[k.ns] = append(nsURLs[k.ns], u)
				}
			}
		}
		for _, k := range order {
			a := rows[k]
			sort.Strings(a.CPEs)
			a.URLs = nsURLs[k.ns]
			out = append(out, *a)
		}
	}
	return out, warns, nil
}

// splitProductID splits "<stream>:<component>" at the longest stream prefix
// the product tree names with a CPE.
func splitProductID(pid string, streams map[string]string) (stream, comp string, ok bool) {
	for i := len(pid) - 1; i > 0; i-- {
		if pid[i] != ':' {
			continue
		}
		if _, known := streams[pid[:i]]; known {
			return pid[:i], pid[i+1:], true
		}
	}
	return "", "", false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
