package sbom

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"

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
	b   []byte // the component being written directly
	n   int    // components written
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
	if !directComponent(c) {
		cw.reflectComponent(c, files)
		return
	}
	cw.writeDirect(c, files)
}

// directComponent reports whether c sets only the fields the direct writer
// writes: bom-ref, type, name, version, description, licenses (each a licence
// with a name and nothing else), purl, properties and evidence (occurrences
// with a location and nothing else). Anything else set (any field of a newer
// cyclonedx-go too) goes through encoding/json. The comparisons are with the
// whole structs, so a field cyclonedx-go adds is checked without listing it
// here; TestCycloneDXComponents compares the bytes with cyclonedx-go's own
// encoding, so a change in its encoded form (order, omitempty) fails there.
func directComponent(c *cdx.Component) bool {
	rest := *c
	rest.BOMRef, rest.Type, rest.Name, rest.Version, rest.Description, rest.PackageURL = "", "", "", "", "", ""
	rest.Licenses, rest.Properties, rest.Evidence = nil, nil, nil
	if rest != (cdx.Component{}) {
		return false
	}
	if c.Licenses != nil {
		for i := range *c.Licenses {
			lc := (*c.Licenses)[i]
			if lc.License == nil {
				return false
			}
			l := *lc.License
			lc.License = nil
			if lc != (cdx.LicenseChoice{}) || l.Name == "" {
				return false
			}
			l.Name = ""
			if l != (cdx.License{}) {
				return false
			}
		}
	}
	if e := c.Evidence; e != nil {
		if (cdx.Evidence{Occurrences: e.Occurrences}) != *e {
			return false
		}
		if e.Occurrences != nil {
			for _, o := range *e.Occurrences {
				if (cdx.EvidenceOccurrence{Location: o.Location}) != o {
					return false
				}
			}
		}
	}
	return true
}

// writeDirect writes c (for which directComponent holds) as the
// encoder would: the fields in cdx.Component's order, indented two spaces
// a level below the four of the components array.
func (cw *cdxWriter) writeDirect(c *cdx.Component, files []string) {
	b := cw.b[:0]
	b = append(b, '{')
	if c.BOMRef != "" {
		b = append(b, "\n      \"bom-ref\": "...)
		b = appendString(b, c.BOMRef, false)
		b = append(b, ',')
	}
	b = append(b, "\n      \"type\": "...)
	b = appendString(b, string(c.Type), false)
	b = append(b, ",\n      \"name\": "...)
	b = appendString(b, c.Name, false)
	if c.Version != "" {
		b = append(b, ",\n      \"version\": "...)
		b = appendString(b, c.Version, false)
	}
	if c.Description != "" {
		b = append(b, ",\n      \"description\": "...)
		b = appendString(b, c.Description, false)
	}
	if c.Licenses != nil {
		b = append(b, ",\n      \"licenses\": "...)
		switch {
		case *c.Licenses == nil:
			b = append(b, "null"...)
		case len(*c.Licenses) == 0:
			b = append(b, "[]"...)
		default:
			b = append(b, '[')
			for i, lc := range *c.Licenses {
				if i > 0 {
					b = append(b, ',')
				}
				// cdx.License's MarshalJSON goes through json.Marshal,
				// which escapes <, > and &; the encoder keeps that.
				b = append(b, "\n        {\n          \"license\": {\n            \"name\": "...)
				b = appendString(b, lc.License.Name, true)
				b = append(b, "\n          }\n        }"...)
			}
			b = append(b, "\n      ]"...)
		}
	}
	if c.PackageURL != "" {
		b = append(b, ",\n      \"purl\": "...)
		b = appendString(b, c.PackageURL, false)
	}
	if c.Properties != nil {
		b = append(b, ",\n      \"properties\": "...)
		switch {
		case *c.Properties == nil:
			b = append(b, "null"...)
		case len(*c.Properties) == 0:
			b = append(b, "[]"...)
		default:
			b = append(b, '[')
			for i, p := range *c.Properties {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(b, "\n        {\n          \"name\": "...)
				b = appendString(b, p.Name, false)
				b = append(b, ",\n          \"value\": "...)
				b = appendString(b, p.Value, false)
				b = append(b, "\n        }"...)
			}
			b = append(b, "\n      ]"...)
		}
	}
	if len(files) > 0 {
		b = append(b, ",\n      \"components\": ["...)
		for i, f := range files {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n        {\n          \"type\": \"file\",\n          \"name\": "...)
			b = appendString(b, f, false)
			b = append(b, "\n        }"...)
			if len(b) >= 64<<10 {
				cw.w.Write(b)
				b = b[:0]
			}
		}
		b = append(b, "\n      ]"...)
	}
	if e := c.Evidence; e != nil {
		b = append(b, ",\n      \"evidence\": {"...)
		if e.Occurrences != nil {
			b = append(b, "\n        \"occurrences\": "...)
			switch {
			case *e.Occurrences == nil:
				b = append(b, "null"...)
			case len(*e.Occurrences) == 0:
				b = append(b, "[]"...)
			default:
				b = append(b, '[')
				for i, o := range *e.Occurrences {
					if i > 0 {
						b = append(b, ',')
					}
					if o.Location == "" {
						b = append(b, "\n          {}"...)
						continue
					}
					b = append(b, "\n          {\n            \"location\": "...)
					b = appendString(b, o.Location, false)
					b = append(b, "\n          }"...)
				}
				b = append(b, "\n        ]"...)
			}
			b = append(b, "\n      }"...)
		} else {
			b = append(b, '}')
		}
	}
	b = append(b, "\n    }"...)
	cw.w.Write(b)
	cw.b = b[:0]
}

