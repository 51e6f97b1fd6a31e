package sbom

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"

	"github.com/wardensec/warden/pkg/inventory"
)

// WriteCycloneDX writes a CycloneDX 1.6 JSON document. The image is the
// metadata component (type container, its layers as properties), the distro an
// operating-system component, each package a library component with its PURL,
// properties (warden:layer, warden:layer:index, warden:location, ...) and its
// owned files as nested components of type "file".
func WriteCycloneDX(w io.Writer, inv *inventory.Inventory, img Image, opt Options) error {
	p, err := prepare(inv, img, opt)
	if err != nil {
		return err
	}
	bom := cdx.NewBOM()
	bom.SerialNumber = "urn:uuid:" + p.uuid()

	imageRef := "image:" + img.Name
	imageComp := &cdx.Component{
		BOMRef:  imageRef,
		Type:    cdx.ComponentTypeContainer,
		Name:    img.Name,
		Version: p.imageVersion(),
	}
	var iprops []cdx.Property
	if img.ConfigDigest != "" {
		iprops = append(iprops, cdx.Property{Name: "warden:image:config_digest", Value: img.ConfigDigest})
	}
	if img.Platform != "" {
		iprops = append(iprops, cdx.Property{Name: "warden:image:platform", Value: img.Platform})
	}
	for _, t := range img.RepoTags {
		iprops = append(iprops, cdx.Property{Name: "warden:image:repo_tag", Value: t})
	}
	for i, l := range img.Layers {
		iprops = append(iprops, cdx.Property{Name: "warden:image:layer:" + strconv.Itoa(i), Value: l.DiffID})
	}
	if len(iprops) > 0 {
		imageComp.Properties = &iprops
	}

	bom.Metadata = &cdx.Metadata{
		Timestamp: p.created.Format(time.RFC3339),
		Tools: &cdx.ToolsChoice{Components: &[]cdx.Component{{
			Type:    cdx.ComponentTypeApplication,
			Name:    "warden",
			Version: p.tool,
		}}},
		Component: imageComp,
	}

	// The document is written as it is built, one package at a time (an
	// image's packages own hundreds of thousands of files): first the
	// header up to the metadata, then each component, then the dependencies,
	// with the bytes encoding/json would give for the whole BOM at once.
	bom.SpecVersion = cdx.SpecVersion1_6
	bom.JSONSchema = "http://cyclonedx.org/schema/bom-1.6.schema.json"
	bom.XMLNS = "http://cyclonedx.org/schema/bom/1.6"
	cw := newCDXWriter(w)
	if err := cw.head(bom); err != nil {
		return fmt.Errorf("image %q: writing CycloneDX: %w", img.Name, err)
	}
	var deps []string
	if d := inv.Distro; d != nil && d.ID != "" {
		ref := "os:" + d.ID
		if d.VersionID != "" {
			ref += "@" + d.VersionID
		}
		osc := cdx.Component{
			BOMRef:      ref,
			Type:        cdx.ComponentTypeOS,
			Name:        d.ID,
			Version:     d.VersionID,
			Description: d.PrettyName,
		}
		var props []cdx.Property
		if d.Codename != "" {
			props = append(props, cdx.Property{Name: "warden:distro:codename", Value: d.Codename})
		}
		for _, l := range d.IDLike {
			props = append(props, cdx.Property{Name: "warden:distro:id_like", Value: l})
		}
		if d.Distroless {
			props = append(props, cdx.Property{Name: "warden:distro:distroless", Value: "true"})
		}
		if len(props) > 0 {
			osc.Properties = &props
		}
		cw.component(&osc, nil)
		deps = append(deps, ref)
	}

	used := map[string]bool{imageRef: true}
	for i := range p.pkgs {
		pk := &p.pkgs[i]
		ref := pk.PURL
		if ref == "" {
			ref = "pkg:" + pk.Ecosystem + "/" + pk.Name + "@" + pk.Version
		}
		for n := 2; used[ref]; n++ {
			ref = fmt.Sprintf("%s#%d", pk.PURL, n)
		}
		used[ref] = true
		c := cdx.Component{
			BOMRef:     ref,
			Type:       cdx.ComponentTypeLibrary,
			Name:       pk.Name,
			Version:    pk.Version,
			PackageURL: pk.PURL,
		}
		if len(pk.Licenses) > 0 {
			lic := make(cdx.Licenses, 0, len(pk.Licenses))
			for _, l := range pk.Licenses {
				// Names, not SPDX ids: a package's own licence string is not always a valid id.
				lic = append(lic, cdx.LicenseChoice{License: &cdx.License{Name: l}})
			}
			c.Licenses = &lic
		}
		props := []cdx.Property{{Name: PropEcosystem, Value: pk.Ecosystem}}
		if pk.Layer != "" {
			props = append(props, cdx.Property{Name: PropLayer, Value: pk.Layer})
			if li := p.layerIndex(pk.Layer); li >= 0 {
				props = append(props, cdx.Property{Name: PropLayerIndex, Value: strconv.Itoa(li)})
			}
		}
		for _, l := range pk.Locations {
			props = append(props, cdx.Property{Name: PropLocation, Value: l})
		}
		if pk.SourceName != "" {
			props = append(props, cdx.Property{Name: PropSource, Value: pk.SourceName})
		}
		if pk.SourceVersion != "" {
			props = append(props, cdx.Property{Name: PropSourceVer, Value: pk.SourceVersion})
		}
		if pk.Arch != "" {
			props = append(props, cdx.Property{Name: PropArch, Value: pk.Arch})
		}
		if pk.OwnedBy != "" {
			props = append(props, cdx.Property{Name: "warden:owned_by", Value: pk.OwnedBy})
		}
		c.Properties = &props
		if len(pk.Locations) > 0 {
			occ := make([]cdx.EvidenceOccurrence, 0, len(pk.Locations))
			for _, l := range pk.Locations {
				occ = append(occ, cdx.EvidenceOccurrence{Location: l})
			}
			c.Evidence = &cdx.Evidence{Occurrences: &occ}
		}
		cw.component(&c, pk.Files)
		deps = append(deps, ref)
	}
	if err := cw.finish([]cdx.Dependency{{Ref: imageRef, Dependencies: &deps}}); err != nil {
		return fmt.Errorf("image %q: writing CycloneDX: %w", img.Name, err)
	}
	return nil
}

