// Package debian reads Debian's security data:
//
//   - the security tracker's JSON (https://security-tracker.debian.org/tracker/data/json):
//     source package -> CVE -> releases (codename) -> {status, repositories,
//     fixed_version, urgency, nodsa, nodsa_reason};
//   - the tracker's advisory lists data/DSA/list and data/DLA/list (text);
//   - the debian-security-support lists security-support-ended.debN and
//     security-support-limited (end and limits of security support).
package debian

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Source names.
const (
	SourceTracker = "debian-tracker"
	SourceDSA     = "debian-dsa"
	SourceDLA     = "debian-dla"
	SourceSupport = "debian-security-support"
)

// Releases maps Debian codenames to release numbers (namespace debian:N).
var Releases = map[string]string{
	"buzz": "1.1", "rex": "1.2", "bo": "1.3", "hamm": "2.0", "slink": "2.1", "potato": "2.2",
	"woody": "3.0", "sarge": "3.1", "etch": "4", "lenny": "5", "squeeze": "6", "wheezy": "7",
	"jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11", "bookworm": "12",
	"trixie": "13", "forky": "14", "duke": "15",
	"sid": "unstable",
}

// Namespace is the namespace of a codename ("bookworm" -> "debian:12"); "" if unknown.
func Namespace(codename string) string {
	if n, ok := Releases[strings.ToLower(strings.TrimSpace(codename))]; ok {
		return "debian:" + n
	}
	return ""
}

// Reader accumulates Debian feed files.
type Reader struct {
	Warn    *feed.Warnings
	batches feed.Batches
	support []supportFile
}

type supportFile struct {
	name, release string // release "" = the unsuffixed list
	limited       bool
	body          []byte
	entries       []supportEntry
}

type supportEntry struct {
	pkg, lastVersion, date, details string
}

// NewReader returns an empty Reader.
func NewReader(w *feed.Warnings) *Reader {
	if w == nil {
		w = &feed.Warnings{}
	}
	return &Reader{Warn: w, batches: map[string]*vulndb.Batch{}}
}

func (r *Reader) batch(src string) *vulndb.Batch { return r.batches.Get(src) }

// Add reads one file: tracker JSON, a DSA/DLA list, or a security-support list.
func (r *Reader) Add(e *feed.Entry) error {
	data, err := e.ReadAll()
	if err != nil {
		return err
	}
	return r.AddBytes(e.String(), data)
}

// AddBytes dispatches on the content and name of one file.
func (r *Reader) AddBytes(name string, data []byte) error {
	base := path.Base(strings.ReplaceAll(name, "\\", "/"))
	trim := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(trim) > 0 && trim[0] == '{':
		return r.AddTrackerJSON(name, data)
	case strings.HasPrefix(base, "security-support-"):
		return r.AddSupport(name, data)
	default:
		return r.AddList(name, data)
	}
}

// trackerRelease is one release entry of the tracker JSON.
type trackerRelease struct {
	Status       string            `json:"status"`
	Repositories map[string]string `json:"repositories"`
	FixedVersion string            `json:"fixed_version"`
	Urgency      string            `json:"urgency"`
	NoDSA        string            `json:"nodsa"`
	NoDSAReason  string            `json:"nodsa_reason"`
}

type trackerCVE struct {
	Description string          `json:"description"`
	Scope       string          `json:"scope"`
	DebianBug   json.Number     `json:"debianbug"`
	RawReleases json.RawMessage `json:"releases"`
	Releases    map[string]trackerRelease
}

// decodeCVE decodes one CVE entry; "releases": [] (how the tracker's
// PHP-style JSON writes an empty map) means no releases.
func decodeCVE(raw []byte) (trackerCVE, error) {
	var c trackerCVE
	if err := json.Unmarshal(raw, &c); err != nil {
		return c, err
	}
	rr := bytes.TrimSpace(c.RawReleases)
	if len(rr) == 0 || bytes.Equal(rr, []byte("[]")) || bytes.Equal(rr, []byte("null")) {
		return c, nil
	}
	if err := json.Unmarshal(rr, &c.Releases); err != nil {
		return c, fmt.Errorf("releases: %w", err)
	}
	return c, nil
}

// AddTrackerJSON reads the tracker's JSON. A malformed package or CVE entry
// is skipped with a warning; JSON that does not parse at all is an error.
func (r *Reader) AddTrackerJSON(file string, data []byte) error {
	var doc map[string]map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: decoding Debian tracker JSON: %w", file, err)
	}
	b := r.batch(SourceTracker)
	pkgs := make([]string, 0, len(doc))
	for p := range doc {
		pkgs = append(pkgs, p)
	}
	sort.Strings(pkgs)
	for _, pkg := range pkgs {
		ids := make([]string, 0, len(doc[pkg]))
		for id := range doc[pkg] {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			b.Records++
			c, err := decodeCVE(doc[pkg][id])
			if err != nil {
				b.Skipped++
				r.Warn.Skip(file, pkg+" "+id, err)
				continue
			}
			codes := make([]string, 0, len(c.Releases))
			for code := range c.Releases {
				codes = append(codes, code)
			}
			sort.Strings(codes)
			for _, code := range codes {
				rel := c.Releases[code]
				ns := Namespace(code)
				if ns == "" {
					r.Warn.Skip(file, pkg+" "+id+" "+code, fmt.Errorf("unknown Debian release %q", code))
					continue
				}
				a, err := trackerAdvisory(pkg, id, &c, &rel, ns)
				if err != nil {
					r.Warn.Skip(file, pkg+" "+id+" "+code, err)
					continue
				}
				b.Advisories = append(b.Advisories, a)
			}
		}
	}
	return nil
}

