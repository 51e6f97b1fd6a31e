package gobinary

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unsafe"
)

// This file reads function names out of a Go 1.18+ pclntab (the runtime's
// function table, which stripped binaries keep), including the names of
// functions inlined into each function (the FUNCDATA_InlTree tables, found
// relative to the go:func.* symbol when the symbol table is present).
// Layout facts: runtime/symtab.go (pcHeader, _func, inlinedCall) and
// cmd/internal/objabi/funcdata.go (PCDATA_InlTreeIndex=2, FUNCDATA_InlTree=3).

const (
	magic118 = 0xfffffff0 // Go 1.18, 1.19
	magic120 = 0xfffffff1 // Go 1.20 and later

	pcdataInlTreeIndex = 2
	funcdataInlTree    = 3
)

var errPclntab = errors.New("malformed pclntab")

// goFunc locates the go:func.* region, from which inline trees are addressed.
type goFunc struct {
	value uint64      // address of go:func.*
	base  uint64      // address where r starts
	end   uint64      // address where r ends (0: unknown)
	r     io.ReaderAt // the segment holding it
	data  []byte      // when loaded: the bytes from value to end (bounded)
	sc    *scratch    // lends the buffer for data (nil: allocated)
}

// load reads the region after go:func.* into memory once, so that the
// inline trees of thousands of functions are not thousands of reads.
func (gf *goFunc) load() {
	if gf.data != nil || gf.end <= gf.value || gf.value < gf.base {
		return
	}
	n := gf.end - gf.value
	if n > maxPclntab {
		n = maxPclntab
	}
	b := gf.sc.get(int64(n))
	m, _ := gf.r.ReadAt(b, int64(gf.value-gf.base))
	gf.data = b[:m]
}

type pclntab struct {
	data     []byte
	order    binary.ByteOrder
	ver120   bool
	ptrSize  int
	quantum  uint32
	nfunc    int
	funcname []byte
	pctab    []byte
	functab  []byte // the pcln table: functab then _func records
	budget   int    // decoding steps left: bounds the work on hostile tables
}

// workBudget bounds the pc-value steps and inline entries decoded per binary
// (a large real binary needs a few million).
const workBudget = 50_000_000

var errBudget = fmt.Errorf("%w: too much work decoding it", errPclntab)

func parsePclntab(data []byte) (*pclntab, error) {
	if len(data) < 8 {
		return nil, errPclntab
	}
	t := &pclntab{data: data, budget: workBudget}
	switch {
	case binary.LittleEndian.Uint32(data) == magic118:
		t.order = binary.LittleEndian
	case binary.BigEndian.Uint32(data) == magic118:
		t.order = binary.BigEndian
	case binary.LittleEndian.Uint32(data) == magic120:
		t.order, t.ver120 = binary.LittleEndian, true
	case binary.BigEndian.Uint32(data) == magic120:
		t.order, t.ver120 = binary.BigEndian, true
	default:
		return nil, fmt.Errorf("%w: unknown magic (Go before 1.18?)", errPclntab)
	}
	if data[4] != 0 || data[5] != 0 {
		return nil, errPclntab
	}
	t.quantum = uint32(data[6])
	t.ptrSize = int(data[7])
	if t.ptrSize != 4 && t.ptrSize != 8 {
		return nil, errPclntab
	}
	word := func(i int) (uint64, bool) {
		off := 8 + i*t.ptrSize
		if off+t.ptrSize > len(data) {
			return 0, false
		}
		if t.ptrSize == 8 {
			return t.order.Uint64(data[off:]), true
		}
		return uint64(t.order.Uint32(data[off:])), true
	}
	// pcHeader: nfunc, nfiles, textStart, funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset.
	var w [8]uint64
	for i := range w {
		v, ok := word(i)
		if !ok {
			return nil, errPclntab
		}
		w[i] = v
	}
	n := uint64(len(data))
	if w[0] > n || w[3] > n || w[6] > n || w[7] > n {
		return nil, errPclntab
	}
	t.nfunc = int(w[0])
	t.funcname = data[w[3]:]
	t.pctab = data[w[6]:]
	t.functab = data[w[7]:]
	if uint64(len(t.functab)) < uint64(t.nfunc+1)*8 {
		return nil, errPclntab
	}
	return t, nil
}

func (t *pclntab) u32(b []byte, off uint32) (uint32, bool) {
	if uint64(off)+4 > uint64(len(b)) {
		return 0, false
	}
	return t.order.Uint32(b[off:]), true
}

