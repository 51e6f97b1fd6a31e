package report

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/wardensec/warden/internal/jsonindent"
)

// SARIF 2.1.0, in the shape GitHub code scanning accepts: one rule per
// advisory (help text, helpUri, security-severity), one result per finding
// with a location (the file the package was read from, relative to the image root).

type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool               sarifTool                   `json:"tool"`
	Results            []sarifResult               `json:"results"`
	ColumnKind         string                      `json:"columnKind"`
	OriginalURIBaseIDs map[string]sarifArtifactLoc `json:"originalUriBaseIds"`
	Properties         *sarifRunProps              `json:"properties,omitempty"`
}

// sarifRunProps lists the Go findings left out of the results because their
// vulnerable code is not linked into the binary.
type sarifRunProps struct {
	UnlinkedGoFindings []string `json:"unlinkedGoFindings"`
}

type sarifResultProps struct {
	Linked *bool `json:"linked,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	FullName       string      `json:"fullName"`
	InformationURI string      `json:"informationUri"`
	Version        string      `json:"version,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifText struct {
	Text string `json:"text"`
}

type sarifHelp struct {
	Text     string `json:"text"`
	Markdown string `json:"markdown"`
}

type sarifRule struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	ShortDescription     sarifText      `json:"shortDescription"`
	FullDescription      sarifText      `json:"fullDescription"`
	DefaultConfiguration sarifConfig    `json:"defaultConfiguration"`
	HelpURI              string         `json:"helpUri,omitempty"`
	Help                 sarifHelp      `json:"help"`
	Properties           sarifRuleProps `json:"properties"`
}

type sarifConfig struct {
	Level string `json:"level"`
}

type sarifRuleProps struct {
	Precision        string   `json:"precision"`
	SecuritySeverity string   `json:"security-severity"`
	Tags             []string `json:"tags"`
}

type sarifResult struct {
	RuleID     string            `json:"ruleId"`
	RuleIndex  int               `json:"ruleIndex"`
	Level      string            `json:"level"`
	Message    sarifText         `json:"message"`
	Locations  []sarifLocation   `json:"locations"`
	Properties *sarifResultProps `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
	Message          sarifText     `json:"message"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifactLoc `json:"artifactLocation"`
	Region           sarifRegion      `json:"region"`
}

type sarifArtifactLoc struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId,omitempty"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn"`
	EndLine     int `json:"endLine"`
	EndColumn   int `json:"endColumn"`
}

func sarifLevel(sev string) string {
	switch sev {
	case "CRITICAL", "HIGH":
		return "error"
	case "MEDIUM":
		return "warning"
	default:
		return "note"
	}
}

// securitySeverity is GitHub's numeric severity: the highest CVSS score, else
// a score in the middle of the severity's band.
func securitySeverity(v *Vulnerability) string {
	best := -1.0
	for _, c := range v.CVSS {
		if c.Score > best {
			best = c.Score
		}
	}
	if best < 0 {
		switch v.Severity {
		case "CRITICAL":
			best = 9.5
		case "HIGH":
			best = 8.0
		case "MEDIUM":
			best = 5.5
		case "LOW":
			best = 2.0
		default:
			best = 0.0
		}
	}
	return strconv.FormatFloat(best, 'f', 1, 64)
}

func writeSARIF(w io.Writer, doc *Document, in *Input) error {
	run := sarifRun{
		Tool: sarifTool{Driver: sarifDriver{
			Name: "warden", FullName: "Warden container image scanner",
			InformationURI: "https://github.com/wardensec/warden", Version: in.ToolVersion,
			Rules: []sarifRule{},
		}},
		Results:            []sarifResult{},
		ColumnKind:         "utf16CodeUnits",
		OriginalURIBaseIDs: map[string]sarifArtifactLoc{"ROOTPATH": {URI: "file:///"}},
	}
	ruleIndex := map[string]int{}
	for i := range doc.Vulnerabilities {
		v := &doc.Vulnerabilities[i]
		if v.Linked != nil && !*v.Linked {
			// Not linked into the binary: not an alert, but named in the run's properties.
			if run.Properties == nil {
				run.Properties = &sarifRunProps{}
			}
			run.Properties.UnlinkedGoFindings = append(run.Properties.UnlinkedGoFindings, v.ID+" "+v.Package.Name+"@"+v.Package.Version)
			continue
		}
		idx, ok := ruleIndex[v.ID]
		if !ok {
			idx = len(run.Tool.Driver.Rules)
			ruleIndex[v.ID] = idx
			short := v.Title
			if short == "" {
				short = v.ID
			}
			full := v.Description
			if full == "" {
				full = short
			}
			fixed := v.FixedVersion
			if fixed == "" {
				fixed = "no fixed version (" + v.Status + ")"
			}
			help := fmt.Sprintf("Vulnerability %s\nSeverity: %s\nPackage: %s\nFixed version: %s\nLink: %s", v.ID, v.Severity, v.Package.Name, fixed, v.URL)
			md := fmt.Sprintf("**Vulnerability [%s](%s)**\n\n| Severity | Package | Fixed version | Link |\n| --- | --- | --- | --- |\n| %s | %s | %s | [%s](%s) |\n\n%s",
				v.ID, v.URL, v.Severity, v.Package.Name, fixed, v.ID, v.URL, full)
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRule{
				ID: v.ID, Name: ruleName(v), ShortDescription: sarifText{short}, FullDescription: sarifText{full},
				DefaultConfiguration: sarifConfig{Level: sarifLevel(v.Severity)},
				HelpURI:              v.URL, Help: sarifHelp{Text: help, Markdown: md},
				Properties: sarifRuleProps{Precision: "very-high", SecuritySeverity: securitySeverity(v),
					Tags: []string{"vulnerability", "security", v.Severity}},
			})
		}
		loc := doc.Artifact // no file known: the image itself
		if len(v.Package.Locations) > 0 {
			loc = v.Package.Locations[0]
		}
		fixed := "no fix released (" + v.Status + ")"
		if v.FixedVersion != "" {
			fixed = "fixed in " + v.FixedVersion
		}
		msg := fmt.Sprintf("%s %s is affected by %s (%s); %s. Image: %s", v.Package.Name, v.Package.Version, v.ID, v.Severity, fixed, doc.Artifact)
		var props *sarifResultProps
		if v.Linked != nil {
			props = &sarifResultProps{Linked: v.Linked}
		}
		run.Results = append(run.Results, sarifResult{
			RuleID: v.ID, RuleIndex: idx, Level: sarifLevel(v.Severity), Message: sarifText{msg}, Properties: props,
			Locations: []sarifLocation{{
				PhysicalLocation: sarifPhysical{
					ArtifactLocation: sarifArtifactLoc{URI: strings.TrimPrefix(loc, "/"), URIBaseID: "ROOTPATH"},
					Region:           sarifRegion{StartLine: 1, StartColumn: 1, EndLine: 1, EndColumn: 1},
				},
				Message: sarifText{doc.Artifact + ": " + v.Package.Name + "@" + v.Package.Version},
			}},
		})
	}
	if err := jsonindent.Encode(w, sarifLog{Schema: "https://json.schemastore.org/sarif-2.1.0.json", Version: "2.1.0", Runs: []sarifRun{run}}, "  ", false); err != nil {
		return fmt.Errorf("writing SARIF report: %w", err)
	}
	return nil
}

func ruleName(v *Vulnerability) string {
	switch v.Package.Ecosystem {
	case "apk", "dpkg", "rpm":
		return "OsPackageVulnerability"
	}
	return "LanguagePackageVulnerability"
}
