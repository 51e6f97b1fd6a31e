package jsonindent

import (
	"bytes"
	"encoding/json"
	"testing"
)

// want is what encoding/json's indenting Encoder writes.
func want(t testing.TB, v any, escapeHTML bool) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(escapeHTML)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

type doc struct {
	Name   string            `json:"name"`
	Empty  []string          `json:"empty"`
	Nil    []string          `json:"nil"`
	Obj    map[string]any    `json:"obj"`
	EmptyM map[string]string `json:"empty_map"`
	Nums   []float64         `json:"nums"`
	Nested [][]any           `json:"nested"`
	Ptr    *doc              `json:"ptr,omitempty"`
	Raw    json.RawMessage   `json:"raw"`
}

func sampleDocs() []any {
	return []any{
		nil, true, 12.5, "x", `q"u\o\\"te\"`, []any{}, map[string]any{}, []any{[]any{}, map[string]any{}},
		doc{
			Name:  "a \"quoted\" \\ name, with: {braces} and [brackets] <html>&\u2028\x01",
			Empty: []string{}, Obj: map[string]any{"k": []any{1, "two", nil, false, map[string]any{"z": "}"}}, "": ""},
			EmptyM: map[string]string{}, Nums: []float64{1, -2.5e-10, 3e21},
			Nested: [][]any{{}, {[]any{}}, {"\\", "\\\""}},
			Ptr:    &doc{Name: "inner", Raw: json.RawMessage(`{ "spaced" : [ 1 , 2 ] }`)},
			Raw:    json.RawMessage(`"raw"`),
		},
	}
}

// TestSameAsEncoder: the same bytes as json.Encoder with SetIndent, written
// at once and one byte at a time (a string's escape split across writes).
func TestSameAsEncoder(t *testing.T) {
	for _, escapeHTML := range []bool{false, true} {
		for i, v := range sampleDocs() {
			w := want(t, v, escapeHTML)
			var got bytes.Buffer
			if err := Encode(&got, v, "  ", escapeHTML); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), w) {
				t.Errorf("doc %d (escapeHTML %v):\ngot  %q\nwant %q", i, escapeHTML, got.Bytes(), w)
			}
			compact, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			got.Reset()
			iw := New(&got, "  ")
			for _, c := range append(compact, '\n') {
				iw.Write([]byte{c})
			}
			if err := iw.Flush(); err != nil {
				t.Fatal(err)
			}
			if escapeHTML && !bytes.Equal(got.Bytes(), w) {
				t.Errorf("doc %d, byte by byte:\ngot  %q\nwant %q", i, got.Bytes(), w)
			}
		}
	}
}

// FuzzSameAsIndent: for any valid JSON, compacted, the Writer gives what json.Indent gives.
func FuzzSameAsIndent(f *testing.F) {
	for _, v := range sampleDocs() {
		b, _ := json.Marshal(v)
		f.Add(b, 3)
	}
	f.Fuzz(func(t *testing.T, in []byte, split int) {
		if !json.Valid(in) {
			return
		}
		var compact, w bytes.Buffer
		if err := json.Compact(&compact, in); err != nil {
			t.Fatal(err)
		}
		if err := json.Indent(&w, compact.Bytes(), "", "  "); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		iw := New(&got, "  ")
		c := compact.Bytes()
		if split = max(split, 1); split > len(c) {
			split = len(c)
		}
		iw.Write(c[:split])
		iw.Write(c[split:])
		if err := iw.Flush(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), w.Bytes()) {
			t.Fatalf("input %q:\ngot  %q\nwant %q", in, got.Bytes(), w.Bytes())
		}
	})
}

func BenchmarkIndent(b *testing.B) {
	v := sampleDocs()[len(sampleDocs())-1]
	many := make([]any, 2000)
	for i := range many {
		many[i] = v
	}
	b.Run("encoder-setindent", func(b *testing.B) {
		for b.Loop() {
			var w bytes.Buffer
			enc := json.NewEncoder(&w)
			enc.SetIndent("", "  ")
			enc.SetEscapeHTML(false)
			_ = enc.Encode(many)
		}
	})
	b.Run("jsonindent", func(b *testing.B) {
		for b.Loop() {
			var w bytes.Buffer
			_ = Encode(&w, many, "  ", false)
		}
	})
}
