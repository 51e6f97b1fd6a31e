// Package oval reads OVAL definitions (OVAL 5.x) as published by Canonical
// (USN OVAL, com.ubuntu.<codename>.usn.oval.xml: dpkginfo tests) and by the
// Red Hat family (RHEL, Rocky Linux, AlmaLinux, Oracle Linux: rpminfo
// tests). Each patch definition becomes one advisory per package (and module
// stream) its criteria make vulnerable: the criteria are evaluated (see
// evaluate), the package is the name in the test's object, the fixed version
// the EVR of its "less than" state, the module stream the "Module X:Y is
// enabled" test ANDed with it.
package oval

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Document is the part of an OVAL definitions file Warden reads.
type Document struct {
	Generator struct {
		Product   string `xml:"product_name"`
		Timestamp string `xml:"timestamp"`
	} `xml:"generator"`
	Definitions []Definition `xml:"definitions>definition"`
	Tests       elements     `xml:"tests"`
	Objects     elements     `xml:"objects"`
	States      elements     `xml:"states"`
	Variables   elements     `xml:"variables"`
}

type elements struct {
	Items []Element `xml:",any"`
}

// Definition is one OVAL definition.
type Definition struct {
	ID       string `xml:"id,attr"`
	Class    string `xml:"class,attr"`
	Metadata struct {
		Title       string `xml:"title"`
		Description string `xml:"description"`
		References  []struct {
			Source string `xml:"source,attr"`
			RefID  string `xml:"ref_id,attr"`
			RefURL string `xml:"ref_url,attr"`
		} `xml:"reference"`
		Advisory struct {
			From     string `xml:"from,attr"`
			Severity string `xml:"severity"`
			Issued   struct {
				Date string `xml:"date,attr"`
			} `xml:"issued"`
			Updated struct {
				Date string `xml:"date,attr"`
			} `xml:"updated"`
			CVEs []struct {
				Href        string `xml:"href,attr"`
				Priority    string `xml:"priority,attr"`
				CVSS3       string `xml:"cvss3,attr"`
				CVSSScore   string `xml:"cvss_score,attr"`
				CVSSVector  string `xml:"cvss_vector,attr"`
				CVSSSeverty string `xml:"cvss_severity,attr"`
				Impact      string `xml:"impact,attr"`
				ID          string `xml:",chardata"`
			} `xml:"cve"`
			CPEs []string `xml:"affected_cpe_list>cpe"`
		} `xml:"advisory"`
	} `xml:"metadata"`
	Criteria Criteria `xml:"criteria"`
}

// Criteria is a criteria tree.
type Criteria struct {
	Operator   string     `xml:"operator,attr"`
	Negate     string     `xml:"negate,attr"`
	Criteria   []Criteria `xml:"criteria"`
	Criterions []struct {
		TestRef string `xml:"test_ref,attr"`
		Comment string `xml:"comment,attr"`
		Negate  string `xml:"negate,attr"`
	} `xml:"criterion"`
}

// Element is any test, object, state or variable (the fields used of each).
type Element struct {
	XMLName xml.Name
	ID      string `xml:"id,attr"`
	Comment string `xml:"comment,attr"`
	Object  struct {
		Ref string `xml:"object_ref,attr"`
	} `xml:"object"`
	States []struct {
		Ref string `xml:"state_ref,attr"`
	} `xml:"state"`
	Name struct {
		VarRef string `xml:"var_ref,attr"`
		Value  string `xml:",chardata"`
	} `xml:"name"`
	EVR struct {
		Operation string `xml:"operation,attr"`
		Value     string `xml:",chardata"`
	} `xml:"evr"`
	SignatureKeyID struct {
		Value string `xml:",chardata"`
	} `xml:"signature_keyid"`
	// Values: a constant_variable's values, or a variable_state's value
	// (Ubuntu's kernel version test: debian_evr_string "less than").
	Values []struct {
		Operation string `xml:"operation,attr"`
		Value     string `xml:",chardata"`
	} `xml:"value"`
	// OSRelease: a uname_state's os_release pattern (Ubuntu: "6.8.0-\d+(-gke)").
	OSRelease struct {
		Operation string `xml:"operation,attr"`
		Value     string `xml:",chardata"`
	} `xml:"os_release"`
}