// name is the function name at off. It points into the table, without a
// copy (hundreds of thousands of names per image): a caller that keeps it
// past the table's buffer clones it.
func (t *pclntab) name(off uint32) string {
	if uint64(off) >= uint64(len(t.funcname)) {
		return ""
	}
	b := t.funcname[off:]
	if i := indexByte(b, 0); i > 0 {
		return unsafe.String(&b[0], i)
	}
	return ""
}

// firstName is the name of the first function of the table ("" when unreadable).
func (t *pclntab) firstName() string {
	funcoff, ok := t.u32(t.functab, 4)
	if !ok || uint64(funcoff)+8 > uint64(len(t.functab)) {
		return ""
	}
	return t.name(t.order.Uint32(t.functab[funcoff+4:]))
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

// inlineRef is where one function's inline tree is and how many entries it has.
type inlineRef struct {
	off   uint32 // offset from go:func.*
	count int32
}

// funcs calls fn with each function's name and its inline tree reference
// (count 0 when it has none).
func (t *pclntab) funcs(fn func(name string, inl inlineRef) error) error {
	fixed := uint32(40) // _func without startLine (1.18, 1.19)
	if t.ver120 {
		fixed = 44
	}
	for i := 0; i < t.nfunc; i++ {
		funcoff, ok := t.u32(t.functab, uint32(i*8+4))
		if !ok || uint64(funcoff)+uint64(fixed) > uint64(len(t.functab)) {
			return fmt.Errorf("%w: function %d out of range", errPclntab, i)
		}
		f := t.functab[funcoff:]
		name := t.name(t.order.Uint32(f[4:]))
		var inl inlineRef
		npcdata := t.order.Uint32(f[28:])
		nfuncdata := uint32(f[fixed-1])
		if npcdata > pcdataInlTreeIndex && nfuncdata > funcdataInlTree &&
			uint64(fixed)+uint64(npcdata)*4+uint64(nfuncdata)*4 <= uint64(len(f)) {
			pcoff := t.order.Uint32(f[fixed+pcdataInlTreeIndex*4:])
			inlOff := t.order.Uint32(f[fixed+npcdata*4+funcdataInlTree*4:])
			if pcoff != 0 && inlOff != ^uint32(0) {
				inl = inlineRef{off: inlOff, count: t.maxValue(pcoff) + 1}
				if t.budget <= 0 {
					return errBudget
				}
			}
		}
		if err := fn(name, inl); err != nil {
			return err
		}
	}
	return nil
}

// funcNames calls fn with each function's name and the names of the
// functions inlined into it (when gf is non-nil).
func (t *pclntab) funcNames(gf *goFunc, fn func(string)) error {
	if gf != nil {
		gf.load()
	}
	return t.funcs(func(name string, inl inlineRef) error {
		fn(name)
		if gf == nil || inl.count <= 0 {
			return nil
		}
		return t.inlined(gf, inl, func(_ []byte, name string) bool { fn(name); return true })
	})
}

// validGoFunc checks a guessed go:func.* address against the inline trees of
// up to 200 functions: every entry must name a function of the table.
func (t *pclntab) validGoFunc(gf *goFunc) bool {
	checked := 0
	bad := errors.New("bad")
	err := t.funcs(func(_ string, inl inlineRef) error {
		if inl.count <= 0 || checked >= 200 {
			return nil
		}
		checked++
		err := t.inlined(gf, inl, func(entry []byte, name string) bool {
			if t.ver120 && (entry[1] != 0 || entry[2] != 0 || entry[3] != 0) {
				return false
			}
			return name != "" && !strings.ContainsAny(name, "\x00\n")
		})
		if err != nil {
			return bad
		}
		return nil
	})
	return err == nil && checked > 0
}

// maxValue decodes a pc-value table and returns its largest value (-1 when empty).
func (t *pclntab) maxValue(off uint32) int32 {
	if uint64(off) >= uint64(len(t.pctab)) {
		return -1
	}
	p := t.pctab[off:]
	val, max := int32(-1), int32(-1)
	first := true
	for ; t.budget > 0; t.budget-- {
		uvdelta, n := binary.Uvarint(p)
		if n <= 0 || (uvdelta == 0 && !first) {
			break
		}
		p = p[n:]
		if uvdelta&1 != 0 {
			uvdelta = ^(uvdelta >> 1)
		} else {
			uvdelta >>= 1
		}
		val += int32(uvdelta)
		if val > max {
			max = val
		}
		_, n = binary.Uvarint(p) // pc delta
		if n <= 0 {
			break
		}
		p = p[n:]
		first = false
	}
	return max
}

var errBadEntry = errors.New("inline tree entry does not name a function")

// inlined reads one inline tree; fn gets each raw entry and the name it
// points at and returns false to reject the entry.
func (t *pclntab) inlined(gf *goFunc, inl inlineRef, fn func(entry []byte, name string) bool) error {
	size := int64(20) // inlinedCall 1.18/1.19: parent int16, funcID, pad, file, line, func_, parentPc
	nameAt := int64(12)
	if t.ver120 {
		size, nameAt = 16, 4 // funcID, pad[3], nameOff, parentPc, startLine
	}
	if inl.count > 1<<16 {
		return fmt.Errorf("%w: inline tree of %d entries", errPclntab, inl.count)
	}
	if t.budget -= int(inl.count); t.budget <= 0 {
		return errBudget
	}
	if gf.value < gf.base {
		return errBadEntry
	}
	n := size * int64(inl.count)
	var buf []byte
	if gf.data != nil && int64(inl.off)+n <= int64(len(gf.data)) {
		buf = gf.data[inl.off : int64(inl.off)+n]
	} else {
		buf = make([]byte, n)
		if _, err := gf.r.ReadAt(buf, int64(gf.value-gf.base)+int64(inl.off)); err != nil {
			return fmt.Errorf("reading inline tree: %w", err)
		}
	}
	for j := int64(0); j < int64(inl.count); j++ {
		e := buf[j*size : (j+1)*size]
		off := t.order.Uint32(e[nameAt:])
		if off != 0 && (uint64(off) >= uint64(len(t.funcname)) || t.funcname[off-1] != 0) {
			return errBadEntry
		}
		if !fn(e, t.name(off)) {
			return errBadEntry
		}
	}
	return nil
}

// splitSymbol turns a function name from the pclntab into the import path and
// the symbol as the Go vulndb names them: type arguments dropped, "(*T).M" ->
// "T.M"; ok is false for compiler-generated names. The linker escapes dots in
// the last path element ("gopkg.in/yaml%2ev2.Unmarshal"), so the split comes
// before unescaping.
func splitSymbol(name string) (pkg, sym string, ok bool) {
	b, n, ok := appendSplitSymbol(nil, name)
	if !ok {
		return "", "", false
	}
	return string(b[:n]), string(b[n+1:]), true
}

// appendSplitSymbol is splitSymbol into a buffer: it appends "pkg.sym" to
// buf and returns it with the length of pkg. Reading a binary's tens of
// thousands of names through one buffer allocates only for new ones.
func appendSplitSymbol(buf []byte, name string) ([]byte, int, bool) {
	if name == "" || strings.HasPrefix(name, "go:") || strings.HasPrefix(name, "type:") ||
		strings.HasPrefix(name, "go.") || strings.HasPrefix(name, "type.") {
		return buf, 0, false
	}
	start := len(buf)
	// Type arguments dropped: every bracketed part.
	depth := 0
	for i := 0; i < len(name); i++ {
		switch c := name[i]; {
		case c == '[':
			depth++
		case c == ']' && depth > 0:
			depth--
		case depth == 0:
			buf = append(buf, c)
		}
	}
	// Then "(*" and ")" removed (in place).
	w := start
	for r := start; r < len(buf); r++ {
		switch {
		case buf[r] == '(' && r+1 < len(buf) && buf[r+1] == '*':
			r++
		case buf[r] == ')':
		default:
			buf[w] = buf[r]
			w++
		}
	}
	buf = buf[:w]
	s := buf[start:]
	pathend := max(bytes.LastIndexByte(s, '/'), 0)
	dot := bytes.IndexByte(s[pathend:], '.')
	if dot < 0 || pathend+dot == 0 || pathend+dot+1 == len(s) {
		return buf[:start], 0, false
	}
	n := pathend + dot
	if bytes.IndexByte(s[:n], '%') >= 0 {
		if p, err := url.PathUnescape(string(s[:n])); err == nil {
			sym := string(s[n:]) // ".sym"
			buf = append(append(buf[:start], p...), sym...)
			n = len(p)
		}
	}
	return buf[start:], n, true
}
