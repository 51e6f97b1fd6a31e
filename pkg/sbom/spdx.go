package sbom

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"

	"github.com/wardensec/warden/pkg/inventory"
)

const noAssertion = "NOASSERTION"

// SPDX element ids of the image and its operating system.
const (
	spdxImageID = "Image"
	spdxOSID    = "OperatingSystem"
)

// WriteSPDX writes an SPDX 2.3 JSON document: the document DESCRIBES the image
// package (purpose CONTAINER), which CONTAINS the operating-system package and
// every package. Packages carry their PURL as a PACKAGE-MANAGER external
// reference; the layer, the locations and the owned files are package
// annotations ("warden:layer=<diff id>", "warden:location=<path>",
// "warden:files=" then one path per line). Files are not SPDX File elements:
// those need a checksum of the content, which an inventory does not read.
func WriteSPDX(w io.Writer, inv *inventory.Inventory, img Image, opt Options) error {
	p, err := prepare(inv, img, opt)
	if err != nil {
		return err
	}
	created := p.created.Format(time.RFC3339)
	tool := "warden-" + p.tool
	annot := func(comment string) spdx.Annotation {
		return spdx.Annotation{
			Annotator:         common.Annotator{Annotator: tool, AnnotatorType: "Tool"},
			AnnotationDate:    created,
			AnnotationType:    "OTHER",
			AnnotationComment: comment,
		}
	}

	doc := &spdx.Document{
		SPDXVersion:       spdx.Version,
		DataLicense:       spdx.DataLicense,
		SPDXIdentifier:    "DOCUMENT",
		DocumentName:      img.Name,
		DocumentNamespace: "https://spdx.org/spdxdocs/warden-" + sanitizeID(img.Name) + "-" + p.uuid(),
		CreationInfo: &spdx.CreationInfo{
			Creators: []common.Creator{{Creator: tool, CreatorType: "Tool"}},
			Created:  created,
		},
	}

	imagePkg := &spdx.Package{
		PackageName:             img.Name,
		PackageSPDXIdentifier:   spdxImageID,
		PackageVersion:          p.imageVersion(),
		PackageDownloadLocation: noAssertion,
		PackageLicenseConcluded: noAssertion,
		PackageLicenseDeclared:  noAssertion,
		PackageCopyrightText:    noAssertion,
		PrimaryPackagePurpose:   "CONTAINER",
	}
	if hexd, ok := strings.CutPrefix(img.Digest, "sha256:"); ok {
		imagePkg.PackageChecksums = []common.Checksum{{Algorithm: common.SHA256, Value: hexd}}
	}
	for i, l := range img.Layers {
		imagePkg.Annotations = append(imagePkg.Annotations, annot("warden:image:layer:"+strconv.Itoa(i)+"="+l.DiffID))
	}
	if img.Platform != "" {
		imagePkg.Annotations = append(imagePkg.Annotations, annot("warden:image:platform="+img.Platform))
	}
	doc.Packages = append(doc.Packages, imagePkg)
	doc.Relationships = append(doc.Relationships, &spdx.Relationship{
		RefA:         common.MakeDocElementID("", "DOCUMENT"),
		RefB:         common.MakeDocElementID("", spdxImageID),
		Relationship: common.TypeRelationshipDescribe,
	})
	contains := func(id common.ElementID) {
		doc.Relationships = append(doc.Relationships, &spdx.Relationship{
			RefA:         common.MakeDocElementID("", spdxImageID),
			RefB:         common.MakeDocElementID("", string(id)),
			Relationship: common.TypeRelationshipContains,
		})
	}

	if d := inv.Distro; d != nil && d.ID != "" {
		osPkg := &spdx.Package{
			PackageName:             d.ID,
			PackageSPDXIdentifier:   spdxOSID,
			PackageVersion:          d.VersionID,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  noAssertion,
			PackageCopyrightText:    noAssertion,
			PackageDescription:      d.PrettyName,
			PrimaryPackagePurpose:   "OPERATING_SYSTEM",
		}
		if d.Codename != "" {
			osPkg.Annotations = append(osPkg.Annotations, annot("warden:distro:codename="+d.Codename))
		}
		doc.Packages = append(doc.Packages, osPkg)
		contains(spdxOSID)
	}

	used := map[string]bool{}
	for i := range p.pkgs {
		pk := &p.pkgs[i]
		id := packageID(pk)
		for n := 2; used[id]; n++ {
			id = packageID(pk) + "-" + strconv.Itoa(n)
		}
		used[id] = true
		sp := &spdx.Package{
			PackageName:             pk.Name,
			PackageSPDXIdentifier:   common.ElementID(id),
			PackageVersion:          pk.Version,
			PackageDownloadLocation: noAssertion,
			PackageLicenseConcluded: noAssertion,
			PackageLicenseDeclared:  noAssertion,
			PackageCopyrightText:    noAssertion,
			PrimaryPackagePurpose:   "LIBRARY",
		}
		if len(pk.Licenses) > 0 {
			if expr, ok := licenseExpression(pk.Licenses); ok {
				sp.PackageLicenseDeclared = expr
			} else {
				sp.PackageLicenseComments = "declared by the package: " + strings.Join(pk.Licenses, "; ")
			}
		}
		if pk.SourceName != "" || pk.SourceVersion != "" {
			sp.PackageSourceInfo = "built from source package " + pk.Source() + " " + pk.SourceVer()
		}
		if pk.PURL != "" {
			sp.PackageExternalReferences = []*spdx.PackageExternalReference{{
				Category: common.CategoryPackageManager,
				RefType:  common.TypePackageManagerPURL,
				Locator:  pk.PURL,
			}}
		}
		if pk.Layer != "" {
			c := PropLayer + "=" + pk.Layer
			if li := p.layerIndex(pk.Layer); li >= 0 {
				c += " (layer " + strconv.Itoa(li) + ")"
			}
			sp.Annotations = append(sp.Annotations, annot(c))
		}
		for _, l := range pk.Locations {
			sp.Annotations = append(sp.Annotations, annot(PropLocation+"="+l))
		}
		if len(pk.Files) > 0 {
			sp.Annotations = append(sp.Annotations, annot("warden:files=\n"+strings.Join(pk.Files, "\n")))
		}
		doc.Packages = append(doc.Packages, sp)
		contains(common.ElementID(id))
	}

	if err := spdxjson.Write(doc, w, spdxjson.Indent("  "), spdxjson.EscapeHTML(false)); err != nil {
		return fmt.Errorf("image %q: writing SPDX: %w", img.Name, err)
	}
	return nil
}

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

