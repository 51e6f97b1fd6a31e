// Package gobinary reads the modules compiled into Go executables (ELF, Mach-O,
// PE) from their build information (debug/buildinfo), the Go toolchain as the
// "stdlib" package, and the functions linked into the binary from its pclntab,
// so that the matcher can tell whether a vulnerable symbol is present.
package gobinary

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime/debug"
	"strings"

	"github.com/package-url/packageurl-go"

	"github.com/wardensec/warden/pkg/extract"
	"github.com/wardensec/warden/pkg/extract/lang/internal/langutil"
	"github.com/wardensec/warden/pkg/inventory"
)

const (
	// MinSize and MaxSize bound the executables looked at: the smallest Go
	// binary the gc toolchain links is well over 512 KiB (hello world is ~1.5 MB,
	// ~1 MB stripped); over 200 MiB is not read.
	MinSize = 512 << 10
	MaxSize = 200 << 20
	// maxInMemory bounds the copy made when the walk gives no random access.
	maxInMemory = 64 << 20
	// maxPclntab bounds the section read whole to look for a function
	// table inside it (.data.rel.ro of an externally linked binary).
	maxPclntab = 64 << 20
)

// Extractor is the Go binary extractor.
type Extractor struct{}

// New returns the extractor.
func New() *Extractor { return &Extractor{} }

// Name implements extract.Extractor.
func (*Extractor) Name() string { return "lang/gobinary" }

// Version implements extract.Extractor.
func (*Extractor) Version() int { return 1 }

// Required implements extract.Extractor: regular files of plausible size that
// are executable or sit where executables live.
func (*Extractor) Required(path string, mode fs.FileMode, size int64) bool {
	if !mode.IsRegular() || size < MinSize || size > MaxSize {
		return false
	}
	if mode&0o111 != 0 {
		return true
	}
	if strings.HasSuffix(path, ".exe") {
		return true
	}
	dir := path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		dir = path[:i]
	} else {
		return false
	}
	return dir == "bin" || dir == "sbin" || strings.HasSuffix(dir, "/bin") || strings.HasSuffix(dir, "/sbin")
}

// isExecutable reports whether the first bytes are an ELF, Mach-O or PE header.
func isExecutable(b []byte) bool {
	switch {
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return true
	case bytes.HasPrefix(b, []byte("MZ")):
		return true
	case bytes.HasPrefix(b, []byte("\xfe\xed\xfa")) || (len(b) >= 4 && bytes.Equal(b[1:4], []byte("\xfa\xed\xfe"))):
		return true
	case bytes.HasPrefix(b, []byte("\xca\xfe\xba\xbe")) || bytes.HasPrefix(b, []byte("\xca\xfe\xba\xbf")):
		// Mach-O fat binary (or a Java class file, which buildinfo rejects quickly).
		return true
	}
	return false
}

