// Package jsonindent indents compact JSON as it streams through: what
// encoding/json's Encoder writes with SetIndent("", indent), without holding
// the indented document in memory. The Encoder with SetIndent marshals the
// value, then re-indents the whole of it into a second buffer that grows by
// copying and is written at once; for a report of a megabyte that second
// buffer is most of the writing's cost. Encoding compactly into a Writer
// gives the same bytes.
package jsonindent

import (
	"bufio"
	"encoding/json"
	"io"
)

// Writer indents the compact JSON written to it (one or more values, each
// possibly followed by a newline, as json.Encoder writes them) into its
// destination. Its input must be valid compact JSON (what json.Marshal and
// a json.Encoder without SetIndent produce); it is not validated. Flush
// after the last Write.
type Writer struct {
	w          *bufio.Writer
	indent     string
	depth      int
	inString   bool
	escaped    bool // the byte before was a backslash inside a string
	needIndent bool // after '{' or '[': indent unless the next byte closes it
}

// New returns a Writer indenting with indent (e.g. two spaces) into w.
func New(w io.Writer, indent string) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), indent: indent}
}

func (iw *Writer) newline(depth int) {
	iw.w.WriteByte('\n')
	for range depth {
		iw.w.WriteString(iw.indent)
	}
}

// Write indents p; it never fails before the destination does.
func (iw *Writer) Write(p []byte) (int, error) {
	w := iw.w
	for i := 0; i < len(p); i++ {
		c := p[i]
		if iw.inString {
			// Copy the run up to the next quote or backslash at once.
			j := i
			for j < len(p) && p[j] != '"' && p[j] != '\\' {
				j++
			}
			if iw.escaped && j > i {
				iw.escaped = false
			}
			w.Write(p[i:j])
			if j == len(p) {
				break
			}
			i = j
			c = p[i]
			w.WriteByte(c)
			switch {
			case iw.escaped:
				iw.escaped = false
			case c == '\\':
				iw.escaped = true
			default: // the closing quote
				iw.inString = false
			}
			continue
		}
		if iw.needIndent && c != '}' && c != ']' {
			iw.needIndent = false
			iw.depth++
			iw.newline(iw.depth)
		}
		switch c {
		case '"':
			iw.inString = true
			w.WriteByte(c)
		case '{', '[':
			iw.needIndent = true // delayed: an empty object or array stays {} or []
			w.WriteByte(c)
		case ',':
			w.WriteByte(c)
			iw.newline(iw.depth)
		case ':':
			w.WriteString(": ")
		case '}', ']':
			if iw.needIndent {
				iw.needIndent = false
			} else {
				iw.depth--
				iw.newline(iw.depth)
			}
			w.WriteByte(c)
		default:
			w.WriteByte(c)
		}
	}
	return len(p), nil
}

// Flush writes what is buffered to the destination and returns the first
// error the destination returned.
func (iw *Writer) Flush() error { return iw.w.Flush() }

// Encode writes v to w as json.Encoder with SetEscapeHTML(escapeHTML) and
// SetIndent("", indent) would, ending with a newline.
func Encode(w io.Writer, v any, indent string, escapeHTML bool) error {
	iw := New(w, indent)
	enc := json.NewEncoder(iw)
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil {
		return err
	}
	return iw.Flush()
}
