package vulndb

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"
	"time"

	kflate "github.com/klauspost/compress/flate"

	"github.com/wardensec/warden/internal/wire"
)

// The stored form is a small binary encoding (internal/wire: uvarint-prefixed strings and
// lists), chosen over JSON because a lookup decodes it on the hot path.
// Rows (one per advisory per package) hold what differs per package; the
// body (one per advisory per namespace and source) holds the shared text.
// Long descriptions are DEFLATE-compressed.

const (
	encVersion     = 1
	rowsCompressed = 2
	// encVersion3 rows carry Module and CPEs after each row (Red Hat CSAF
	// data); other sources keep version 1, byte for byte. Compressed, they are
	// marked rowsCompressed3.
	encVersion3     = 3
	rowsCompressed3 = 4
	compressAbove   = 200 // bytes of description worth compressing
	flagCompressed  = 1
)

var errCorrupt = errors.New("corrupt record")

// The primitives are internal/wire's; times are whole seconds plus one
// (0: the zero time).
func encTime(e *wire.Encoder, t time.Time) {
	if t.IsZero() {
		e.Uint(0)
		return
	}
	e.Uint(uint64(t.Unix()) + 1)
}

func decTime(d *wire.Decoder) time.Time {
	v := d.Uint()
	if v == 0 || v > math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(int64(v-1), 0).UTC()
}

// corrupt wraps a decoding error as errCorrupt.
func corrupt(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", errCorrupt, err)
}

// common returns the next string, without allocating for the few values
// that repeat in every row (statuses, range types, severities, sources).
func common(d *wire.Decoder) string {
	b := d.Bytes()
	switch string(b) {
	case "":
		return ""
	case StatusFixed:
		return StatusFixed
	case StatusUnfixed:
		return StatusUnfixed
	case StatusNotAffected:
		return StatusNotAffected
	case StatusEndOfLife:
		return StatusEndOfLife
	case StatusWontFix:
		return StatusWontFix
	case "ECOSYSTEM":
		return "ECOSYSTEM"
	case "SEMVER":
		return "SEMVER"
	case "0":
		return "0"
	case "CRITICAL":
		return "CRITICAL"
	case "HIGH":
		return "HIGH"
	case "MEDIUM":
		return "MEDIUM"
	case "LOW":
		return "LOW"
	case "NEGLIGIBLE":
		return "NEGLIGIBLE"
	case "UNKNOWN":
		return "UNKNOWN"
	}
	return string(b)
}

// flateReaders are klauspost/compress's DEFLATE readers: the same format as
// compress/flate's (which writes), read in about half the time, which a warm
// scan's hundreds of small lookups feel (5 -> 2.7 ms of a 36 ms scan).
var flateReaders = sync.Pool{}

// codec compresses with an optional preset dictionary (one per source and
// namespace, sampled from its own records: small records compress far
// better against it).
type codec struct {
	dict []byte
	w    *flate.Writer
	buf  bytes.Buffer
}

func newCodec(dict []byte) *codec {
	w, _ := flate.NewWriterDict(nil, flate.BestCompression, dict)
	return &codec{dict: dict, w: w}
}

// deflate compresses p, prefixed with its uncompressed length.
func (c *codec) deflate(p []byte) []byte {
	c.buf.Reset()
	c.buf.Write(binary.AppendUvarint(nil, uint64(len(p))))
	c.w.Reset(&c.buf)
	_, _ = c.w.Write(p)
	_ = c.w.Close()
	return bytes.Clone(c.buf.Bytes())
}

