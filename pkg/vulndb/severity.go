package vulndb

import "strings"

// Severity precedence (resolved by Lookup, recorded in SeveritySource):
//
//  1. the distribution's own rating, for OS namespaces ("alpine:3.19",
//     "debian:12", ...): Debian urgency, Ubuntu priority, Red Hat family
//     and AlmaLinux severity. A reader sets it on the advisory.
//  2. NVD: the CVSS base score of the advisory's CVE (its ID or a CVE alias)
//     from an imported NVD feed, v3.1/v3.0 first, then v4.0, then v2.0.
//  3. the advisory's own: its CVSS vectors or database_specific severity
//     (GHSA, PyPA, ...), as the reader set it.
//
// Anything else is UNKNOWN with an empty SeveritySource.

// SeverityFromScore maps a CVSS base score to a severity (CVSS v3 bands;
// 0.0 is NEGLIGIBLE).
func SeverityFromScore(score float64) string {
	switch {
	case score >= 9.0:
		return "CRITICAL"
	case score >= 7.0:
		return "HIGH"
	case score >= 4.0:
		return "MEDIUM"
	case score >= 0.1:
		return "LOW"
	case score == 0:
		return "NEGLIGIBLE"
	}
	return "UNKNOWN"
}

// SeverityFromV2Score maps a CVSS v2 base score (no CRITICAL band in v2).
func SeverityFromV2Score(score float64) string {
	switch {
	case score >= 7.0:
		return "HIGH"
	case score >= 4.0:
		return "MEDIUM"
	}
	return "LOW"
}

// NormalizeSeverity maps the words feeds use (Debian urgencies, Ubuntu
// priorities, Red Hat ratings, GHSA levels) onto Severities. It returns
// "UNKNOWN" for anything it does not know.
func NormalizeSeverity(s string) string {
	s = strings.ToLower(strings.TrimSpace(strings.TrimRight(s, "*")))
	switch s {
	case "critical":
		return "CRITICAL"
	case "high", "important":
		return "HIGH"
	case "medium", "moderate":
		return "MEDIUM"
	case "low":
		return "LOW"
	case "negligible", "unimportant", "none":
		return "NEGLIGIBLE"
	}
	return "UNKNOWN"
}

func isOSNamespace(ns string) bool { return strings.Contains(ns, ":") }

// pickScore chooses the CVSS entry that gives the NVD severity.
func pickScore(cs []CVSS) (CVSS, string, bool) {
	rank := func(v string) int {
		switch {
		case strings.HasPrefix(v, "3"):
			return 3
		case strings.HasPrefix(v, "4"):
			return 2
		case strings.HasPrefix(v, "2"):
			return 1
		}
		return 0
	}
	best, bestRank := CVSS{}, 0
	for _, c := range cs {
		if c.Score <= 0 && c.Vector == "" {
			continue
		}
		if r := rank(c.Version); r > bestRank || (r == bestRank && r > 0 && c.Version > best.Version) {
			best, bestRank = c, r
		}
	}
	if bestRank == 0 {
		return CVSS{}, "", false
	}
	if bestRank == 1 {
		return best, SeverityFromV2Score(best.Score), true
	}
	return best, SeverityFromScore(best.Score), true
}

// DecidingCVSS is the score to show beside an advisory's severity: the one
// pickScore takes among the scores of the severity's source (NVD, GHSA, ...),
// else among all of them (a distro rating shown with NVD's score).
func DecidingCVSS(cs []CVSS, severitySource string) (CVSS, bool) {
	var own []CVSS
	for _, c := range cs {
		if c.Source == severitySource {
			own = append(own, c)
		}
	}
	if c, _, ok := pickScore(own); ok {
		return c, true
	}
	c, _, ok := pickScore(cs)
	return c, ok
}
