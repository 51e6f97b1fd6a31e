// Package rustaudit reads the dependency list that cargo-auditable embeds in
// Rust executables: a zlib-compressed JSON document (the "VersionInfo" of
// auditable-serde: {"packages": [{"name", "version", "source", "kind",
// "dependencies", "root"}]}) in a section named .dep-v0.
package rustaudit

import (
	"bytes"
	"compress/zlib"
	"context"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/lang/cargo"
	"github.com/wardensec/warden/pkg/extract/lang/internal/langutil"
	"github.com/wardensec/warden/pkg/inventory"
)

const (
	// MinSize and MaxSize bound the executables looked at.
	MinSize     = 128 << 10 // a Rust executable links std statically: well over 128 KiB
	MaxSize     = 200 << 20
	maxInMemory = 64 << 20
	maxSection  = 8 << 20  // compressed
	maxJSON     = 64 << 20 // decompressed
	sectionName = ".dep-v0"
)

// Extractor is the cargo-auditable binary extractor.
type Extractor struct{}

// New returns the extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "lang/rustaudit" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor: executables of plausible size.
func (*Extractor) Required(path string, mode fs.FileMode, size int64) bool {
	if !mode.IsRegular() || size < MinSize || size > MaxSize {
		return false
	}
	return mode&0o111 != 0 || strings.HasSuffix(path, ".exe")
}

// Extract implements extract.Extractor.
func (*Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	at := in.At
	if at == nil {
		if in.Size > maxInMemory {
			return nil, nil
		}
		b, err := langutil.ReadAll(in, maxInMemory)
		if err != nil {
			return nil, err
		}
		at = bytes.NewReader(b)
	}
	head := make([]byte, 4)
	if n, _ := at.ReadAt(head, 0); n < 4 {
		return nil, nil
	}
	var sec io.ReaderAt
	var size uint64
	switch {
	case bytes.Equal(head, []byte("\x7fELF")):
		f, err := elf.NewFile(at)
		if err != nil {
			return nil, nil // not our business: the Go extractor and others judge broken ELF files
		}
		if s := f.Section(sectionName); s != nil && s.Type != elf.SHT_NOBITS {
			sec, size = s, s.Size
		}
	case bytes.HasPrefix(head, []byte("MZ")):
		f, err := pe.NewFile(at)
		if err != nil {
			return nil, nil
		}
		if s := f.Section(sectionName); s != nil {
			sec, size = s, uint64(s.Size)
		}
	case bytes.Equal(head, []byte("\xcf\xfa\xed\xfe")) || bytes.Equal(head, []byte("\xce\xfa\xed\xfe")):
		f, err := macho.NewFile(at)
		if err != nil {
			return nil, nil
		}
		for _, name := range []string{sectionName, "__dep_v0"} {
			if s := f.Section(name); s != nil {
				sec, size = s, s.Size
				break
			}
		}
	}
	if sec == nil {
		return nil, nil
	}
	if size > maxSection {
		langutil.Warn(in, "%s section of %d bytes is over the %d-byte limit", sectionName, size, maxSection)
		return nil, nil
	}
	pkgs, err := parse(in, io.NewSectionReader(sec, 0, int64(size)))
	if err != nil {
		langutil.Warn(in, "cargo-auditable data unreadable: %v", err)
		return nil, nil
	}
	return pkgs, nil
}

func parse(in *extract.Input, r io.Reader) ([]inventory.Package, error) {
	zr, err := zlib.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	defer zr.Close()
	b, err := io.ReadAll(io.LimitReader(zr, maxJSON+1))
	if err != nil {
		return nil, fmt.Errorf("zlib: %w", err)
	}
	if len(b) > maxJSON {
		return nil, fmt.Errorf("over %d bytes decompressed", maxJSON)
	}
	var vi struct {
		Packages []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
			Source  string `json:"source"`
			Kind    string `json:"kind"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &vi); err != nil {
		return nil, fmt.Errorf("JSON: %w", err)
	}
	var pkgs []inventory.Package
	for _, p := range vi.Packages {
		// Build-time dependencies are not in the binary; local crates are the
		// workspace's own.
		if p.Name == "" || p.Version == "" || p.Kind == "build" || p.Source == "local" {
			continue
		}
		pkg := langutil.Package(in, inventory.Cargo, p.Name, p.Version, cargo.PURL(p.Name, p.Version))
		if p.Source != "" && p.Source != "crates.io" {
			pkg.Meta = map[string]string{"source": p.Source}
		}
		pkgs = append(pkgs, pkg)
	}
	return pkgs, nil
}