// inflate reverses deflate into a buffer of exactly the recorded size.
func inflate(p, dict []byte, limit uint64) ([]byte, error) {
	n, k := binary.Uvarint(p)
	// DEFLATE expands at most ~1032:1: a larger claimed size is corruption,
	// and refusing it bounds the allocation below.
	if k <= 0 || n > limit || n > 1032*uint64(len(p))+64 {
		return nil, fmt.Errorf("bad or too large length %d", n)
	}
	br := bytes.NewReader(p[k:])
	var r io.ReadCloser
	if v := flateReaders.Get(); v != nil {
		r = v.(io.ReadCloser)
		_ = r.(kflate.Resetter).Reset(br, dict)
	} else {
		r = kflate.NewReaderDict(br, dict)
	}
	out := make([]byte, n)
	_, err := io.ReadFull(r, out)
	flateReaders.Put(r)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// encodeRows encodes the per-package rows of one package in one source;
// long encodings are DEFLATE-compressed (marked by a first byte of 2).
func encodeRows(advs []Advisory, c *codec) []byte {
	raw := encodeRowsRaw(advs)
	if len(raw) > compressAbove {
		mark := byte(rowsCompressed)
		if raw[0] == encVersion3 {
			mark = rowsCompressed3
		}
		if z := c.deflate(raw[1:]); len(z)+1 < len(raw) {
			return append([]byte{mark}, z...)
		}
	}
	return raw
}

// hasProduct reports whether any row needs the version 3 encoding.
func hasProduct(advs []Advisory) bool {
	for i := range advs {
		if advs[i].Module != "" || len(advs[i].CPEs) > 0 {
			return true
		}
	}
	return false
}

func encodeRowsRaw(advs []Advisory) []byte {
	e := &wire.Encoder{}
	v3 := hasProduct(advs)
	if v3 {
		e.Uint(encVersion3)
	} else {
		e.Uint(encVersion)
	}
	e.Uint(uint64(len(advs)))
	for _, a := range advs {
		e.Str(a.ID)
		e.Str(a.Status)
		e.Uint(uint64(len(a.Ranges)))
		for _, r := range a.Ranges {
			e.Str(r.Type)
			e.Str(r.Introduced)
			e.Str(r.Fixed)
			e.Str(r.LastAffected)
		}
		e.Strs(a.Versions)
		e.Str(a.FixedVersion)
		e.Str(a.Severity)
		e.Str(a.SeveritySource)
		encTime(e, a.FixedAt)
		e.Uint(uint64(len(a.Imports)))
		for _, im := range a.Imports {
			e.Str(im.Path)
			e.Strs(im.GOOS)
			e.Strs(im.GOARCH)
			e.Strs(im.Symbols)
		}
		if v3 {
			e.Str(a.Module)
			e.Strs(a.CPEs)
		}
	}
	return e.B
}

func decodeRows(b, dict []byte) ([]Advisory, error) {
	if len(b) > 0 && (b[0] == rowsCompressed || b[0] == rowsCompressed3) {
		raw, err := inflate(b[1:], dict, 64<<20)
		if err != nil {
			return nil, fmt.Errorf("%w: rows: %v", errCorrupt, err)
		}
		v := byte(encVersion)
		if b[0] == rowsCompressed3 {
			v = encVersion3
		}
		b = append([]byte{v}, raw...)
	}
	d := wire.NewDecoder(b)
	v := d.Uint()
	if v != encVersion && v != encVersion3 {
		return nil, fmt.Errorf("%w: encoding version %d", errCorrupt, v)
	}
	n := d.Count()
	out := make([]Advisory, 0, n)
	for i := 0; i < n && d.Err == nil; i++ {
		var a Advisory
		a.ID = d.Str()
		a.Status = common(d)
		if nr := d.Count(); nr > 0 {
			a.Ranges = make([]Range, nr)
			for j := range a.Ranges {
				a.Ranges[j] = Range{Type: common(d), Introduced: common(d), Fixed: d.Str(), LastAffected: d.Str()}
			}
		}
		a.Versions = d.Strs()
		a.FixedVersion = d.Str()
		a.Severity = common(d)
		a.SeveritySource = d.Str()
		a.FixedAt = decTime(d)
		if ni := d.Count(); ni > 0 {
			a.Imports = make([]GoImport, ni)
			for j := range a.Imports {
				a.Imports[j] = GoImport{Path: d.Str(), GOOS: d.Strs(), GOARCH: d.Strs(), Symbols: d.Strs()}
			}
		}
		if v == encVersion3 {
			a.Module = d.Str()
			a.CPEs = d.Strs()
		}
		out = append(out, a)
	}
	if d.Err != nil {
		return nil, corrupt(d.Err)
	}
	return out, nil
}

// body is the part of an advisory shared by all its packages.
type body struct {
	Aliases     []string
	CVSS        []CVSS
	Title       string
	Description string
	URLs        []string
	Published   time.Time
	Modified    time.Time
}

func bodyOf(a *Advisory) body {
	return body{Aliases: a.Aliases, CVSS: a.CVSS, Title: a.Title, Description: a.Description,
		URLs: a.URLs, Published: a.Published, Modified: a.Modified}
}

func encodeCVSS(e *wire.Encoder, cs []CVSS) {
	e.Uint(uint64(len(cs)))
	for _, c := range cs {
		e.Str(c.Source)
		e.Str(c.Version)
		e.Str(c.Vector)
		e.Uint(uint64(math.Round(c.Score * 10)))
	}
}

func decodeCVSS(d *wire.Decoder) []CVSS {
	n := d.Count()
	if n == 0 {
		return nil
	}
	out := make([]CVSS, n)
	for i := range out {
		out[i] = CVSS{Source: d.Str(), Version: d.Str(), Vector: d.Str(), Score: float64(d.Uint()) / 10}
	}
	return out
}

// encodeBodyRaw encodes a body's fields.
func encodeBodyRaw(b body) []byte {
	e := &wire.Encoder{}
	e.Strs(b.Aliases)
	encodeCVSS(e, b.CVSS)
	e.Str(b.Title)
	e.Strs(b.URLs)
	encTime(e, b.Published)
	encTime(e, b.Modified)
	e.Str(b.Description)
	return e.B
}

// encodeBody encodes a body, compressed when long.
func encodeBody(b body, c *codec) []byte {
	raw := encodeBodyRaw(b)
	e := &wire.Encoder{}
	e.Uint(encVersion)
	if len(raw) > compressAbove {
		e.Uint(flagCompressed)
		e.Str(string(c.deflate(raw)))
	} else {
		e.Uint(0)
		e.Str(string(raw))
	}
	return e.B
}

func decodeBody(p, dict []byte) (body, error) {
	d := wire.NewDecoder(p)
	var b body
	if v := d.Uint(); v != encVersion {
		return b, fmt.Errorf("%w: encoding version %d", errCorrupt, v)
	}
	flags := d.Uint()
	raw := d.Bytes()
	if d.Err != nil {
		return b, corrupt(d.Err)
	}
	if flags&flagCompressed != 0 {
		out, err := inflate(raw, dict, 4<<20)
		if err != nil {
			return b, fmt.Errorf("%w: body: %v", errCorrupt, err)
		}
		raw = out
	}
	d = wire.NewDecoder(raw)
	b.Aliases = d.Strs()
	b.CVSS = decodeCVSS(d)
	b.Title = d.Str()
	b.URLs = d.Strs()
	b.Published = decTime(d)
	b.Modified = decTime(d)
	b.Description = d.Str()
	return b, corrupt(d.Err)
}

// buildDict samples raw records into a preset dictionary of at most 32 KiB
// (DEFLATE's window), or nil when there is too little data to pay for one.
func buildDict(samples [][]byte) []byte {
	total := 0
	for _, s := range samples {
		total += len(s)
	}
	const max = 32 << 10
	if total < 8*max {
		return nil
	}
	stride := total / max
	var dict []byte
	acc := 0
	for _, s := range samples {
		acc += len(s)
		if acc >= stride {
			acc = 0
			if len(dict)+len(s) > max {
				continue
			}
			dict = append(dict, s...)
		}
	}
	return dict
}

// encodeScores is what the NVD table holds per CVE. Version 1 (written
// before titles were kept) is the CVSS list; version 2 is a flags word and
// the CVSS list followed by the short title, DEFLATE-compressed against the
// source's dictionary when that is smaller (an NVD import holds some 300,000
// of these: its vectors and wording repeat).
func encodeScores(cs []CVSS, title string, c *codec) []byte {
	raw := scoresRaw(cs, title)
	e := &wire.Encoder{}
	e.Uint(scoresVersion)
	if c != nil && c.dict != nil {
		if z := c.deflate(raw); len(z) < len(raw) {
			e.Uint(flagCompressed)
			e.Str(string(z))
			return e.B
		}
	}
	e.Uint(0)
	e.Str(string(raw))
	return e.B
}

func scoresRaw(cs []CVSS, title string) []byte {
	e := &wire.Encoder{}
	encodeCVSS(e, cs)
	e.Str(title)
	return e.B
}

const scoresVersion = 2

func decodeScores(p, dict []byte) ([]CVSS, string, error) {
	d := wire.NewDecoder(p)
	switch v := d.Uint(); v {
	case encVersion:
		cs := decodeCVSS(d)
		return cs, "", corrupt(d.Err)
	case scoresVersion:
	default:
		return nil, "", fmt.Errorf("%w: encoding version %d", errCorrupt, v)
	}
	flags := d.Uint()
	raw := d.Bytes()
	if d.Err != nil {
		return nil, "", corrupt(d.Err)
	}
	if flags&flagCompressed != 0 {
		out, err := inflate(raw, dict, 1<<20)
		if err != nil {
			return nil, "", fmt.Errorf("%w: NVD record: %v", errCorrupt, err)
		}
		raw = out
	}
	d = wire.NewDecoder(raw)
	cs := decodeCVSS(d)
	title := d.Str()
	return cs, title, corrupt(d.Err)
}

func (b body) empty() bool {
	return len(b.Aliases) == 0 && len(b.CVSS) == 0 && b.Title == "" && b.Description == "" &&
		len(b.URLs) == 0 && b.Published.IsZero() && b.Modified.IsZero()
}
