package gobinary

import (
	"bytes"
	"context"
	"debug/elf"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardensec/warden/pkg/extract"
)

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		path string
		mode fs.FileMode
		size int64
		want bool
	}{
		{"usr/local/bin/app", 0o755, 5 << 20, true},
		{"app/server", 0o700, 5 << 20, true},
		{"usr/local/bin/app", 0o644, 5 << 20, true}, // bin dir without the exec bit
		{"opt/tool.exe", 0o644, 5 << 20, true},
		{"etc/passwd", 0o644, 5 << 20, false},
		{"usr/bin/sh", 0o755, 100 << 10, false},   // too small for a Go binary
		{"usr/bin/huge", 0o755, 300 << 20, false}, // over the limit
		{"usr/bin/link", fs.ModeSymlink | 0o777, 5 << 20, false},
		{"usr/bin", fs.ModeDir | 0o755, 5 << 20, false},
	} {
		if got := New().Required(tc.path, tc.mode, tc.size); got != tc.want {
			t.Errorf("Required(%q, %v, %d) = %v, want %v", tc.path, tc.mode, tc.size, got, tc.want)
		}
	}
}

func TestStdlibVersion(t *testing.T) {
	for in, want := range map[string]string{
		"go1.26.8":                "1.26.8",
		"go1.20":                  "1.20.0",
		"go1.21rc2":               "1.21.0-rc.2",
		"go1.22.1 X:boringcrypto": "1.22.1",
		"devel go1.27-abcdef":     "",
		"":                        "",
		"go1.19beta1":             "1.19.0-beta.1",
	} {
		if got := StdlibVersion(in); got != want {
			t.Errorf("StdlibVersion(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSplitSymbol(t *testing.T) {
	for _, tc := range []struct{ in, pkg, sym string }{
		{"golang.org/x/net/html.Parse", "golang.org/x/net/html", "Parse"},
		{"golang.org/x/net/html.(*Tokenizer).Next", "golang.org/x/net/html", "Tokenizer.Next"},
		{"gopkg.in/yaml%2ev2.Unmarshal", "gopkg.in/yaml.v2", "Unmarshal"},
		{"gopkg.in/yaml%2ev2.(*parser).parse", "gopkg.in/yaml.v2", "parser.parse"},
		{"slices.pdqsortOrdered[go.shape.int]", "slices", "pdqsortOrdered"},
		{"internal/sync.(*HashTrieMap[go.shape.interface {},go.shape.interface {}]).LoadOrStore", "internal/sync", "HashTrieMap.LoadOrStore"},
		{"fmt.Println", "fmt", "Println"},
		{"type:.eq.runtime.pcHeader", "", ""},
		{"go:buildid", "", ""},
	} {
		pkg, sym, ok := splitSymbol(tc.in)
		if pkg != tc.pkg || sym != tc.sym || ok != (tc.pkg != "") {
			t.Errorf("splitSymbol(%q) = %q, %q, %v; want %q, %q", tc.in, pkg, sym, ok, tc.pkg, tc.sym)
		}
	}
}

func run(t testing.TB, path string, data []byte) ([]string, error) {
	var warns []string
	in := &extract.Input{Path: path, Mode: 0o755, Size: int64(len(data)), Reader: bytes.NewReader(data),
		At: bytes.NewReader(data), Warn: func(m string) { warns = append(warns, m) }}
	_, err := New().Extract(context.Background(), in)
	return warns, err
}

// TestBadInput: non-Go files give nothing quietly; files that look like Go
// but are not readable give a warning naming the file; nothing panics.
func TestBadInput(t *testing.T) {
	dir := vulnApp(t)
	good, err := os.ReadFile(filepath.Join(dir, "vulnapp"))
	if err != nil {
		t.Fatal(err)
	}
	// A Go binary whose build info blob is overwritten: Go sections, no build info.
	fake := bytes.Clone(good)
	f, err := elf.NewFile(bytes.NewReader(fake))
	if err != nil {
		t.Fatal(err)
	}
	bi := f.Section(".go.buildinfo")
	for i := bi.Offset; i < bi.Offset+bi.Size; i++ {
		fake[i] = 0
	}
	warns, err := run(t, "app/fake", fake)
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0], "/app/fake") {
		t.Errorf("fake Go binary: err %v, warnings %q; want one warning naming /app/fake", err, warns)
	}
	// Only the Go build info magic after an ELF header.
	lookalike := append([]byte("\x7fELF\x02\x01\x01\x00"), make([]byte, 4096)...)
	copy(lookalike[1024:], "\xff Go buildinf:")
	warns, err = run(t, "bin/lookalike", lookalike)
	if err != nil || len(warns) != 1 || !strings.Contains(warns[0], "/bin/lookalike") {
		t.Errorf("look-alike: err %v, warnings %q", err, warns)
	}
	// Truncated real binary: no panic, and it says so or says nothing.
	if _, err := run(t, "bin/truncated", good[:len(good)/3]); err != nil {
		t.Errorf("truncated: %v", err)
	}
	// Not executables, and a non-Go ELF: nothing, no warning.
	for name, data := range map[string][]byte{
		"script":  []byte("#!/bin/sh\necho hi\n"),
		"empty":   nil,
		"text.go": []byte("package main"),
	} {
		if warns, err := run(t, name, data); err != nil || len(warns) != 0 {
			t.Errorf("%s: err %v, warnings %q", name, err, warns)
		}
	}
	if sh, err := os.ReadFile("/bin/sh"); err == nil {
		sh, _ = os.ReadFile("/bin/sh")
		if warns, err := run(t, "bin/sh", sh); err != nil || len(warns) != 0 {
			t.Errorf("/bin/sh: err %v, warnings %q", err, warns)
		}
	}
}

// FuzzExtract seeds with the head of a real Go binary (this test binary) and
// of its pclntab.
func FuzzExtract(f *testing.F) {
	exe, err := os.Executable()
	if err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b[:64<<10])
	f.Add([]byte("\x7fELF"))
	f.Add([]byte("MZ\x90\x00"))
	f.Add([]byte("\xca\xfe\xba\xbe\x00\x00\x00\x02"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = run(t, "bin/fuzz", data)
	})
}