// reflectComponent writes c through encoding/json, splicing the files in.
func (cw *cdxWriter) reflectComponent(c *cdx.Component, files []string) {
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
	cw.w.Write(appendString(cw.w.AvailableBuffer(), s, false))
}

// jsonPlain[c] holds for the ASCII bytes encoding/json writes as they are
// when not escaping HTML; jsonPlainHTML[c] when escaping it too.
var jsonPlain, jsonPlainHTML = func() (plain, html [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		plain[c] = c != '"' && c != '\\'
		html[c] = plain[c] && c != '<' && c != '>' && c != '&'
	}
	return
}()

// plainWord reports whether none of the 8 bytes in w needs a look of its
// own: no control byte, no '"' or '\', nothing past ASCII, and with
// escapeHTML no '<', '>' or '&' (each test is exact: it says whether such a
// byte is there). An SBOM's 100,000 file names pass 8 bytes at a time.
func plainWord(w uint64, escapeHTML bool) bool { return badBytes(w, escapeHTML) == 0 }

// badBytes is non-zero when plainWord(w) does not hold.
func badBytes(w uint64, escapeHTML bool) uint64 {
	bad := badJSON(w)
	if escapeHTML {
		bad |= badHTML(w)
	}
	return bad
}

const ones, highs = 0x0101010101010101, 0x8080808080808080

// badJSON is non-zero when a byte of w is a control byte, '"', '\\' or
// past ASCII. With no byte past ASCII (w&highs == 0), x-ones has a high bit
// set exactly when a byte of x is zero (no byte borrows otherwise), and
// w-0x20s exactly when a byte is below 0x20. Small enough to be inlined.
func badJSON(w uint64) uint64 {
	return (w | (w - ones*0x20) | ((w ^ ones*'"') - ones) | ((w ^ ones*'\\') - ones)) & highs
}

// badHTML is badJSON's for '<', '>' and '&', exact only beside badJSON (when
// no byte is past ASCII). '<' and '>' differ in one bit: x|2 == '>' holds
// for those two bytes alone.
func badHTML(w uint64) uint64 {
	return (((w | ones*2) ^ ones*'>') - ones | ((w ^ ones*'&') - ones)) & highs
}

