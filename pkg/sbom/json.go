package sbom

import (
	"fmt"
	"io"
	"time"

	"github.com/wardensec/warden/internal/jsonindent"
	"github.com/wardensec/warden/pkg/inventory"
)

// JSONSchemaVersion names the shape of Warden's own JSON SBOM.
const JSONSchemaVersion = "warden.sbom/v1"

// Document is Warden's own JSON SBOM.
type Document struct {
	Schema   string              `json:"schema"`
	Serial   string              `json:"serial"`
	Created  string              `json:"created"`
	Tool     string              `json:"tool"`
	Image    Image               `json:"image"`
	Distro   *inventory.Distro   `json:"distro,omitempty"`
	Packages []inventory.Package `json:"packages"`
	Warnings []string            `json:"warnings,omitempty"`
}

// WriteJSON writes Warden's own JSON: the image, the distro and every package
// as inventory.Package (PURL, layer diff ID, locations, owned files).
func WriteJSON(w io.Writer, inv *inventory.Inventory, img Image, opt Options) error {
	p, err := prepare(inv, img, opt)
	if err != nil {
		return err
	}
	doc := Document{
		Schema:   JSONSchemaVersion,
		Serial:   "urn:uuid:" + p.uuid(),
		Created:  p.created.Format(time.RFC3339),
		Tool:     "warden " + p.tool,
		Image:    img,
		Distro:   inv.Distro,
		Packages: p.pkgs,
		Warnings: inv.Warnings,
	}
	if doc.Packages == nil {
		doc.Packages = []inventory.Package{}
	}
	if err := jsonindent.Encode(w, doc, "  ", false); err != nil {
		return fmt.Errorf("image %q: writing JSON SBOM: %w", img.Name, err)
	}
	return nil
}
