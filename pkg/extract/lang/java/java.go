// Package java reads Java archives (jar, war, ear and the like), including
// archives nested inside them (WEB-INF/lib, BOOT-INF/lib, lib/): each
// META-INF/maven/<group>/<artifact>/pom.properties gives one Maven package;
// an archive without one falls back to META-INF/MANIFEST.MF, then to its file name.
package java

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/lang/internal/langutil"
	"github.com/wardensec/warden/pkg/inventory"
)

// Limits on hostile or huge archives.
const (
	MaxSize       = 256 << 20 // an archive on disk
	maxInMemory   = 64 << 20  // archive copied to memory when the walk gives no random access
	maxNested     = 64 << 20  // one nested archive, uncompressed
	maxNestedSum  = 256 << 20 // all nested archives of one file, uncompressed
	maxDepth      = 3         // archive in archive in archive
	maxEntries    = 200_000
	maxSmallEntry = 1 << 20 // pom.properties, MANIFEST.MF
)

var archiveExt = []string{".jar", ".war", ".ear", ".par", ".sar", ".jpi", ".hpi", ".rar"}

func isArchive(name string) bool {
	name = strings.ToLower(name)
	for _, e := range archiveExt {
		if strings.HasSuffix(name, e) {
			return true
		}
	}
	return false
}

// Extractor is the Java archive extractor.
type Extractor struct{}

// New returns the extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "lang/java" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor.
func (*Extractor) Required(path string, mode fs.FileMode, size int64) bool {
	return mode.IsRegular() && size > 0 && size <= MaxSize && isArchive(langutil.Base(path))
}

type state struct {
	in        *extract.Input
	nestedSum int64
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	at, size := in.At, in.Size
	if at == nil {
		b, err := langutil.ReadAll(in, maxInMemory)
		if err != nil {
			return nil, err
		}
		at, size = bytes.NewReader(b), int64(len(b))
	}
	zr, err := zip.NewReader(at, size)
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid Java archive (zip): %w", langutil.Location(in.Path), err)
	}
	st := &state{in: in}
	return st.archive(ctx, zr, langutil.Location(in.Path), langutil.Base(in.Path), 0)
}

// PURL returns pkg:maven/<group>/<artifact>@<version>.
func PURL(group, artifact, version string) string {
	return langutil.PURL(packageurl.TypeMaven, group, artifact, version, nil)
}

func (st *state) archive(ctx context.Context, zr *zip.Reader, loc, fileName string, depth int) ([]inventory.Package, error) {
	if len(zr.File) > maxEntries {
		return nil, fmt.Errorf("%s: %d entries, over the %d limit", loc, len(zr.File), maxEntries)
	}
	var pkgs []inventory.Package
	var manifest *zip.File
	var nested []*zip.File
	seen := map[string]bool{}
	for _, f := range zr.File {
		name := f.Name
		switch {
		case strings.HasPrefix(name, "META-INF/maven/") && strings.HasSuffix(name, "/pom.properties"):
			props, err := readSmall(f)
			if err != nil {
				langutil.Warn(st.in, "%s: %s: %v", loc, name, err)
				continue
			}
			kv := parseProperties(props)
			g, a, v := kv["groupId"], kv["artifactId"], kv["version"]
			if g == "" || a == "" || v == "" {
				langutil.Warn(st.in, "%s: %s lacks groupId, artifactId or version", loc, name)
				continue
			}
			if seen[g+":"+a+"@"+v] {
				continue
			}
			seen[g+":"+a+"@"+v] = true
			pkgs = append(pkgs, st.pkg(loc, g, a, v, "pom.properties"))
		case strings.EqualFold(name, "META-INF/MANIFEST.MF"):
			manifest = f
		case depth < maxDepth && isArchive(name) && !strings.HasSuffix(name, "/"):
			nested = append(nested, f)
		}
	}
	if len(pkgs) == 0 {
		if p, ok := st.fromManifest(manifest, loc, fileName); ok {
			pkgs = append(pkgs, p)
		}
	}
	for _, f := range nested {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		sub, err := st.nested(ctx, f, loc, depth)
		if err != nil {
			langutil.Warn(st.in, "%v", err)
			continue
		}
		pkgs = append(pkgs, sub...)
	}
	return pkgs, nil
}

