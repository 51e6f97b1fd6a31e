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
// function table, which stripped binaries keep). Its function name table
// (funcnametab) holds, once each, the name of every function linked and of
// every function inlined into one: the linker writes it by walking the
// functions and their inline trees (cmd/link/internal/ld/pcln.go, walkFuncs).
// Reading it gives what the binary links, inlined code included, without
// decoding inline trees. Layout facts: runtime/symtab.go (pcHeader).

const (
	magic118 = 0xfffffff0 // Go 1.18, 1.19
	magic120 = 0xfffffff1 // Go 1.20 and later
)

var errPclntab = errors.New("malformed pclntab")

// pcHeaderSize is the size of the header for a pointer size: magic, two
// pad bytes, minLC, ptrSize, then 8 words (nfunc, nfiles, textStart,
// funcnameOffset, cuOffset, filetabOffset, pctabOffset, pclnOffset).
func pcHeaderSize(ptrSize int) int { return 8 + 8*ptrSize }

type pclntab struct {
	data     []byte
	order    binary.ByteOrder
	ptrSize  int
	nfunc    int
	funcname []byte // funcnametab: NUL-terminated names
	functab  []byte // the pcln table: functab then _func records (nil when not read)
}

// pcHeader parses the header at the start of data: byte order, pointer size
// and its 8 words.
func pcHeader(data []byte) (order binary.ByteOrder, ptrSize int, w [8]uint64, err error) {
	if len(data) < 8 {
		return nil, 0, w, errPclntab
	}
	switch {
	case binary.LittleEndian.Uint32(data) == magic118, binary.LittleEndian.Uint32(data) == magic120:
		order = binary.LittleEndian
	case binary.BigEndian.Uint32(data) == magic118, binary.BigEndian.Uint32(data) == magic120:
		order = binary.BigEndian
	default:
		return nil, 0, w, fmt.Errorf("%w: unknown magic (Go before 1.18?)", errPclntab)
	}
	if data[4] != 0 || data[5] != 0 {
		return nil, 0, w, errPclntab
	}
	ptrSize = int(data[7])
	if ptrSize != 4 && ptrSize != 8 {
		return nil, 0, w, errPclntab
	}
	if len(data) < pcHeaderSize(ptrSize) {
		return nil, 0, w, errPclntab
	}
	for i := range w {
		off := 8 + i*ptrSize
		if ptrSize == 8 {
			w[i] = order.Uint64(data[off:])
		} else {
			w[i] = uint64(order.Uint32(data[off:]))
		}
	}
	return order, ptrSize, w, nil
}

// nameSpan is where funcnametab lies (funcnameOffset to cuOffset) by a
// parsed header, checked to lie after the header.
func nameSpan(ptrSize int, w [8]uint64) (start, end uint64, err error) {
	if w[3] < uint64(pcHeaderSize(ptrSize)) || w[4] < w[3] {
		return 0, 0, fmt.Errorf("%w: function name table at %d..%d", errPclntab, w[3], w[4])
	}
	return w[3], w[4], nil
}

// parsePclntab parses a table of which data holds at least the header and
// the function name table; functab is kept when data reaches it.
func parsePclntab(data []byte) (*pclntab, error) {
	order, ptrSize, w, err := pcHeader(data)
	if err != nil {
		return nil, err
	}
	start, end, err := nameSpan(ptrSize, w)
	if err != nil {
		return nil, err
	}
	n := uint64(len(data))
	if end > n || w[0] > n {
		return nil, errPclntab
	}
	t := &pclntab{data: data, order: order, ptrSize: ptrSize, nfunc: int(w[0]), funcname: data[start:end]}
	if w[7] <= n && uint64(len(data[w[7]:])) >= uint64(t.nfunc+1)*8 {
		t.functab = data[w[7]:]
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
// copy: a caller that keeps it past the table's buffer clones it.
func (t *pclntab) name(off uint32) string {
	if uint64(off) >= uint64(len(t.funcname)) {
		return ""
	}
	b := t.funcname[off:]
	if i := bytes.IndexByte(b, 0); i > 0 {
		return unsafe.String(&b[0], i)
	}
	return ""
}

// firstName is the name of the first function of the table ("" when
// unreadable or when functab was not read).
func (t *pclntab) firstName() string {
	funcoff, ok := t.u32(t.functab, 4)
	if !ok || uint64(funcoff)+8 > uint64(len(t.functab)) {
		return ""
	}
	return t.name(t.order.Uint32(t.functab[funcoff+4:]))
}

// names calls fn with each name of the function name table. The names point
// into the table (see name).
func (t *pclntab) names(fn func(name string)) { eachName(t.funcname, fn) }

// eachName calls fn with each NUL-terminated, non-empty name in b (pointing
// into b) and returns the unterminated rest.
func eachName(b []byte, fn func(name string)) (rest []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			return b
		}
		if i > 0 {
			fn(unsafe.String(&b[0], i))
		}
		b = b[i+1:]
	}
	return nil
}

// nameWindow is how much of a function name table streamNames holds at once.
const nameWindow = 256 << 10

// streamNames is parsePclntab and names for a table that is not in memory: r
// holds the table from its first byte and size bytes long. It reads the
// header, then the function name table in windows of window bytes, so that
// memory stays flat whatever the binary (kube-apiserver's table is several
// MB). A name longer than the window (none is, in practice: the longest are
// generic instantiations of a few KB) is skipped. known is false when the
// header does not parse.
func streamNames(r io.ReaderAt, size int64, window int, fn func(name string)) (known bool, err error) {
	head := make([]byte, min(size, int64(pcHeaderSize(8))))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return false, err
	}
	_, ptrSize, w, err := pcHeader(head)
	if err != nil {
		return false, nil
	}
	start, end, err := nameSpan(ptrSize, w)
	if err != nil {
		return false, nil
	}
	if end > uint64(size) {
		return false, fmt.Errorf("function name table ends at byte %d, past the %d-byte table", end, size)
	}
	buf := make([]byte, window)
	held, skipping := 0, false
	for off := start; off < end; {
		n := int(min(uint64(len(buf)-held), end-off))
		if _, err := r.ReadAt(buf[held:held+n], int64(off)); err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		off += uint64(n)
		b := buf[:held+n]
		if skipping { // the rest of an over-long name
			i := bytes.IndexByte(b, 0)
			if i < 0 {
				held = 0
				continue
			}
			b, skipping = b[i+1:], false
		}
		rest := eachName(b, fn)
		if len(rest) == len(buf) {
			rest, skipping = nil, true
		}
		held = copy(buf, rest)
	}
	return true, nil
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