func sanitizeID(s string) string {
	s = idUnsafe.ReplaceAllString(s, "-")
	s = strings.Trim(s, "-")
	if s == "" {
		s = "x"
	}
	return s
}

// packageID is a stable SPDX id: ecosystem, name and a short hash of the package key.
func packageID(pk *inventory.Package) string {
	sum := sha256.Sum256([]byte(pk.Key()))
	return "Package-" + sanitizeID(pk.Ecosystem) + "-" + sanitizeID(pk.Name) + "-" + hex.EncodeToString(sum[:4])
}

// licenseToken is one SPDX license id or LicenseRef (with an optional "+").
var licenseToken = regexp.MustCompile(`^(LicenseRef-[A-Za-z0-9.-]+|[A-Za-z0-9][A-Za-z0-9.-]*\+?)$`)

// licenseExpression joins the declared licences into an SPDX expression when
// every one of them already has the shape of one (ids joined by AND/OR/WITH,
// parentheses); otherwise it reports false and the caller records them as a comment.
func licenseExpression(ls []string) (string, bool) {
	var parts []string
	for _, l := range ls {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if !looksLikeExpression(l) {
			return "", false
		}
		if len(ls) > 1 && strings.ContainsAny(l, " ") {
			l = "(" + l + ")"
		}
		parts = append(parts, l)
	}
	if len(parts) == 0 {
		return "", false
	}
	return strings.Join(parts, " AND "), true
}

func looksLikeExpression(s string) bool {
	s = strings.NewReplacer("(", " ( ", ")", " ) ").Replace(s)
	depth := 0
	wantID := true
	for _, tok := range strings.Fields(s) {
		switch tok {
		case "(":
			if !wantID {
				return false
			}
			depth++
		case ")":
			if wantID || depth == 0 {
				return false
			}
			depth--
		case "AND", "OR", "WITH":
			if wantID {
				return false
			}
			wantID = true
		default:
			if !wantID || !licenseToken.MatchString(tok) {
				return false
			}
			wantID = false
		}
	}
	return depth == 0 && !wantID
}
