package facts

import (
	"context"
	"fmt"
	"log/slog"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wardensec/warden/pkg/inventory"
	"github.com/wardensec/warden/pkg/lint"
	"github.com/wardensec/warden/pkg/match"
	"github.com/wardensec/warden/pkg/policy"
	"github.com/wardensec/warden/pkg/vulndb"
)

// BaseAnnotation names an image's base image (OCI pre-defined annotation).
const BaseAnnotation = "org.opencontainers.image.base.name"

// InspectOptions configure Inspect.
type InspectOptions struct {
	Reference string   // the name lint reports use
	Tags      []string // other names the image has
	Logger    *slog.Logger
}

// Inspect computes the image facts of img from its inventory: the config
// user, pkg/lint's findings, the packages, the size and the base image (the
// manifest's base annotation, else the config label). `warden check`, the
// registry gate and the runtime gates all take them from here.
func Inspect(ctx context.Context, img v1.Image, inv *inventory.Inventory, opt InspectOptions) (*policy.ImageFacts, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading the config of %s: %w", opt.Reference, err)
	}
	rep, err := lint.Lint(ctx, img, lint.Options{Reference: opt.Reference, Tags: opt.Tags, Packages: len(inv.Packages), Logger: opt.Logger})
	if err != nil {
		return nil, err
	}
	im := &policy.ImageFacts{User: cf.Config.User, Lint: rep.Findings, Packages: inv.Packages, SizeBytes: rep.SizeBytes, Tags: opt.Tags}
	if m, err := img.Manifest(); err == nil && m.Annotations[BaseAnnotation] != "" {
		im.Base = m.Annotations[BaseAnnotation]
	} else if cf.Config.Labels[BaseAnnotation] != "" {
		im.Base = cf.Config.Labels[BaseAnnotation]
	}
	return im, nil
}

// Vulnerabilities matches the inventory of the image called name against the
// database at dbPath (pkg/match). The database is opened first, so that a
// missing one denies before the image is read.
func Vulnerabilities(ctx context.Context, dbPath, name string, inventoryOf func(context.Context) (*inventory.Inventory, error), log *slog.Logger) (*policy.VulnFacts, error) {
	db, err := vulndb.Open(dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	inv, err := inventoryOf(ctx)
	if err != nil {
		return nil, err
	}
	fs, err := match.Match(ctx, db, inv, match.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("matching %s: %w", name, err)
	}
	return &policy.VulnFacts{DBBuilt: db.Built(), Findings: fs}, nil
}
