package report

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/sbom"
	"github.com/wardensec/warden/pkg/vulndb"
)

// writeCycloneDX writes the image's CycloneDX 1.6 SBOM (pkg/sbom, so the
// components and their bom-refs are the same as `warden sbom`) with a
// vulnerabilities section: one entry per advisory and state, its ratings,
// references (aliases), advisories (URLs), affected components, and an
// analysis for the suppressed ones (VEX not_affected, or ignored).
func writeCycloneDX(w io.Writer, doc *Document, in *Input) error {
	inv := in.Inventory
	if inv == nil {
		inv = &inventory.Inventory{}
	}
	img := in.Image
	if img.Name == "" {
		img.Name = in.Artifact
	}
	var buf bytes.Buffer
	if err := sbom.WriteCycloneDX(&buf, inv, img, sbom.Options{Time: in.Time, NoFiles: true, ToolVersion: in.ToolVersion}); err != nil {
		return err
	}
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(&buf, cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		return fmt.Errorf("reading back the CycloneDX SBOM: %w", err)
	}

	// bom-ref per package: by PURL and first location (pkg/sbom records locations as properties).
	refs := map[string]string{}
	if bom.Components != nil {
		for _, c := range *bom.Components {
			loc := ""
			if c.Properties != nil {
				for _, p := range *c.Properties {
					if p.Name == sbom.PropLocation {
						loc = p.Value
						break
					}
				}
			}
			key := c.PackageURL + "|" + loc
			if _, ok := refs[key]; !ok {
				refs[key] = c.BOMRef
			}
			if _, ok := refs[c.PackageURL+"|"]; !ok {
				refs[c.PackageURL+"|"] = c.BOMRef
			}
		}
	}
	refOf := func(p *PackageRef) string {
		loc := ""
		if len(p.Locations) > 0 {
			loc = p.Locations[0]
		}
		if r, ok := refs[p.PURL+"|"+loc]; ok {
			return r
		}
		if r, ok := refs[p.PURL+"|"]; ok {
			return r
		}
		return p.PURL
	}

	type group struct {
		v       *Vulnerability
		affects []cdx.Affects
		upgrade []string
	}
	var order []string
	groups := map[string]*group{}
	add := func(v *Vulnerability) {
		key := v.ID
		if v.Suppression != nil {
			key += "|" + v.Suppression.Kind + "|" + v.Suppression.Reason
		}
		if v.Linked != nil {
			key += fmt.Sprintf("|linked=%v", *v.Linked)
		}
		g, ok := groups[key]
		if !ok {
			g = &group{v: v}
			groups[key] = g
			order = append(order, key)
		}
		ver := []cdx.AffectedVersions{{Version: v.Package.Version, Status: cdx.VulnerabilityStatusAffected}}
		if v.Suppression != nil && v.Suppression.Kind == "vex" {
			ver[0].Status = cdx.VulnerabilityStatusNotAffected
		}
		g.affects = append(g.affects, cdx.Affects{Ref: refOf(&v.Package), Range: &ver})
		if v.FixedVersion != "" {
			if u := v.Package.Name + " to " + v.FixedVersion; !slices.Contains(g.upgrade, u) {
				g.upgrade = append(g.upgrade, u)
			}
		}
	}
	for i := range doc.Vulnerabilities {
		add(&doc.Vulnerabilities[i])
	}
	for i := range doc.Suppressed {
		add(&doc.Suppressed[i])
	}

	vulns := make([]cdx.Vulnerability, 0, len(order))
	for n, key := range order {
		g := groups[key]
		v := g.v
		cv := cdx.Vulnerability{
			BOMRef:      fmt.Sprintf("vuln:%s#%d", v.ID, n+1),
			ID:          v.ID,
			Source:      &cdx.Source{Name: v.DataSource, URL: v.URL},
			Description: v.Title,
			Detail:      v.Description,
			Affects:     &g.affects,
		}
		if len(v.Aliases) > 0 {
			var rs []cdx.VulnerabilityReference
			for _, a := range v.Aliases {
				rs = append(rs, cdx.VulnerabilityReference{ID: a, Source: &cdx.Source{URL: AdvisoryURL(&vulndb.Advisory{ID: a})}})
			}
			cv.References = &rs
		}
		ratings := []cdx.VulnerabilityRating{{Source: &cdx.Source{Name: v.SeveritySource}, Severity: cdxSeverity(v.Severity)}}
		for _, c := range v.CVSS {
			score := c.Score
			ratings = append(ratings, cdx.VulnerabilityRating{Source: &cdx.Source{Name: c.Source}, Score: &score, Severity: cdx.Severity(strings.ToLower(scoreSeverity(c.Score))), Method: cvssMethod(c.Version), Vector: c.Vector})
		}
		cv.Ratings = &ratings
		if len(v.URLs) > 0 {
			var as []cdx.Advisory
			for _, u := range v.URLs {
				as = append(as, cdx.Advisory{URL: u})
			}
			cv.Advisories = &as
		}
		if len(g.upgrade) > 0 {
			cv.Recommendation = "Upgrade " + strings.Join(g.upgrade, ", ") + " or later"
		}
		props := []cdx.Property{{Name: "warden:status", Value: v.Status}}
		if v.FixedVersion != "" {
			props = append(props, cdx.Property{Name: "warden:fixed_version", Value: v.FixedVersion})
		}
		if v.Linked != nil {
			props = append(props, cdx.Property{Name: "warden:linked", Value: fmt.Sprint(*v.Linked)})
		}
		cv.Properties = &props
		if s := v.Suppression; s != nil {
			switch s.Kind {
			case "vex":
				cv.Analysis = &cdx.VulnerabilityAnalysis{State: cdx.IASNotAffected, Justification: cdxJustification(s.Justification), Detail: s.Reason + " [" + s.Source + "]"}
			default:
				resp := []cdx.ImpactAnalysisResponse{cdx.IARWillNotFix}
				cv.Analysis = &cdx.VulnerabilityAnalysis{State: cdx.IASExploitable, Response: &resp, Detail: "ignored: " + s.Reason + " [" + s.Source + "]"}
			}
		}
		vulns = append(vulns, cv)
	}
	if len(vulns) > 0 {
		bom.Vulnerabilities = &vulns
	}
	enc := cdx.NewBOMEncoder(w, cdx.BOMFileFormatJSON).SetPretty(true).SetEscapeHTML(false)
	if err := enc.EncodeVersion(bom, cdx.SpecVersion1_6); err != nil {
		return fmt.Errorf("writing CycloneDX report: %w", err)
	}
	return nil
}

