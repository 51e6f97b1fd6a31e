package serve

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wardensec/warden/pkg/extract/all"
	"github.com/wardensec/warden/pkg/layercache"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/report"
	"github.com/wardensec/warden/pkg/sbom"
	"github.com/wardensec/warden/pkg/vulndb"
	"github.com/wardensec/warden/pkg/walk"
)

// libScanner is the registry's Scanner: pkg/walk builds the inventory from the
// image's local layers (cached by layer digest), pkg/match matches it against
// the vulnerability database, opened per scan so `warden db update` can swap it.
type libScanner struct {
	dbPath      string
	cache       *layercache.Cache
	log         *slog.Logger
	toolVersion string
}

func (s *libScanner) Scan(ctx context.Context, repo string, digest v1.Hash, img v1.Image) (*registry.ScanResult, error) {
	db, err := vulndb.Open(s.dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	inv, err := walk.Inventory(ctx, img, walk.Options{Extractors: all.Extractors(), Cache: s.cache, Logger: s.log, ImageName: repo + "@" + digest.String()})
	if err != nil {
		return nil, err
	}
	fs, err := match.Match(ctx, db, inv, match.Options{Logger: s.log})
	if err != nil {
		return nil, err
	}
	res := &registry.ScanResult{Scanner: "warden", ScannedAt: time.Now().UTC(), Packages: len(inv.Packages), Findings: []registry.Finding{}}
	if inv.Distro != nil {
		res.Distro = strings.TrimSpace(inv.Distro.ID + " " + inv.Distro.VersionID)
	}
	for _, f := range fs {
		if f.Suppressed != nil {
			continue
		}
		sev := vulndb.NormalizeSeverity(f.Advisory.Severity)
		if sev == "" {
			sev = "UNKNOWN" // as the scan report says (Alpine's secdb gives none)
		}
		rf := registry.Finding{
			ID: f.Advisory.ID, Aliases: f.Advisory.Aliases, Package: f.Package.Name, Version: f.Package.Version,
			FixedVersion: f.FixedVersion, Ecosystem: f.Package.Ecosystem, Severity: sev, Title: report.Title(&f.Advisory),
			URL: report.AdvisoryURL(&f.Advisory), // the advisory's own page: NVD, GHSA, osv.dev, the distro's tracker
		}
		for _, c := range f.Advisory.CVSS {
			if c.Score > rf.CVSS {
				rf.CVSS = c.Score
			}
		}
		res.Findings = append(res.Findings, rf)
	}
	registry.SortFindings(res.Findings)
	return res, nil
}

// WriteSBOM implements registry.SBOMWriter: the image's inventory (layer
// cache) written by pkg/sbom.
func (s *libScanner) WriteSBOM(ctx context.Context, w io.Writer, format, repo string, digest v1.Hash, img v1.Image) error {
	inv, err := walk.Inventory(ctx, img, walk.Options{Extractors: all.Extractors(), Cache: s.cache, Logger: s.log, ImageName: repo + "@" + digest.String()})
	if err != nil {
		return err
	}
	meta, err := sbom.ImageFrom(repo+"@"+digest.String(), img)
	if err != nil {
		return err
	}
	return sbom.Write(w, format, inv, meta, sbom.Options{ToolVersion: s.toolVersion})
}
