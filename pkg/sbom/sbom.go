// Package sbom writes an image's inventory as a software bill of materials:
// CycloneDX 1.6 JSON, SPDX 2.3 JSON, or Warden's own JSON.
//
// Every package carries its PURL, the layer that added it and (unless
// Options.NoFiles) the files it owns. Output is deterministic: packages and
// files are sorted, the serial number / document namespace derive from the
// content, and the timestamp is taken from Options.Time.
package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/wardensec/warden/pkg/inventory"
)

// Formats.
const (
	FormatCycloneDX = "cyclonedx-json"
	FormatSPDX      = "spdx-json"
	FormatJSON      = "json"
)

// Formats lists the accepted format names.
var Formats = []string{FormatCycloneDX, FormatSPDX, FormatJSON}

// Property names (CycloneDX properties, SPDX annotation prefixes).
const (
	PropLayer      = "warden:layer"       // diff ID of the layer that added the package
	PropLayerIndex = "warden:layer:index" // 0-based index of that layer
	PropLocation   = "warden:location"    // file the package was read from
	PropSource     = "warden:source"      // source package name (dpkg Source, apk origin, rpm SRPM)
	PropSourceVer  = "warden:source:version"
	PropEcosystem  = "warden:ecosystem"
	PropArch       = "warden:arch"
	PropFile       = "warden:file" // SPDX annotation prefix for owned files
)

// Image describes the image the inventory was taken from.
type Image struct {
	Name         string   `json:"name"`                    // what the user typed
	Digest       string   `json:"digest,omitempty"`        // manifest digest
	ConfigDigest string   `json:"config_digest,omitempty"` // image ID
	Platform     string   `json:"platform,omitempty"`      // os/arch[/variant]
	RepoTags     []string `json:"repo_tags,omitempty"`
	Layers       []Layer  `json:"layers,omitempty"`
}

// Layer is one layer of the image, in order.
type Layer struct {
	DiffID string `json:"diff_id"`
	Digest string `json:"digest,omitempty"`
	Size   int64  `json:"size,omitempty"`
}

// Options control the output.
type Options struct {
	// Time is the document's creation time; the zero value means time.Now().
	// Set it (or SOURCE_DATE_EPOCH in the CLI) for reproducible output.
	Time time.Time
	// NoFiles leaves out the files each package owns.
	NoFiles bool
	// ToolVersion is Warden's version, written as the creating tool.
	ToolVersion string
}

// ImageFrom reads the image metadata (digest, config digest, platform, layers) from img.
func ImageFrom(name string, img v1.Image) (Image, error) {
	out := Image{Name: name}
	d, err := img.Digest()
	if err != nil {
		return out, fmt.Errorf("image %q: computing manifest digest: %w", name, err)
	}
	out.Digest = d.String()
	cd, err := img.ConfigName()
	if err != nil {
		return out, fmt.Errorf("image %q: computing config digest: %w", name, err)
	}
	out.ConfigDigest = cd.String()
	cf, err := img.ConfigFile()
	if err != nil {
		return out, fmt.Errorf("image %q: reading config: %w", name, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return out, fmt.Errorf("image %q: reading manifest: %w", name, err)
	}
	if cf.OS != "" {
		out.Platform = cf.OS + "/" + cf.Architecture
		if cf.Variant != "" {
			out.Platform += "/" + cf.Variant
		}
	}
	// The diff IDs come from the config's rootfs, not from layer.DiffID(): that
	// would inflate and hash every layer, seconds on a big image.
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return out, fmt.Errorf("image %q: config lists %d diff IDs for %d manifest layers", name, len(cf.RootFS.DiffIDs), len(m.Layers))
	}
	for i, l := range m.Layers {
		out.Layers = append(out.Layers, Layer{DiffID: cf.RootFS.DiffIDs[i].String(), Digest: l.Digest.String(), Size: l.Size})
	}
	return out, nil
}