// cdxSeverity maps Warden's severities to CycloneDX's (which has no NEGLIGIBLE).
func cdxSeverity(s string) cdx.Severity {
	switch s {
	case "CRITICAL":
		return cdx.SeverityCritical
	case "HIGH":
		return cdx.SeverityHigh
	case "MEDIUM":
		return cdx.SeverityMedium
	case "LOW":
		return cdx.SeverityLow
	case "NEGLIGIBLE":
		return cdx.SeverityInfo
	}
	return cdx.SeverityUnknown
}

func scoreSeverity(s float64) string {
	switch {
	case s >= 9:
		return "critical"
	case s >= 7:
		return "high"
	case s >= 4:
		return "medium"
	case s > 0:
		return "low"
	}
	return "none"
}

func cvssMethod(version string) cdx.ScoringMethod {
	switch {
	case strings.HasPrefix(version, "2"):
		return cdx.ScoringMethodCVSSv2
	case version == "3.1":
		return cdx.ScoringMethodCVSSv31
	case strings.HasPrefix(version, "3"):
		return cdx.ScoringMethodCVSSv3
	case strings.HasPrefix(version, "4"):
		return cdx.ScoringMethodCVSSv4
	}
	return cdx.ScoringMethodOther
}

// cdxJustification maps OpenVEX justifications to CycloneDX's.
func cdxJustification(j string) cdx.ImpactAnalysisJustification {
	switch j {
	case "component_not_present", "vulnerable_code_not_present":
		return cdx.IAJCodeNotPresent
	case "vulnerable_code_not_in_execute_path":
		return cdx.IAJCodeNotReachable
	case "vulnerable_code_cannot_be_controlled_by_adversary":
		return cdx.IAJRequiresEnvironment
	case "inline_mitigations_already_exist":
		return cdx.IAJProtectedByMitigatingControl
	}
	return ""
}