// cdxWriter writes a CycloneDX JSON BOM in pieces, byte for byte what
// cyclonedx-go's pretty, non-HTML-escaping encoder writes for the whole BOM
// (a BOM that sets nothing after "metadata" but components and dependencies;
// the BOM uses nothing newer than 1.6, so it is labelled 1.6 directly instead
// of EncodeVersion's deep copy through encoding/gob).
type cdxWriter struct {
	w   *bufio.Writer
	buf bytes.Buffer
	enc *json.Encoder
	n   int // components written
	err error
}

func newCDXWriter(w io.Writer) *cdxWriter {
	cw := &cdxWriter{w: bufio.NewWriterSize(w, 256<<10)}
	cw.enc = json.NewEncoder(&cw.buf)
	cw.enc.SetEscapeHTML(false)
	return cw
}

// encode returns v as indented JSON whose lines after the first start with
// prefix, without the final newline; valid until the next call.
func (cw *cdxWriter) encode(v any, prefix string) []byte {
	cw.buf.Reset()
	cw.enc.SetIndent(prefix, "  ")
	if err := cw.enc.Encode(v); err != nil && cw.err == nil {
		cw.err = err
	}
	return bytes.TrimSuffix(cw.buf.Bytes(), []byte("\n"))
}

// head writes bom (with its metadata, no components) without its closing brace.
func (cw *cdxWriter) head(bom *cdx.BOM) error {
	b := cw.encode(bom, "")
	if cw.err != nil {
		return cw.err
	}
	b, ok := bytes.CutSuffix(b, []byte("\n}"))
	if !ok {
		return fmt.Errorf("unexpected end of the encoded BOM")
	}
	cw.w.Write(b)
	return nil
}

// component writes c with files as its nested components of type "file"
// (what encoding/json would write for c.Components; written directly, as
// an image's packages own hundreds of thousands of files).
func (cw *cdxWriter) component(c *cdx.Component, files []string) {
	if cw.n == 0 {
		cw.w.WriteString(",\n  \"components\": [\n    ")
	} else {
		cw.w.WriteString(",\n    ")
	}
	cw.n++
	b := cw.encode(c, "    ")
	if len(files) == 0 || c.Components != nil {
		cw.w.Write(b)
		return
	}
	// "components" comes right after "properties" and before "evidence",
	// the only later field this writer sets.
	at := bytes.Index(b, []byte(",\n      \"evidence\": "))
	if at < 0 {
		at = len(b) - len("\n    }")
	}
	cw.w.Write(b[:at])
	cw.w.WriteString(",\n      \"components\": [")
	for i, f := range files {
		if i > 0 {
			cw.w.WriteByte(',')
		}
		cw.w.WriteString("\n        {\n          \"type\": \"file\",\n          \"name\": ")
		cw.writeString(f)
		cw.w.WriteString("\n        }")
	}
	cw.w.WriteString("\n      ]")
	cw.w.Write(b[at:])
}

// writeString writes s as encoding/json does (HTML characters not escaped).
func (cw *cdxWriter) writeString(s string) {
	plain := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		cw.w.WriteByte('"')
		cw.w.WriteString(s)
		cw.w.WriteByte('"')
		return
	}
	cw.w.Write(cw.encode(s, ""))
}

// finish writes the dependencies (when there were components) and the end.
func (cw *cdxWriter) finish(deps []cdx.Dependency) error {
	if cw.n > 0 {
		cw.w.WriteString("\n  ],\n  \"dependencies\": ")
		cw.w.Write(cw.encode(&deps, "  "))
	}
	cw.w.WriteString("\n}\n")
	if cw.err != nil {
		return cw.err
	}
	return cw.w.Flush()
}