// Write writes inv in the given format.
func Write(w io.Writer, format string, inv *inventory.Inventory, img Image, opt Options) error {
	switch format {
	case FormatCycloneDX:
		return WriteCycloneDX(w, inv, img, opt)
	case FormatSPDX:
		return WriteSPDX(w, inv, img, opt)
	case FormatJSON:
		return WriteJSON(w, inv, img, opt)
	default:
		return fmt.Errorf("unknown SBOM format %q (want one of %s)", format, strings.Join(Formats, ", "))
	}
}

// prepared is the normalised input all writers share.
type prepared struct {
	inv      *inventory.Inventory
	img      Image
	pkgs     []inventory.Package // sorted, files sorted (or dropped)
	layerIdx map[string]int
	created  time.Time
	id       string // content hash (hex), for serial numbers and namespaces
	tool     string
}

func prepare(inv *inventory.Inventory, img Image, opt Options) (*prepared, error) {
	if inv == nil {
		return nil, fmt.Errorf("image %q: no inventory", img.Name)
	}
	p := &prepared{inv: inv, img: img, layerIdx: map[string]int{}, tool: opt.ToolVersion}
	if p.tool == "" {
		p.tool = "devel"
	}
	for i, l := range img.Layers {
		if _, dup := p.layerIdx[l.DiffID]; !dup {
			p.layerIdx[l.DiffID] = i
		}
	}
	p.pkgs = make([]inventory.Package, len(inv.Packages))
	for i, pk := range inv.Packages {
		pk.Locations = sortedCopy(pk.Locations)
		pk.Licenses = append([]string(nil), pk.Licenses...)
		if opt.NoFiles {
			pk.Files = nil
		} else {
			pk.Files = sortedCopy(pk.Files)
		}
		p.pkgs[i] = pk
	}
	sort.SliceStable(p.pkgs, func(i, j int) bool { return lessPkg(&p.pkgs[i], &p.pkgs[j]) })
	p.created = opt.Time
	if p.created.IsZero() {
		p.created = time.Now()
	}
	p.created = p.created.UTC().Truncate(time.Second)

	// The content hash covers what the document says, so the same image and
	// inventory give the same serial number / namespace.
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00", img.Name, img.Digest, img.ConfigDigest)
	for _, l := range img.Layers {
		fmt.Fprintf(h, "%s\x00", l.DiffID)
	}
	if d := inv.Distro; d != nil {
		fmt.Fprintf(h, "%s\x00%s\x00", d.ID, d.VersionID)
	}
	for i := range p.pkgs {
		pk := &p.pkgs[i]
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d\x00", pk.Ecosystem, pk.Name, pk.Version, pk.PURL, len(pk.Files))
	}
	p.id = hex.EncodeToString(h.Sum(nil))
	return p, nil
}

func lessPkg(a, b *inventory.Package) bool {
	if a.Ecosystem != b.Ecosystem {
		return a.Ecosystem < b.Ecosystem
	}
	if a.Name != b.Name {
		return a.Name < b.Name
	}
	if a.Version != b.Version {
		return a.Version < b.Version
	}
	return firstOf(a.Locations) < firstOf(b.Locations)
}

func firstOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// sortedCopy returns s sorted: s itself when it already is (extractors sort
// their file lists once, before the layer cache), else a sorted copy.
func sortedCopy(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	if slices.IsSorted(s) {
		return s
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// uuid formats the first 16 bytes of the content hash as an RFC 4122 UUID
// (version 5 and variant bits set; name-based, as the content names it).
func (p *prepared) uuid() string {
	b, _ := hex.DecodeString(p.id[:32])
	b[6] = (b[6] & 0x0f) | 0x50
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// layerIndex returns the index of the layer with diff ID d, or -1.
func (p *prepared) layerIndex(d string) int {
	if i, ok := p.layerIdx[d]; ok {
		return i
	}
	return -1
}

// imageVersion is what the image is called with its digest, for display.
func (p *prepared) imageVersion() string {
	if p.img.Digest != "" {
		return p.img.Digest
	}
	return p.img.ConfigDigest
}