// Parse decodes an OVAL document (bounded by feed.MaxFileSize upstream).
func Parse(r io.Reader) (*Document, error) {
	var doc Document
	dec := xml.NewDecoder(r)
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding OVAL XML: %w", err)
	}
	return &doc, nil
}

// Source names.
const (
	SourceUbuntu = "ubuntu-oval"
	SourceRocky  = "rocky-oval"
	SourceRHEL   = "rhel-oval"
	SourceAlma   = "almalinux-oval"
	SourceOracle = "oracle-oval"
	SourceSUSE   = "suse-oval"
)

// UbuntuReleases maps codenames to versions (namespace ubuntu:X.Y).
var UbuntuReleases = map[string]string{
	"trusty": "14.04", "xenial": "16.04", "bionic": "18.04", "focal": "20.04", "jammy": "22.04",
	"kinetic": "22.10", "lunar": "23.04", "mantic": "23.10", "noble": "24.04", "oracular": "24.10",
	"plucky": "25.04", "questing": "25.10", "resolute": "26.04",
}

// Reader accumulates OVAL files.
type Reader struct {
	Warn    *feed.Warnings
	batches feed.Batches
}

// NewReader returns an empty Reader.
func NewReader(w *feed.Warnings) *Reader {
	if w == nil {
		w = &feed.Warnings{}
	}
	return &Reader{Warn: w, batches: map[string]*vulndb.Batch{}}
}

// Add reads one OVAL file.
func (r *Reader) Add(e *feed.Entry) error {
	data, err := e.ReadAll()
	if err != nil {
		return err
	}
	return r.AddBytes(e.String(), data)
}

var (
	ubuntuID   = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^oval:com\.ubuntu\.([a-z]+):`) })
	elRelease  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\.el(\d+)`) })
	cpeRelease = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^cpe:/[ao]:[^:]+:[^:]+:(\d+)`) })
	cveRe      = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`CVE-\d{4}-\d{4,}`) })
	titleID    = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^([A-Z]+-\d{4}:\d+|USN-\d+-\d+|LSN-\d+-\d+)`) })
)