// Extract implements extract.Extractor.
func (e *Extractor) Extract(ctx context.Context, in *extract.Input) ([]inventory.Package, error) {
	at := in.At
	if at == nil {
		// No random access: look at the magic first, then copy a bounded file.
		if in.Reader == nil {
			return nil, nil
		}
		head := make([]byte, 16)
		n, _ := io.ReadFull(in.Reader, head)
		if !isExecutable(head[:n]) {
			return nil, nil
		}
		if in.Size > maxInMemory {
			langutil.Warn(in, "executable of %d bytes skipped: no random access and over %d bytes", in.Size, maxInMemory)
			return nil, nil
		}
		rest, err := io.ReadAll(io.LimitReader(in.Reader, maxInMemory))
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", langutil.Location(in.Path), err)
		}
		b := append(head[:n], rest...)
		at = bytes.NewReader(b)
	} else {
		head := make([]byte, 16)
		n, _ := at.ReadAt(head, 0)
		if !isExecutable(head[:n]) {
			return nil, nil
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return extractAt(in, at)
}

func extractAt(in *extract.Input, at io.ReaderAt) ([]inventory.Package, error) {
	bi, err := buildinfo.Read(at)
	if err != nil {
		switch err.Error() {
		case "not a Go executable":
			if looksLikeGo(at) {
				langutil.Warn(in, "looks like a Go binary (Go sections present) but has no readable build info")
			}
			return nil, nil
		case "unrecognized file format":
			if looksLikeGo(at) {
				langutil.Warn(in, "looks like a Go binary but is not a valid executable")
			}
			return nil, nil
		}
		langutil.Warn(in, "Go build info unreadable: %v", err)
		return nil, nil
	}
	pkgs := packages(in, bi)
	if _, err := assignSymbols(pkgs, at); err != nil {
		langutil.Warn(in, "Go symbol table unreadable, reachability unknown: %v", err)
	}
	goos, goarch := platform(bi, at)
	for i := range pkgs {
		pkgs[i].GOOS, pkgs[i].GOARCH = goos, goarch
	}
	return pkgs, nil
}

// looksLikeGo reports whether an executable carries Go's own sections.
func looksLikeGo(at io.ReaderAt) bool {
	if f, err := elf.NewFile(at); err == nil {
		for _, s := range f.Sections {
			switch s.Name {
			case ".go.buildinfo", ".gopclntab", ".note.go.buildid", ".data.rel.ro.gopclntab":
				return true
			}
		}
		return false
	}
	if f, err := macho.NewFile(at); err == nil {
		return f.Section("__go_buildinfo") != nil || f.Section("__gopclntab") != nil
	}
	// Fallback for headers the debug packages reject: the build info magic
	// in the first MiB.
	buf := make([]byte, 1<<20)
	n, _ := at.ReadAt(buf, 0)
	return bytes.Contains(buf[:n], []byte("\xff Go buildinf:"))
}

// StdlibVersion turns a toolchain version ("go1.26.8", "go1.21rc2",
// "go1.20", "go1.22.1 X:boringcrypto") into the version the Go vulndb uses
// for stdlib ("1.26.8", "1.21.0-rc.2", "1.20.0"); "" when it is not a release.
func StdlibVersion(v string) string {
	v, _, _ = strings.Cut(v, " ")
	if !strings.HasPrefix(v, "go1") {
		return ""
	}
	v = strings.TrimPrefix(v, "go")
	pre := ""
	for _, tag := range []string{"rc", "beta"} {
		if i := strings.Index(v, tag); i > 0 {
			pre = "-" + tag + "." + v[i+len(tag):]
			v = v[:i]
			break
		}
	}
	if strings.Count(v, ".") == 1 {
		v += ".0"
	}
	return v + pre
}

func purl(path, version string) string {
	ns, name := "", path
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		ns, name = path[:i], path[i+1:]
	}
	return langutil.PURL(packageurl.TypeGolang, ns, name, version, nil)
}