func (st *state) nested(ctx context.Context, f *zip.File, loc string, depth int) ([]inventory.Package, error) {
	sub := loc + "!/" + f.Name
	if f.UncompressedSize64 > maxNested {
		return nil, fmt.Errorf("%s: nested archive of %d bytes skipped (limit %d)", sub, f.UncompressedSize64, maxNested)
	}
	if st.nestedSum+int64(f.UncompressedSize64) > maxNestedSum {
		return nil, fmt.Errorf("%s: skipped, nested archives over %d bytes in all", sub, maxNestedSum)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sub, err)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxNested+1))
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sub, err)
	}
	if len(b) > maxNested {
		return nil, fmt.Errorf("%s: nested archive over %d bytes", sub, maxNested)
	}
	st.nestedSum += int64(len(b))
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("%s: not a valid Java archive (zip): %w", sub, err)
	}
	return st.archive(ctx, zr, sub, langutil.Base(f.Name), depth+1)
}

func (st *state) pkg(loc, group, artifact, version, from string) inventory.Package {
	name := artifact
	if group != "" {
		name = group + ":" + artifact
	}
	p := inventory.Package{
		Name: name, Version: version, Ecosystem: inventory.Maven,
		PURL:      PURL(group, artifact, version),
		Locations: []string{loc},
		Layer:     st.in.Layer,
		Meta:      map[string]string{"source": from},
	}
	if group == "" {
		p.Meta["group_unknown"] = "true"
	}
	return p
}

func readSmall(f *zip.File) ([]byte, error) {
	if f.UncompressedSize64 > maxSmallEntry {
		return nil, fmt.Errorf("%d bytes, over the %d-byte limit", f.UncompressedSize64, maxSmallEntry)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxSmallEntry+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSmallEntry {
		return nil, fmt.Errorf("over the %d-byte limit", maxSmallEntry)
	}
	return b, nil
}

// parseProperties reads the key=value (or key: value) lines of a Java
// properties file; comments start with # or !.
func parseProperties(b []byte) map[string]string {
	kv := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || l[0] == '#' || l[0] == '!' {
			continue
		}
		i := strings.IndexAny(l, "=:")
		if i < 0 {
			continue
		}
		kv[strings.TrimSpace(l[:i])] = strings.TrimSpace(l[i+1:])
	}
	return kv
}

// parseManifest reads the main section of a MANIFEST.MF (continuation lines
// start with one space and continue the previous value).
func parseManifest(b []byte) map[string]string {
	kv := map[string]string{}
	var last string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if l == "" {
			break // end of the main section
		}
		if l[0] == ' ' {
			if last != "" {
				kv[last] += l[1:]
			}
			continue
		}
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		last = strings.TrimSpace(k)
		kv[last] = strings.TrimSpace(v)
	}
	return kv
}

var fileNameVersion = regexp.MustCompile(`^(.+?)-(\d+(?:\.\d+)*(?:[.-][A-Za-z0-9]+)*)$`)

// fromManifest: Implementation-Vendor-Id/-Title/-Version or Bundle-* from
// MANIFEST.MF, completed from the file name ("log4j-core-2.14.1.jar").
func (st *state) fromManifest(mf *zip.File, loc, fileName string) (inventory.Package, bool) {
	stem := fileName
	if i := strings.LastIndexByte(stem, '.'); i > 0 {
		stem = stem[:i]
	}
	var fnArtifact, fnVersion string
	if m := fileNameVersion.FindStringSubmatch(stem); m != nil {
		fnArtifact, fnVersion = m[1], m[2]
	}
	var kv map[string]string
	if mf != nil {
		if b, err := readSmall(mf); err == nil {
			kv = parseManifest(b)
		} else {
			langutil.Warn(st.in, "%s: META-INF/MANIFEST.MF: %v", loc, err)
		}
	}
	version := first(kv["Implementation-Version"], kv["Bundle-Version"], kv["Specification-Version"])
	group := kv["Implementation-Vendor-Id"]
	artifact := fnArtifact
	if version == "" {
		version = fnVersion
	}
	if artifact == "" {
		artifact = first(kv["Implementation-Title"], kv["Bundle-SymbolicName"])
		if i := strings.IndexByte(artifact, ';'); i >= 0 {
			artifact = artifact[:i] // Bundle-SymbolicName: x;singleton:=true
		}
	}
	if artifact == "" || version == "" || strings.ContainsAny(artifact, " \t") {
		return inventory.Package{}, false
	}
	from := "manifest"
	if kv == nil || first(kv["Implementation-Version"], kv["Bundle-Version"], kv["Specification-Version"]) == "" {
		from = "filename"
	}
	return st.pkg(loc, group, artifact, version, from), true
}

func first(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
