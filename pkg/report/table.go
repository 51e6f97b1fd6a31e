package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/wardensec/warden/pkg/vulndb"
)

const maxTitle = 60

// writeTable writes the human report: one row per finding, then counts.
func writeTable(w io.Writer, doc *Document, opt Options) error {
	bw := bufio.NewWriter(w)
	header := doc.Artifact
	if doc.OS != nil {
		header += fmt.Sprintf(" (%s %s)", doc.OS.Family, doc.OS.Version)
	}
	header += fmt.Sprintf(": %d packages", len(doc.Packages))
	if doc.DB != nil {
		header += ", database built " + doc.DB.Built
	}
	fmt.Fprintln(bw, header)
	fmt.Fprintln(bw)

	type row struct {
		cells []string
		id    string // the advisory id, the start of cells[0]
		link  string
	}
	var rows []row
	for _, v := range doc.Vulnerabilities {
		if v.Linked != nil && !*v.Linked && !opt.ShowUnlinked {
			continue
		}
		fixed := v.FixedVersion
		if fixed == "" {
			fixed = v.Status
		}
		sev := v.Severity
		if v.SeveritySource != "" {
			sev += " (" + v.SeveritySource + ")"
		}
		t := v.Title
		if v.Linked != nil && !*v.Linked {
			t = "[not linked] " + t
		}
		score := ""
		if c, ok := vulndb.DecidingCVSS(v.CVSS, v.SeveritySource); ok {
			score = fmt.Sprintf("%.1f", c.Score)
		}
		cells := []string{idCell(v), v.Package.Name, v.Package.Version, fixed, sev, score, truncate(t, maxTitle)}
		if opt.Wide {
			cells = append(cells, v.URL)
		}
		rows = append(rows, row{cells: cells, id: v.ID, link: v.URL})
	}
	if len(rows) == 0 {
		fmt.Fprintln(bw, "No vulnerabilities found.")
	} else {
		head := []string{"ID", "PACKAGE", "INSTALLED", "FIXED", "SEVERITY", "CVSS", "TITLE"}
		if opt.Wide {
			head = append(head, "URL")
		}
		width := make([]int, len(head))
		for i, h := range head {
			width[i] = utf8.RuneCountInString(h)
		}
		for _, r := range rows {
			for i, c := range r.cells {
				width[i] = max(width[i], utf8.RuneCountInString(c))
			}
		}
		line := func(cells []string, id, link string) {
			var b strings.Builder
			for i, c := range cells {
				text := c
				if i == 0 && opt.Hyperlinks && link != "" && strings.HasPrefix(c, id) {
					// Only the id is the link, not the alias beside it.
					text = "\x1b]8;;" + link + "\x1b\\" + id + "\x1b]8;;\x1b\\" + c[len(id):]
				}
				b.WriteString(text)
				if i < len(cells)-1 {
					b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c)+2))
				}
			}
			fmt.Fprintln(bw, strings.TrimRight(b.String(), " "))
		}
		line(head, "", "")
		for _, r := range rows {
			line(r.cells, r.id, r.link)
		}
	}
	fmt.Fprintln(bw)

	s := doc.Summary
	var counts []string
	for _, sev := range vulndb.Severities {
		counts = append(counts, fmt.Sprintf("%s: %d", sev, s.BySeverity[sev]))
	}
	fmt.Fprintf(bw, "Total: %d (%s)\n", s.Total, strings.Join(counts, ", "))
	if s.Total > 0 {
		fmt.Fprintf(bw, "%d of %d %s fixed in newer packages: a rebuild would fix %s\n", s.Fixable, s.Total,
			plural(s.Total, "finding is", "findings are"), plural(s.Total, "it", "them"))
	}
	if s.Unlinked > 0 {
		verb := "hidden, --show-unlinked lists them"
		if opt.ShowUnlinked {
			verb = "listed, marked [not linked]"
		}
		fmt.Fprintf(bw, "%d Go %s in modules the binary uses, but the vulnerable code is not linked into it (%s)\n", s.Unlinked, plural(s.Unlinked, "finding is", "findings are"), verb)
	}
	if len(doc.Suppressed) > 0 {
		fmt.Fprintf(bw, "\nSuppressed (%d):\n", len(doc.Suppressed))
		for _, v := range doc.Suppressed {
			fmt.Fprintf(bw, "  %s on %s %s: %s: %s [%s]\n", v.ID, v.Package.Name, v.Package.Version, v.Suppression.Kind, v.Suppression.Reason, v.Suppression.Source)
		}
	}
	if len(doc.ExpiredIgnores) > 0 {
		fmt.Fprintf(bw, "\nExpired ignore rules, no longer applied (%d):\n", len(doc.ExpiredIgnores))
		for _, r := range doc.ExpiredIgnores {
			what := r.ID
			if r.Package != "" {
				what += " on " + r.Package
			}
			fmt.Fprintf(bw, "  %s expired %s [%s]: %s\n", what, r.Expires, r.Source, r.Reason)
		}
	}
	if len(s.DistroOwned) > 0 {
		fmt.Fprintf(bw, "\nLanguage packages installed by OS packages, judged by the distribution's data rather than upstream advisories (%d):\n", len(s.DistroOwned))
		for _, p := range s.DistroOwned {
			fmt.Fprintf(bw, "  %s\n", p)
		}
	}
	if len(doc.Warnings) > 0 {
		fmt.Fprintf(bw, "\nWarnings (%d):\n", len(doc.Warnings))
		for _, m := range doc.Warnings {
			fmt.Fprintf(bw, "  %s\n", m)
		}
	}
	return bw.Flush()
}

// idCell is the advisory id with its CVE alias beside it when the id is
// not a CVE (GHSA-…, GO-…, PYSEC-…), as Trivy shows them: "GO-2022-0956
// (CVE-2022-3064)"; a second CVE alias is counted, not listed.
func idCell(v Vulnerability) string {
	if strings.HasPrefix(v.ID, "CVE-") {
		return v.ID
	}
	var cves []string
	for _, a := range v.Aliases {
		if strings.HasPrefix(a, "CVE-") && !slices.Contains(cves, a) {
			cves = append(cves, a)
		}
	}
	switch len(cves) {
	case 0:
		return v.ID
	case 1:
		return v.ID + " (" + cves[0] + ")"
	}
	return fmt.Sprintf("%s (%s +%d)", v.ID, cves[0], len(cves)-1)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func truncate(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	// Cut at a word when one ends in the last third, as a reader would.
	cut := string([]rune(s)[:n-1])
	if i := strings.LastIndexByte(cut, ' '); i >= 2*len(cut)/3 {
		cut = strings.TrimRight(cut[:i], " ,;:-")
	}
	return cut + "…"
}