func packages(in *extract.Input, bi *buildinfo.BuildInfo) []inventory.Package {
	var pkgs []inventory.Package
	add := func(m *debug.Module, main bool) {
		path, version := m.Path, m.Version
		meta := map[string]string{}
		if m.Replace != nil {
			meta["replaces"] = m.Path + "@" + m.Version
			if m.Replace.Version != "" {
				path, version = m.Replace.Path, m.Replace.Version
			} else {
				// Replaced by a local directory: the code is not the
				// published module; keep the path, the version is unknown.
				meta["replace_dir"] = m.Replace.Path
				version = ""
			}
		}
		if main {
			meta["main_module"] = "true"
		}
		if len(meta) == 0 {
			meta = nil
		}
		if path == "" {
			return
		}
		p := langutil.Package(in, inventory.Go, path, version, purl(path, version))
		p.Meta = meta
		pkgs = append(pkgs, p)
	}
	if bi.Main.Path != "" {
		add(&bi.Main, true)
	}
	for _, d := range bi.Deps {
		add(d, false)
	}
	if v := StdlibVersion(bi.GoVersion); v != "" {
		p := langutil.Package(in, inventory.Go, "stdlib", v, purl("stdlib", v))
		p.Meta = map[string]string{"go_version": bi.GoVersion}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func platform(bi *buildinfo.BuildInfo, at io.ReaderAt) (goos, goarch string) {
	for _, s := range bi.Settings {
		switch s.Key {
		case "GOOS":
			goos = s.Value
		case "GOARCH":
			goarch = s.Value
		}
	}
	if goos != "" && goarch != "" {
		return goos, goarch
	}
	if f, err := elf.NewFile(at); err == nil {
		if goos == "" {
			goos = "linux"
		}
		if goarch == "" {
			goarch = elfArch[f.Machine]
		}
	} else if f, err := pe.NewFile(at); err == nil {
		if goos == "" {
			goos = "windows"
		}
		if goarch == "" {
			goarch = peArch[f.Machine]
		}
	} else if f, err := macho.NewFile(at); err == nil {
		if goos == "" {
			goos = "darwin"
		}
		if goarch == "" {
			goarch = machoArch[f.Cpu]
		}
	}
	return goos, goarch
}

var elfArch = map[elf.Machine]string{
	elf.EM_X86_64: "amd64", elf.EM_386: "386", elf.EM_AARCH64: "arm64", elf.EM_ARM: "arm",
	elf.EM_PPC64: "ppc64le", elf.EM_S390: "s390x", elf.EM_RISCV: "riscv64", elf.EM_MIPS: "mips",
	elf.EM_LOONGARCH: "loong64",
}
var peArch = map[uint16]string{
	pe.IMAGE_FILE_MACHINE_AMD64: "amd64", pe.IMAGE_FILE_MACHINE_I386: "386",
	pe.IMAGE_FILE_MACHINE_ARM64: "arm64", pe.IMAGE_FILE_MACHINE_ARMNT: "arm",
}
var machoArch = map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64", macho.Cpu386: "386"}

// symbols calls fn with each linked function's import path and full name
// ("<import path>.<Symbol>"), as the Go vulndb names them (both valid only
// during the call); known is false
// (no error) when the binary has no function table to read (none, or one
// from before Go 1.18).
func symbols(at io.ReaderAt, fn func(pkg, name []byte)) (known bool, err error) {
	tab, err := findPclntab(at)
	if err != nil || tab == nil {
		return false, err
	}
	var buf []byte
	return tab.names(func(name string) {
		var n int
		var ok bool
		if buf, n, ok = appendSplitSymbol(buf[:0], name); ok {
			fn(buf[:n], buf)
		}
	})
}

// table is a pclntab where findPclntab found it: in memory (data), or at the
// start of a section of the file (r, size bytes), read in windows.
type table struct {
	data []byte
	r    io.ReaderAt
	size int64
}

// names calls fn with each name of the table's function name table (valid
// only during the call); known is false when the table does not parse.
func (tb *table) names(fn func(name string)) (known bool, err error) {
	if tb.r != nil {
		return streamNames(tb.r, tb.size, nameWindow, fn)
	}
	t, err := parsePclntab(tb.data)
	if err != nil {
		return false, nil
	}
	t.names(fn)
	return true, nil
}

// memBytes is the whole file when the walk holds it in memory (its ReaderAt
// then has a Bytes method), else nil.
func memBytes(at io.ReaderAt) []byte {
	if b, ok := at.(interface{ Bytes() []byte }); ok {
		return b.Bytes()
	}
	return nil
}

// sliceOf is mem[off:off+n], or nil when mem does not hold all of it.
func sliceOf(mem []byte, off, n uint64) []byte {
	if mem == nil || off > uint64(len(mem)) || n > uint64(len(mem))-off {
		return nil
	}
	return mem[off : off+n : off+n]
}

// readSection reads the first n bytes of a section (bounded).
func readSection(r io.ReaderAt, n int64) ([]byte, error) {
	if n < 0 || n > maxPclntab {
		return nil, fmt.Errorf("section of %d bytes is over the %d-byte limit", n, maxPclntab)
	}
	b := make([]byte, n)
	if _, err := r.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return b, nil
}

// findPclntab returns where the function table is (nil when the binary has
// none).
func findPclntab(at io.ReaderAt) (*table, error) {
	if f, err := elf.NewFile(at); err == nil {
		s := f.Section(".gopclntab")
		if s == nil {
			s = f.Section(".data.rel.ro.gopclntab")
		}
		mem := memBytes(at)
		if s != nil && s.Type != elf.SHT_NOBITS {
			if data := sliceOf(mem, s.Offset, s.Size); data != nil {
				return &table{data: data}, nil
			}
			return &table{r: s, size: int64(s.Size)}, nil
		}
		if rel := f.Section(".data.rel.ro"); rel != nil && rel.Type != elf.SHT_NOBITS {
			// Linked by an external linker: the table sits inside
			// .data.rel.ro without a section header of its own.
			data := sliceOf(mem, rel.Offset, rel.Size)
			if data == nil {
				var err error
				if data, err = readSection(rel, int64(rel.Size)); err != nil {
					return nil, err
				}
			}
			if off := findPclntabMagic(data); off >= 0 {
				return &table{data: data[off:]}, nil
			}
		}
		return nil, nil
	}
	if f, err := macho.NewFile(at); err == nil {
		if s := f.Section("__gopclntab"); s != nil {
			return &table{r: s, size: int64(s.Size)}, nil
		}
		return nil, nil
	}
	if f, err := pe.NewFile(at); err == nil {
		var start, end *pe.Symbol
		for _, s := range f.Symbols {
			switch s.Name {
			case "runtime.pclntab":
				start = s
			case "runtime.epclntab":
				end = s
			}
		}
		if start == nil || end == nil || start.SectionNumber != end.SectionNumber ||
			start.SectionNumber < 1 || int(start.SectionNumber) > len(f.Sections) || end.Value < start.Value {
			return nil, nil
		}
		n := int64(end.Value - start.Value)
		return &table{r: io.NewSectionReader(f.Sections[start.SectionNumber-1], int64(start.Value), n), size: n}, nil
	}
	return nil, nil
}

// assignSymbols reads the linked symbols and puts each on the module that
// holds its package: the longest module path that is a prefix of the import
// path; packages whose first path element has no dot belong to the standard
// library. Symbols are kept as hashes of "<import path>.<Symbol>" (see
// inventory.Symbols).
func assignSymbols(pkgs []inventory.Package, at io.ReaderAt) (known bool, err error) {
	// Import paths keep the original module path even when replaced.
	byModule := map[string]int{}
	for i := range pkgs {
		p := &pkgs[i]
		mod := p.Name
		if r := p.Meta["replaces"]; r != "" {
			mod, _, _ = strings.Cut(r, "@")
		}
		if p.Name == "stdlib" && p.Meta["go_version"] != "" {
			mod = "std"
		}
		byModule[mod] = i
	}
	moduleOf := func(pkg string) int {
		first, _, _ := strings.Cut(pkg, "/")
		if pkg == "main" {
			return -1 // the main package: never in advisories
		}
		if !strings.Contains(first, ".") {
			if i, ok := byModule["std"]; ok {
				return i
			}
			return -1
		}
		idx, best := -1, -1
		for mod, i := range byModule {
			if (pkg == mod || strings.HasPrefix(pkg, mod+"/")) && len(mod) > best {
				best, idx = len(mod), i
			}
		}
		return idx
	}
	lists := make([]inventory.Symbols, len(pkgs))
	pkgModule := map[string]int{} // import path -> index in pkgs (-1: none)
	known, err = symbols(at, func(pkg, name []byte) {
		if len(name) == len(pkg)+1 { // no symbol after the dot
			return
		}
		// The map lookup of string(pkg) does not allocate: a string is made
		// only for a new package. Names can repeat after normalisation
		// ((*T).M and T.M, instantiations); Normalize drops the repeats.
		idx, ok := pkgModule[string(pkg)]
		if !ok {
			idx = moduleOf(string(pkg))
			pkgModule[string(pkg)] = idx
			if idx >= 0 {
				lists[idx].Pkgs = append(lists[idx].Pkgs, inventory.SymbolHashBytes(pkg))
			}
		}
		if idx < 0 {
			return
		}
		lists[idx].Funcs = append(lists[idx].Funcs, inventory.SymbolHashBytes(name))
	})
	if err != nil || !known {
		return known, err
	}
	for i := range pkgs {
		lists[i].Normalize()
		pkgs[i].SymbolsKnown = true
		pkgs[i].Symbols = lists[i]
	}
	return true, nil
}

// findPclntabMagic finds a Go 1.18+ pclntab header in data (aligned, magic,
// two zero bytes, a valid instruction quantum and pointer size, and a header
// that parses), or returns -1.
func findPclntabMagic(data []byte) int {
	for i := 0; i+64 <= len(data); i += 4 {
		m := binary.LittleEndian.Uint32(data[i:])
		mb := binary.BigEndian.Uint32(data[i:])
		if m != magic118 && m != magic120 && mb != magic118 && mb != magic120 {
			continue
		}
		if data[i+4] != 0 || data[i+5] != 0 {
			continue
		}
		if q := data[i+6]; q != 1 && q != 2 && q != 4 {
			continue
		}
		if ps := data[i+7]; ps != 4 && ps != 8 {
			continue
		}
		if t, err := parsePclntab(data[i:]); err == nil && t.nfunc > 0 && t.firstName() != "" {
			return i
		}
	}
	return -1
}