func trackerAdvisory(pkg, id string, c *trackerCVE, rel *trackerRelease, ns string) (vulndb.Advisory, error) {
	a := vulndb.Advisory{
		ID: id, Namespace: ns, Package: pkg, Source: SourceTracker,
		Description: c.Description,
		URLs:        []string{"https://security-tracker.debian.org/tracker/" + id},
	}
	urgency := strings.TrimRight(strings.TrimSpace(rel.Urgency), "*")
	switch rel.Status {
	case "resolved":
		switch rel.FixedVersion {
		case "":
			return a, errors.New(`status "resolved" without fixed_version`)
		case "0":
			a.Status = vulndb.StatusNotAffected
		default:
			a.Status = vulndb.StatusFixed
			a.FixedVersion = rel.FixedVersion
			a.Ranges = []vulndb.Range{{Type: "ECOSYSTEM", Fixed: rel.FixedVersion}}
		}
	case "open", "undetermined":
		a.Status = vulndb.StatusUnfixed
		switch {
		case urgency == "end-of-life":
			a.Status = vulndb.StatusEndOfLife
		case rel.NoDSAReason == "ignored":
			a.Status = vulndb.StatusWontFix
		}
	default:
		return a, fmt.Errorf("unknown status %q", rel.Status)
	}
	if sev := vulndb.NormalizeSeverity(urgency); sev != "UNKNOWN" {
		a.Severity, a.SeveritySource = sev, SourceTracker
	} else {
		a.Severity = "UNKNOWN"
	}
	return a, nil
}

var (
	listHeader = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\[(\d{1,2} \w{3} \d{4})\]\s+((?:DSA|DLA)-[0-9]+(?:-[0-9]+)?)\s+(.*?)\s*$`)
	})
	listCVEs = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^\s+\{(.*)\}\s*$`) })
	listFix  = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^\s+\[(\w+)\]\s+-\s+(\S+)(?:\s+(\S+))?(?:\s+\((.*)\))?\s*$`)
	})
)

// AddList reads data/DSA/list or data/DLA/list. A malformed entry is skipped with a warning.
func (r *Reader) AddList(file string, data []byte) error {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	type entry struct {
		line              int
		date, id, pkg, ti string
		cves              []string
		fixes             [][3]string // release, package, version
		bad               error
	}
	var entries []*entry
	var cur *entry
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			continue
		}
		if m := listHeader().FindStringSubmatch(line); m != nil {
			pkg, ti, _ := strings.Cut(m[3], " - ")
			cur = &entry{line: n, date: m[1], id: m[2], pkg: strings.TrimSpace(pkg), ti: strings.TrimSpace(ti)}
			entries = append(entries, cur)
			continue
		}
		if cur == nil {
			return fmt.Errorf("%s:%d: not a DSA/DLA list (no entry header before %q)", file, n, line)
		}
		if m := listCVEs().FindStringSubmatch(line); m != nil {
			cur.cves = append(cur.cves, strings.Fields(m[1])...)
			continue
		}
		if m := listFix().FindStringSubmatch(line); m != nil {
			cur.fixes = append(cur.fixes, [3]string{m[1], m[2], m[3]})
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "NOTE:") {
			continue
		}
		if cur.bad == nil {
			cur.bad = fmt.Errorf("line %d: unexpected %q", n, strings.TrimSpace(line))
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(entries) == 0 {
		return fmt.Errorf("%s: no DSA/DLA entries", file)
	}
	for _, e := range entries {
		src := SourceDSA
		if strings.HasPrefix(e.id, "DLA-") {
			src = SourceDLA
		}
		b := r.batch(src)
		b.Records++
		if e.bad != nil {
			b.Skipped++
			r.Warn.Skip(file, e.id, e.bad)
			continue
		}
		date, err := time.Parse("02 Jan 2006", e.date)
		if err != nil {
			b.Skipped++
			r.Warn.Skip(file, e.id, fmt.Errorf("date %q: %w", e.date, err))
			continue
		}
		if date.After(b.Newest) {
			b.Newest = date
		}
		for _, f := range e.fixes {
			ns := Namespace(f[0])
			if ns == "" {
				r.Warn.Skip(file, e.id, fmt.Errorf("unknown release %q", f[0]))
				continue
			}
			a := vulndb.Advisory{
				ID: e.id, Aliases: e.cves, Namespace: ns, Package: f[1], Source: src,
				Title: strings.TrimSpace(e.pkg + " - " + e.ti), Published: date, Severity: "UNKNOWN",
				URLs: []string{"https://security-tracker.debian.org/tracker/" + e.id},
			}
			switch v := f[2]; {
			case v == "":
				a.Status = vulndb.StatusUnfixed
			case v == "<not-affected>":
				a.Status = vulndb.StatusNotAffected
			case v == "<end-of-life>" || v == "<unsupported>":
				a.Status = vulndb.StatusEndOfLife
			case strings.HasPrefix(v, "<"):
				a.Status = vulndb.StatusUnfixed
			default:
				a.Status, a.FixedVersion, a.FixedAt = vulndb.StatusFixed, v, date
				a.Ranges = []vulndb.Range{{Type: "ECOSYSTEM", Fixed: v}}
			}
			b.Advisories = append(b.Advisories, a)
		}
	}
	return nil
}

var supportName = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^security-support-(ended|limited)(?:\.deb(\d+))?$`) })