// word is the 8 bytes of s from i on, little-endian (one load).
func word(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// plainString reports whether encoding/json writes s as it is, between
// quotes: 16 bytes a step, the last 8 read once more, overlapping (a
// file name is a few dozen bytes).
func plainString(s string, escapeHTML bool) bool {
	n := len(s)
	if n < 8 {
		plain := &jsonPlain
		if escapeHTML {
			plain = &jsonPlainHTML
		}
		for i := 0; i < n; i++ {
			if c := s[i]; c >= utf8.RuneSelf || !plain[c] {
				return false
			}
		}
		return true
	}
	if escapeHTML {
		return plainHTML(s)
	}
	var bad uint64
	i := 0
	for ; i+16 <= n; i += 16 {
		bad |= badJSON(word(s, i)) | badJSON(word(s, i+8))
	}
	if i+8 <= n {
		bad |= badJSON(word(s, i))
	}
	return bad|badJSON(word(s, n-8)) == 0
}

// plainHTML is plainString's with escapeHTML, for len(s) >= 8.
func plainHTML(s string) bool {
	var bad uint64
	n := len(s)
	for i := 0; i < n; i += 8 {
		w := word(s, min(i, n-8))
		bad |= badJSON(w) | badHTML(w)
	}
	return bad == 0
}

// appendString appends s as a JSON string exactly as encoding/json writes it
// (control bytes as \b, \f, \n, \r, \t or \u00XX, invalid UTF-8 as \ufffd,
// U+2028 and U+2029 escaped; <, > and & as \u003c, \u003e and \u0026 when
// escapeHTML).
func appendString(dst []byte, s string, escapeHTML bool) []byte {
	const hex = "0123456789abcdef"
	plain := &jsonPlain
	if escapeHTML {
		plain = &jsonPlainHTML
	}
	dst = append(dst, '"')
	if plainString(s, escapeHTML) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i := 0; i < len(s); {
		if i+8 <= len(s) && plainWord(word(s, i), escapeHTML) {
			i += 8
			continue
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if plain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// dependencies writes deps as the encoder would, directly when they set
// only ref and dependsOn (a thousand refs and more on a big image).
func (cw *cdxWriter) dependencies(deps []cdx.Dependency) {
	for _, d := range deps {
		if (cdx.Dependency{Ref: d.Ref, Dependencies: d.Dependencies}) != d {
			cw.w.Write(cw.encode(&deps, "  "))
			return
		}
	}
	b := cw.b[:0]
	switch {
	case deps == nil:
		b = append(b, "null"...)
	case len(deps) == 0:
		b = append(b, "[]"...)
	default:
		b = append(b, '[')
		for i, d := range deps {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, "\n    {\n      \"ref\": "...)
			b = appendString(b, d.Ref, false)
			if d.Dependencies != nil {
				b = append(b, ",\n      \"dependsOn\": "...)
				switch {
				case *d.Dependencies == nil:
					b = append(b, "null"...)
				case len(*d.Dependencies) == 0:
					b = append(b, "[]"...)
				default:
					b = append(b, '[')
					for j, r := range *d.Dependencies {
						if j > 0 {
							b = append(b, ',')
						}
						b = append(b, "\n        "...)
						b = appendString(b, r, false)
					}
					b = append(b, "\n      ]"...)
				}
			}
			b = append(b, "\n    }"...)
		}
		b = append(b, "\n  ]"...)
	}
	cw.w.Write(b)
	cw.b = b[:0]
}

// finish writes the dependencies (when there were components) and the end.
func (cw *cdxWriter) finish(deps []cdx.Dependency) error {
	if cw.n > 0 {
		cw.w.WriteString("\n  ],\n  \"dependencies\": ")
		cw.dependencies(deps)
	}
	cw.w.WriteString("\n}\n")
	if cw.err != nil {
		return cw.err
	}
	return cw.w.Flush()
}