// AddBytes reads one OVAL document. A definition it cannot use is skipped
// with a warning; a document that does not parse is an error.
func (r *Reader) AddBytes(file string, data []byte) error {
	doc, err := Parse(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	idx := index(doc)
	for i := range doc.Definitions {
		d := &doc.Definitions[i]
		if d.Class != "patch" && d.Class != "vulnerability" {
			continue
		}
		flavor, ns := namespaceOf(d, idx, file)
		src := map[string]string{"ubuntu": SourceUbuntu, "rocky": SourceRocky, "rhel": SourceRHEL, "almalinux": SourceAlma, "ol": SourceOracle, "suse": SourceSUSE}[flavor]
		if src == "" {
			src = "oval"
		}
		b := r.batches.Get(src)
		b.Records++
		if ns == "" && flavor != "suse" { // SUSE's rows name their release in the criteria
			b.Skipped++
			r.Warn.Skip(file, d.ID, errors.New("cannot tell the distribution release of this definition"))
			continue
		}
		advs, err := definitionAdvisories(d, idx, flavor, ns, src)
		if err != nil {
			b.Skipped++
			r.Warn.Skip(file, d.ID, err)
			continue
		}
		for _, a := range advs {
			if a.Published.After(b.Newest) && a.Published.Before(time.Now().Add(48*time.Hour)) {
				b.Newest = a.Published
			}
		}
		b.Advisories = append(b.Advisories, advs...)
	}
	return nil
}

type indexes struct {
	tests, objects, states, vars map[string]*Element
}

func index(doc *Document) *indexes {
	ix := &indexes{map[string]*Element{}, map[string]*Element{}, map[string]*Element{}, map[string]*Element{}}
	for _, x := range []struct {
		list []Element
		m    map[string]*Element
	}{{doc.Tests.Items, ix.tests}, {doc.Objects.Items, ix.objects}, {doc.States.Items, ix.states}, {doc.Variables.Items, ix.vars}} {
		for i := range x.list {
			x.m[x.list[i].ID] = &x.list[i]
		}
	}
	return ix
}

// namespaceOf tells the distribution and release of a definition.
func namespaceOf(d *Definition, ix *indexes, file string) (flavor, ns string) {
	if m := ubuntuID().FindStringSubmatch(d.ID); m != nil {
		if v := UbuntuReleases[m[1]]; v != "" {
			return "ubuntu", "ubuntu:" + v
		}
		return "ubuntu", ""
	}
	id := strings.ToLower(d.ID + " " + d.Metadata.Advisory.From)
	if strings.Contains(id, "opensuse.security") {
		// One SUSE definition covers every product and service pack a CVE
		// touches; each branch of its criteria names its own ("SUSE Linux
		// Enterprise Server 15 SP1 is installed"): see productRelease.
		return "suse", ""
	}
	switch {
	case strings.Contains(id, "rockylinux") || strings.Contains(id, ":rocky:"):
		flavor = "rocky"
	case strings.Contains(id, "almalinux"):
		flavor = "almalinux"
	case strings.Contains(id, "oracle"):
		flavor = "ol"
	case strings.Contains(id, "redhat"):
		flavor = "rhel"
	default:
		return "", ""
	}
	rel := ""
	cpes := append([]string{d.Metadata.Advisory.From}, d.Metadata.Advisory.CPEs...)
	for _, c := range cpes {
		if m := cpeRelease().FindStringSubmatch(c); m != nil {
			rel = m[1]
			break
		}
	}
	if rel == "" {
		for _, p := range fixes(d, ix) {
			if m := elRelease().FindStringSubmatch(p.evr); m != nil {
				rel = m[1]
				break
			}
		}
	}
	if rel == "" {
		if m := regexp.MustCompile(`-(\d+)\.xml`).FindStringSubmatch(file); m != nil {
			rel = m[1]
		}
	}
	if rel == "" {
		return flavor, ""
	}
	return flavor, flavor + ":" + rel
}

// fix is one row: a package below evr, bound to a module stream (RHEL family)
// or to a release namespace named by the criteria (SUSE, "sles:15.1").
type fix struct{ pkg, evr, module, release string }

// A definition's criteria are evaluated, not flattened: the tree is turned
// into its disjunctive normal form, a list of conjunctions ("this package is
// earlier than that EVR AND module postgresql:13 is enabled"), and each
// package test of a conjunction becomes a row bound to the conjunction's
// module stream. Tests that only state preconditions the image already meets
// by being in the namespace (the release is installed, the package is signed
// with the vendor key, an rpmverifyfile check, a uname check other than
// Ubuntu's kernel variants, see kernelFamilies) are neutral: true in
// an AND, no alternative of their own in an OR (Rocky's generator puts the
// "release installed" test beside the packages in its top OR). A negated
// test or criteria is neutral as well.
//
// Atoms are read from the test (rpminfo/dpkginfo with a "less than" evr
// state; a module test by its comment "Module postgresql:13 is enabled"),
// else from the criterion's comment ("pg_repack is earlier than
// 0:1.4.6-3.module+el8.9.0+20664+9c30cf7f") when the document carries no test
// for it.

// conj is one conjunction of the normal form: the package tests and the
// module stream that must all hold.
type conj struct {
	pkgs    []fix
	module  string
	release string
	// kernel: the package families of the kernel variants a uname test
	// names ("linux-image-6.8.0-*-gke"); a running-kernel version test's
	// fix (pkg kernelVersion) becomes one row per family.
	kernel []string
}

// kernelVersion is the package of a fix read from Ubuntu's running-kernel
// version test, bound to the kernel variants of its conjunction.
const kernelVersion = "\x00kernel"

// unameVariants reads Ubuntu's uname pattern "6.8.0-\d+(-generic|-generic-64k)".
var unameVariants = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(\d+\.\d+\.\d+)-\\d\+\((-[a-z0-9.-]+(?:\|-[a-z0-9.-]+)*)\)$`)
})

// kernelFamilies are the linux-image package families of a uname test:
// "linux-image-6.8.0-*-gke" for "6.8.0-\d+(-gke)"; nil when the test is not
// a pattern of that shape.
func kernelFamilies(t *Element, ix *indexes) []string {
	var out []string
	for _, sr := range t.States {
		st := ix.states[sr.Ref]
		if st == nil || st.OSRelease.Operation != "pattern match" {
			continue
		}
		m := unameVariants().FindStringSubmatch(strings.TrimSpace(st.OSRelease.Value))
		if m == nil {
			continue
		}
		for _, v := range strings.Split(m[2], "|") {
			out = append(out, "linux-image-"+m[1]+"-*"+v)
		}
	}
	return out
}

// kernelFix reads Ubuntu's running-kernel version test: a variable_test
// whose state is a debian_evr_string "less than" ("0:6.8.0-1005").
func kernelFix(t *Element, ix *indexes) []fix {
	for _, sr := range t.States {
		st := ix.states[sr.Ref]
		if st == nil {
			continue
		}
		for _, v := range st.Values {
			if v.Operation == "less than" && strings.TrimSpace(v.Value) != "" {
				return []fix{{pkg: kernelVersion, evr: strings.TrimSpace(v.Value)}}
			}
		}
	}
	return nil
}

// maxConj bounds the normal form (AND of ORs multiplies); a definition above
// it is read flattened (every package test alone), as before evaluation.
const maxConj = 4096

var (
	// SUSE's product tests: the release its packages' rows belong to. Other
	// products (SLE Micro, Storage, Manager...) version themselves apart
	// and stay neutral, so the rows under them are not kept.
	sleProduct = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^SUSE Linux Enterprise (?:Server|Desktop|High Performance Computing|Module for [A-Za-z ]+?|Workstation Extension|Real Time|Live Patching)(?: for SAP Applications)? (\d+)(?: SP(\d+))?(?:-[A-Z]+)? is installed$`)
	})
	leapProduct = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^openSUSE Leap (\d+\.\d+) is installed$`) })
	// oracleProduct: Oracle's release test ("Oracle Linux 9 is installed");
	// one ELSA can cover two releases, a branch of its criteria each.
	oracleProduct  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^Oracle Linux (\d+) is installed$`) })
	moduleComment  = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^Module (\S+:\S+) is enabled$`) })
	earlierComment = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\S+) is earlier than (\S+)$`) })
	// SUSE's package criteria name the fixed build: "kernel-default-4.12.14-150.72.1 is installed".
	suseBuildComment = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(\S+)-(\d[^-\s]*)-(\d[^-\s]*) is installed$`) })
)

// evaluate returns the normal form of a criteria tree; neutral reports a
// subtree with no package or module test.
func evaluate(c *Criteria, ix *indexes, depth int) (out []conj, neutral bool, err error) {
	if depth > 32 {
		return nil, true, nil
	}
	if c.Negate == "true" {
		return nil, true, nil
	}
	var parts [][]conj
	for _, cr := range c.Criterions {
		if cr.Negate == "true" {
			continue
		}
		if atoms := criterionAtoms(cr.TestRef, cr.Comment, ix); atoms != nil {
			parts = append(parts, atoms)
		}
	}
	for i := range c.Criteria {
		sub, n, err := evaluate(&c.Criteria[i], ix, depth+1)
		if err != nil {
			return nil, false, err
		}
		if !n {
			parts = append(parts, sub)
		}
	}
	if len(parts) == 0 {
		return nil, true, nil
	}
	if strings.EqualFold(c.Operator, "OR") || strings.EqualFold(c.Operator, "ONE") {
		for _, p := range parts {
			out = append(out, p...)
		}
		if len(out) > maxConj {
			return nil, false, errTooLarge
		}
		return out, false, nil
	}
	// AND (the default operator): the cross product.
	out = []conj{{}}
	for _, p := range parts {
		var next []conj
		for _, a := range out {
			for _, b := range p {
				m := a.module
				if b.module != "" {
					if m != "" && m != b.module {
						continue // two streams of one module cannot both be enabled
					}
					m = b.module
				}
				rel := a.release
				if b.release != "" {
					if rel != "" && rel != b.release {
						continue // one image is one release
					}
					rel = b.release
				}
				next = append(next, conj{pkgs: append(append([]fix{}, a.pkgs...), b.pkgs...), module: m, release: rel,
					kernel: append(append([]string{}, a.kernel...), b.kernel...)})
			}
		}
		if len(next) > maxConj {
			return nil, false, errTooLarge
		}
		out = next
	}
	return out, false, nil
}

var errTooLarge = errors.New("criteria too large to evaluate")

// criterionAtoms returns the alternatives one criterion stands for: one per
// package name of a package test, one for a module test; nil when neutral.
func criterionAtoms(ref, comment string, ix *indexes) []conj {
	t := ix.tests[ref]
	for _, cm := range []string{comment, testComment(t)} {
		if rel := productRelease(cm); rel != "" {
			return []conj{{release: rel}}
		}
	}
	if t != nil && (strings.HasSuffix(t.XMLName.Local, "dpkginfo_test") || strings.HasSuffix(t.XMLName.Local, "rpminfo_test")) {
		var out []conj
		for _, f := range testFixes(t, ix) {
			out = append(out, conj{pkgs: []fix{f}})
		}
		if out != nil {
			return out
		}
		// A package test whose object or state is not in the document (files
		// cut for tests are): read the comment, rather than let a
		// vulnerable package pass as a neutral precondition.
		return commentFix(comment, testComment(t))
	}
	if t != nil && strings.HasSuffix(t.XMLName.Local, "uname_test") {
		if fams := kernelFamilies(t, ix); fams != nil {
			return []conj{{kernel: fams}}
		}
		return nil
	}
	if t != nil && strings.HasSuffix(t.XMLName.Local, "variable_test") {
		if fs := kernelFix(t, ix); fs != nil {
			return []conj{{pkgs: fs}}
		}
		return nil
	}
	for _, cm := range []string{strings.TrimSpace(comment), testComment(t)} {
		if m := moduleComment().FindStringSubmatch(cm); m != nil {
			return []conj{{module: m[1]}}
		}
	}
	if t == nil {
		return commentFix(comment)
	}
	return nil
}

// commentFix reads "NAME is earlier than EVR" (or SUSE's "NAME-VERSION-RELEASE
// is installed") from the first comment that says so.
func commentFix(comments ...string) []conj {
	for _, c := range comments {
		if m := earlierComment().FindStringSubmatch(strings.TrimSpace(c)); m != nil {
			return []conj{{pkgs: []fix{{pkg: m[1], evr: m[2]}}}}
		}
		if m := suseBuildComment().FindStringSubmatch(strings.TrimSpace(c)); m != nil {
			return []conj{{pkgs: []fix{{pkg: m[1], evr: m[2] + "-" + m[3]}}}}
		}
	}
	return nil
}

// productRelease is the namespace a SUSE or Oracle product test stands for:
// "SUSE Linux Enterprise Server 15 SP1-LTSS is installed" is sles:15.1, "...
// 15 is installed" sles:15, "openSUSE Leap 15.5 is installed"
// opensuse-leap:15.5, "Oracle Linux 9 is installed" ol:9. The rows of the
// branch it heads go to that release, whatever the rest of the definition
// says (an ELSA for Oracle Linux 8 and 9 has an el8 and an el9 branch).
func productRelease(comment string) string {
	comment = strings.TrimSpace(comment)
	if m := sleProduct().FindStringSubmatch(comment); m != nil {
		if m[2] != "" {
			return "sles:" + m[1] + "." + m[2]
		}
		return "sles:" + m[1]
	}
	if m := leapProduct().FindStringSubmatch(comment); m != nil {
		return "opensuse-leap:" + m[1]
	}
	if m := oracleProduct().FindStringSubmatch(comment); m != nil {
		return "ol:" + m[1]
	}
	return ""
}

func testComment(t *Element) string {
	if t == nil {
		return ""
	}
	return strings.TrimSpace(t.Comment)
}

// testFixes reads a dpkginfo/rpminfo test: a (package, EVR) per name of its
// object, for a "less than" evr state.
func testFixes(t *Element, ix *indexes) []fix {
	obj := ix.objects[t.Object.Ref]
	if obj == nil {
		return nil
	}
	var names []string
	if obj.Name.VarRef != "" {
		if v := ix.vars[obj.Name.VarRef]; v != nil {
			for _, x := range v.Values {
				names = append(names, x.Value)
			}
		}
	} else if n := strings.TrimSpace(obj.Name.Value); n != "" {
		names = []string{n}
	}
	var out []fix
	for _, sr := range t.States {
		st := ix.states[sr.Ref]
		if st == nil || st.EVR.Operation != "less than" || strings.TrimSpace(st.EVR.Value) == "" {
			continue
		}
		evr := strings.TrimSpace(st.EVR.Value)
		for _, n := range names {
			if n = strings.TrimSpace(n); n != "" {
				out = append(out, fix{pkg: n, evr: evr})
			}
		}
	}
	return out
}

// fixes returns every (package, fixed EVR, module stream) the definition's
// criteria make vulnerable, in document order, one per package and stream.
func fixes(d *Definition, ix *indexes) []fix {
	cs, neutral, err := evaluate(&d.Criteria, ix, 0)
	if err != nil || neutral {
		cs = nil
		if err != nil {
			cs = flatten(&d.Criteria, ix, 0)
		}
	}
	var out []fix
	seen := map[string]bool{}
	for _, c := range cs {
		var pkgs []fix
		for _, f := range c.pkgs {
			if f.pkg != kernelVersion {
				pkgs = append(pkgs, f)
				continue
			}
			// The running kernel's version, bound to the variants its
			// conjunction names; without a variant it says nothing.
			for _, fam := range c.kernel {
				pkgs = append(pkgs, fix{pkg: fam, evr: f.evr})
			}
		}
		for _, f := range pkgs {
			f.module, f.release = c.module, c.release
			k := f.pkg + "\x00" + f.module + "\x00" + f.release
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, f)
		}
	}
	return out
}

// flatten is every package test of the tree, each alone.
func flatten(c *Criteria, ix *indexes, depth int) []conj {
	if depth > 32 {
		return nil
	}
	var out []conj
	for _, cr := range c.Criterions {
		for _, a := range criterionAtoms(cr.TestRef, cr.Comment, ix) {
			if len(a.pkgs) > 0 {
				out = append(out, a)
			}
		}
	}
	for i := range c.Criteria {
		out = append(out, flatten(&c.Criteria[i], ix, depth+1)...)
	}
	return out
}

func definitionAdvisories(d *Definition, ix *indexes, flavor, ns, src string) ([]vulndb.Advisory, error) {
	md := &d.Metadata
	id := ""
	var aliases, urls []string
	for _, ref := range md.References {
		switch {
		case ref.Source == "CVE":
			aliases = append(aliases, ref.RefID)
		case id == "" && ref.RefID != "":
			id = ref.RefID
		}
		if ref.RefURL != "" {
			urls = append(urls, ref.RefURL)
		}
	}
	if flavor == "suse" {
		// SUSE titles each definition with its CVE; its references are
		// "Mitre CVE-…" and "SUSE CVE-…" pages, not advisory ids.
		id, aliases = strings.TrimSpace(md.Title), nil
		if cveRe().FindString(id) != id {
			return nil, fmt.Errorf("SUSE definition titled %q: want a CVE id", md.Title)
		}
	}
	if id == "" {
		if m := titleID().FindStringSubmatch(md.Title); m != nil {
			id = m[1]
		}
	}
	if id == "" {
		return nil, fmt.Errorf("definition %q has no advisory id", md.Title)
	}
	var cvss []vulndb.CVSS
	for _, c := range md.Advisory.CVEs {
		cid := strings.TrimSpace(c.ID)
		if m := cveRe().FindString(cid); m != "" {
			cid = m // SUSE: "CVE-2010-1323 at SUSE", "… at NVD"
		}
		if cid != "" && cid != id && !contains(aliases, cid) {
			aliases = append(aliases, cid)
		}
		vec, score := c.CVSSVector, c.CVSSScore
		if c.CVSS3 != "" { // Red Hat: cvss3="7.5/CVSS:3.1/AV:N/..."
			score, vec, _ = strings.Cut(c.CVSS3, "/")
		}
		if vec != "" {
			var s float64
			fmt.Sscanf(score, "%g", &s)
			ver := "3.1"
			if strings.HasPrefix(vec, "CVSS:3.0") {
				ver = "3.0"
			}
			cvss = append(cvss, vulndb.CVSS{Source: flavor, Version: ver, Vector: vec, Score: s})
		}
	}
	if len(aliases) == 0 {
		for _, c := range cveRe().FindAllString(md.Description, -1) {
			if !contains(aliases, c) {
				aliases = append(aliases, c)
			}
		}
	}
	sev := md.Advisory.Severity
	if sev == "" {
		if m := regexp.MustCompile(`\((Critical|Important|Moderate|Low)\)\s*$`).FindStringSubmatch(md.Title); m != nil {
			sev = m[1]
		}
	}
	published := feed.ParseTime(md.Advisory.Issued.Date)
	modified := feed.ParseTime(md.Advisory.Updated.Date)
	title := md.Title
	var out []vulndb.Advisory
	for _, f := range fixes(d, ix) {
		rowNS := ns
		if f.release != "" {
			rowNS = f.release
		}
		if rowNS == "" {
			continue // a SUSE branch of a product Warden does not map to a release
		}
		evr := f.evr
		// Epoch 0 is the default of both dpkg and rpm; package databases omit it.
		evr = strings.TrimPrefix(evr, "0:")
		a := vulndb.Advisory{
			ID: id, Aliases: aliases, Namespace: rowNS, Package: f.pkg, Source: src,
			Status: vulndb.StatusFixed, FixedVersion: evr,
			Ranges: []vulndb.Range{{Type: "ECOSYSTEM", Fixed: evr}},
			Title:  title, Description: md.Description, URLs: urls, CVSS: cvss,
			Published: published, Modified: modified, FixedAt: published,
			Severity: "UNKNOWN", Module: f.module,
		}
		if s := vulndb.NormalizeSeverity(sev); s != "UNKNOWN" {
			a.Severity, a.SeveritySource = s, src
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Package < out[j].Package })
	return out, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Batches returns what was read, one batch per source.
func (r *Reader) Batches() []*vulndb.Batch {
	return r.batches.Sorted()
}