// AddSupport reads a debian-security-support list.
func (r *Reader) AddSupport(file string, data []byte) error {
	base := path.Base(strings.ReplaceAll(file, "\\", "/"))
	m := supportName().FindStringSubmatch(base)
	if m == nil {
		return fmt.Errorf("%s: not a security-support-ended[.debN] or security-support-limited file", file)
	}
	sf := supportFile{name: file, release: m[2], limited: m[1] == "limited", body: data}
	b := r.batch(SourceSupport)
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		b.Records++
		if sf.limited {
			pkg, details, _ := strings.Cut(line, " ")
			if f := strings.Fields(line); len(f) > 0 && f[0] != pkg {
				pkg, details = f[0], strings.TrimSpace(strings.TrimPrefix(line, f[0]))
			}
			sf.entries = append(sf.entries, supportEntry{pkg: pkg, details: strings.TrimSpace(details)})
			continue
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			b.Skipped++
			r.Warn.Skip(file, "line "+strconv.Itoa(i+1), fmt.Errorf("want package, version, date: %q", line))
			continue
		}
		if _, err := time.Parse("2006-01-02", f[2]); err != nil {
			b.Skipped++
			r.Warn.Skip(file, f[0], fmt.Errorf("date %q: %w", f[2], err))
			continue
		}
		sf.entries = append(sf.entries, supportEntry{pkg: f[0], lastVersion: f[1], date: f[2], details: strings.Join(f[3:], " ")})
	}
	r.support = append(r.support, sf)
	return nil
}

// supportAdvisories turns the support lists into end-of-life / limited
// markers. The unsuffixed lists belong to the release the
// debian-security-support package was built for: the release whose .debN
// list is identical to the unsuffixed "ended" list, else the newest .debN + 1.
func (r *Reader) supportAdvisories() {
	if len(r.support) == 0 {
		return
	}
	current, newest := "", 0
	for _, s := range r.support {
		if n, err := strconv.Atoi(s.release); err == nil && n > newest {
			newest = n
		}
	}
	for _, s := range r.support {
		if s.release != "" || s.limited {
			continue
		}
		for _, o := range r.support {
			if o.release != "" && !o.limited && bytes.Equal(bytes.TrimSpace(o.body), bytes.TrimSpace(s.body)) {
				current = o.release
			}
		}
	}
	if current == "" && newest > 0 {
		current = strconv.Itoa(newest + 1)
	}
	b := r.batch(SourceSupport)
	seen := map[string]bool{}
	for _, s := range r.support {
		rel := s.release
		if rel == "" {
			rel = current
		}
		if rel == "" {
			r.Warn.Skip(s.name, "", errors.New("cannot tell which Debian release this list is for; import it with a security-support-ended.debN list"))
			continue
		}
		ns := "debian:" + rel
		for _, e := range s.entries {
			a := vulndb.Advisory{Namespace: ns, Package: e.pkg, Source: SourceSupport, Severity: "UNKNOWN", Description: e.details}
			if s.limited {
				a.ID = "DEBIAN-LIMITED-SUPPORT-" + e.pkg
				a.Status = vulndb.StatusLimitedSupport
				a.Title = "Debian's security support for " + e.pkg + " is limited"
			} else {
				a.ID = "DEBIAN-EOL-" + e.pkg
				a.Status = vulndb.StatusEndOfLife
				a.Title = fmt.Sprintf("Debian's security support for %s ended on %s (last supported version %s)", e.pkg, e.date, e.lastVersion)
				a.FixedAt, _ = time.Parse("2006-01-02", e.date)
				a.Published = a.FixedAt
				if a.Published.After(b.Newest) && a.Published.Before(time.Now()) {
					b.Newest = a.Published
				}
			}
			if k := ns + "\x00" + a.ID; !seen[k] {
				seen[k] = true
				b.Advisories = append(b.Advisories, a)
			}
		}
	}
	r.support = nil
}

// Batches returns what was read, one batch per source.
func (r *Reader) Batches() []*vulndb.Batch {
	r.supportAdvisories()
	return r.batches.Sorted()
}