func FuzzPclntab(f *testing.F) {
	exe, err := os.Executable()
	if err != nil {
		f.Fatal(err)
	}
	ef, err := elf.Open(exe)
	if err != nil {
		f.Skip("test binary is not ELF")
	}
	defer ef.Close()
	if s := ef.Section(".gopclntab"); s != nil {
		d, _ := s.Data()
		f.Add(d[:min(len(d), 32<<10)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := parsePclntab(data)
		if err != nil {
			return
		}
		tab.names(func(string) {})
		_ = tab.firstName()
	})
}

// referenceSplit is splitSymbol as first written, with strings: the
// reference FuzzSplitSymbol holds the buffer version to.
func referenceSplit(name string) (pkg, sym string, ok bool) {
	if name == "" || strings.HasPrefix(name, "go:") || strings.HasPrefix(name, "type:") ||
		strings.HasPrefix(name, "go.") || strings.HasPrefix(name, "type.") {
		return "", "", false
	}
	var b strings.Builder
	depth := 0
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteByte(c)
		}
	}
	name = strings.ReplaceAll(strings.ReplaceAll(b.String(), "(*", ""), ")", "")
	pathend := max(strings.LastIndexByte(name, '/'), 0)
	dot := strings.IndexByte(name[pathend:], '.')
	if dot < 0 {
		return "", "", false
	}
	pkg, sym = name[:pathend+dot], name[pathend+dot+1:]
	if pkg == "" || sym == "" {
		return "", "", false
	}
	if strings.IndexByte(pkg, '%') >= 0 {
		if p, err := url.PathUnescape(pkg); err == nil {
			pkg = p
		}
	}
	return pkg, sym, true
}

func FuzzSplitSymbol(f *testing.F) {
	for _, s := range []string{"golang.org/x/net/html.(*Tokenizer).Next", "gopkg.in/yaml%2ev2.(*parser).parse",
		"internal/sync.(*HashTrieMap[go.shape.interface {},go.shape.interface {}]).LoadOrStore", "a.b", "(*[x]*).y", "a/b.c%zz.d", "x/.y", "a.", ".a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		pkg, sym, ok := splitSymbol(name)
		rp, rs, rok := referenceSplit(name)
		if pkg != rp || sym != rs || ok != rok {
			t.Fatalf("splitSymbol(%q) = %q, %q, %v; reference %q, %q, %v", name, pkg, sym, ok, rp, rs, rok)
		}
	})
}

// TestNamesHoldInlined holds the function name table to what symbols relies
// on: it names every function the ELF symbol table has, and functions that
// exist only inlined into others (no symbol of their own), which a reader of
// the symbol table or of the function records alone would miss.
func TestNamesHoldInlined(t *testing.T) {
	exe := filepath.Join(vulnApp(t), "vulnapp") // not stripped
	ef, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	elfSyms, err := ef.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tab, err := findPclntab(f)
	if err != nil || tab == nil {
		t.Fatalf("findPclntab: %v", err)
	}
	names := map[string]bool{}
	if known, err := tab.names(func(n string) { names[strings.Clone(n)] = true }); !known || err != nil {
		t.Fatalf("names: known %v, %v", known, err)
	}
	funcs := map[string]bool{}
	for _, s := range elfSyms {
		if elf.ST_TYPE(s.Info) == elf.STT_FUNC && s.Section != elf.SHN_UNDEF {
			funcs[strings.TrimSuffix(s.Name, ".abi0")] = true // assembly functions' symbols carry their ABI
		}
	}
	missing := 0
	for n := range funcs {
		// Skipped: markers of the text's bounds, and compiler-generated
		// functions (never split into symbols).
		if !names[n] && n != "runtime.text" && n != "runtime.etext" && !strings.HasPrefix(n, "type:") && !strings.HasPrefix(n, "go:") {
			missing++
			if missing < 5 {
				t.Errorf("function %s has a symbol but is not in the name table", n)
			}
		}
	}
	inlinedOnly := 0
	for n := range names {
		if !funcs[n] {
			inlinedOnly++
		}
	}
	// strings.HasPrefix is inlined wherever it is called and never has a body of its own.
	if inlinedOnly == 0 || !names["strings.HasPrefix"] || funcs["strings.HasPrefix"] {
		t.Errorf("%d names without a symbol of their own; strings.HasPrefix named %v, has a symbol %v", inlinedOnly, names["strings.HasPrefix"], funcs["strings.HasPrefix"])
	}
	found := false
	known, err := symbols(f, func(pkg, name []byte) {
		found = found || string(pkg) == "strings" && string(name) == "strings.HasPrefix"
	})
	if err != nil || !known || !found {
		t.Errorf("symbols: strings.HasPrefix missing (known %v, %v)", known, err)
	}
	t.Logf("%d names, %d function symbols, %d only inlined", len(names), len(funcs), inlinedOnly)
}
