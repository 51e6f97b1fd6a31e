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
)

// The stored form is a small binary encoding (uvarint-prefixed strings and
// lists), chosen over JSON because a lookup decodes it on the hot path.
// Rows (one per advisory per package) hold what differs per package; the
// body (one per advisory per namespace and source) holds the shared text.
// Long descriptions are DEFLATE-compressed.

const (
	encVersion     = 1
	rowsCompressed = 2
	compressAbove  = 200 // bytes of description worth compressing
	flagCompressed = 1
)

var errCorrupt = errors.New("corrupt record")

type enc struct{ b []byte }

func (e *enc) uint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *enc) str(s string) {
	e.uint(uint64(len(s)))
	e.b = append(e.b, s...)
}
func (e *enc) strs(ss []string) {
	e.uint(uint64(len(ss)))
	for _, s := range ss {
		e.str(s)
	}
}
func (e *enc) time(t time.Time) {
	if t.IsZero() {
		e.uint(0)
		return
	}
	e.uint(uint64(t.Unix()) + 1)
}

type dec struct {
	b   []byte
	err error
}

func (d *dec) uint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCorrupt
		return 0
	}
	d.b = d.b[n:]
	return v
}

// bytes returns the next length-prefixed bytes without copying.
func (d *dec) bytes() []byte {
	n := d.uint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return nil
	}
	p := d.b[:n]
	d.b = d.b[n:]
	return p
}

func (d *dec) str() string {
	n := d.uint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.err = errCorrupt
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
func (d *dec) count() int {
	n := d.uint()
	if n > uint64(len(d.b)) { // every element takes at least one byte
		d.err = errCorrupt
		return 0
	}
	return int(n)
}

// common returns the next string, without allocating for the few values
// that repeat in every row (statuses, range types, severities, sources).
func (d *dec) common() string {
	b := d.bytes()
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

func (d *dec) strs() []string {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.str()
	}
	return out
}
func (d *dec) time() time.Time {
	v := d.uint()
	if v == 0 || v > math.MaxInt64 {
		return time.Time{}
	}
	return time.Unix(int64(v-1), 0).UTC()
}

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
		_ = r.(flate.Resetter).Reset(br, dict)
	} else {
		r = flate.NewReaderDict(br, dict)
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
		if z := c.deflate(raw[1:]); len(z)+1 < len(raw) {
			return append([]byte{rowsCompressed}, z...)
		}
	}
	return raw
}

func encodeRowsRaw(advs []Advisory) []byte {
	e := &enc{}
	e.uint(encVersion)
	e.uint(uint64(len(advs)))
	for _, a := range advs {
		e.str(a.ID)
		e.str(a.Status)
		e.uint(uint64(len(a.Ranges)))
		for _, r := range a.Ranges {
			e.str(r.Type)
			e.str(r.Introduced)
			e.str(r.Fixed)
			e.str(r.LastAffected)
		}
		e.strs(a.Versions)
		e.str(a.FixedVersion)
		e.str(a.Severity)
		e.str(a.SeveritySource)
		e.time(a.FixedAt)
		e.uint(uint64(len(a.Imports)))
		for _, im := range a.Imports {
			e.str(im.Path)
			e.strs(im.GOOS)
			e.strs(im.GOARCH)
			e.strs(im.Symbols)
		}
	}
	return e.b
}

func decodeRows(b, dict []byte) ([]Advisory, error) {
	if len(b) > 0 && b[0] == rowsCompressed {
		raw, err := inflate(b[1:], dict, 64<<20)
		if err != nil {
			return nil, fmt.Errorf("%w: rows: %v", errCorrupt, err)
		}
		b = append([]byte{encVersion}, raw...)
	}
	d := &dec{b: b}
	if v := d.uint(); v != encVersion {
		return nil, fmt.Errorf("%w: encoding version %d", errCorrupt, v)
	}
	n := d.count()
	out := make([]Advisory, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		var a Advisory
		a.ID = d.str()
		a.Status = d.common()
		if nr := d.count(); nr > 0 {
			a.Ranges = make([]Range, nr)
			for j := range a.Ranges {
				a.Ranges[j] = Range{Type: d.common(), Introduced: d.common(), Fixed: d.str(), LastAffected: d.str()}
			}
		}
		a.Versions = d.strs()
		a.FixedVersion = d.str()
		a.Severity = d.common()
		a.SeveritySource = d.str()
		a.FixedAt = d.time()
		if ni := d.count(); ni > 0 {
			a.Imports = make([]GoImport, ni)
			for j := range a.Imports {
				a.Imports[j] = GoImport{Path: d.str(), GOOS: d.strs(), GOARCH: d.strs(), Symbols: d.strs()}
			}
		}
		out = append(out, a)
	}
	if d.err != nil {
		return nil, d.err
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

func encodeCVSS(e *enc, cs []CVSS) {
	e.uint(uint64(len(cs)))
	for _, c := range cs {
		e.str(c.Source)
		e.str(c.Version)
		e.str(c.Vector)
		e.uint(uint64(math.Round(c.Score * 10)))
	}
}

func decodeCVSS(d *dec) []CVSS {
	n := d.count()
	if n == 0 {
		return nil
	}
	out := make([]CVSS, n)
	for i := range out {
		out[i] = CVSS{Source: d.str(), Version: d.str(), Vector: d.str(), Score: float64(d.uint()) / 10}
	}
	return out
}

// encodeBodyRaw encodes a body's fields.
func encodeBodyRaw(b body) []byte {
	e := &enc{}
	e.strs(b.Aliases)
	encodeCVSS(e, b.CVSS)
	e.str(b.Title)
	e.strs(b.URLs)
	e.time(b.Published)
	e.time(b.Modified)
	e.str(b.Description)
	return e.b
}

// encodeBody encodes a body, compressed when long.
func encodeBody(b body, c *codec) []byte {
	raw := encodeBodyRaw(b)
	e := &enc{}
	e.uint(encVersion)
	if len(raw) > compressAbove {
		e.uint(flagCompressed)
		e.str(string(c.deflate(raw)))
	} else {
		e.uint(0)
		e.str(string(raw))
	}
	return e.b
}

func decodeBody(p, dict []byte) (body, error) {
	d := &dec{b: p}
	var b body
	if v := d.uint(); v != encVersion {
		return b, fmt.Errorf("%w: encoding version %d", errCorrupt, v)
	}
	flags := d.uint()
	raw := d.bytes()
	if d.err != nil {
		return b, d.err
	}
	if flags&flagCompressed != 0 {
		out, err := inflate(raw, dict, 4<<20)
		if err != nil {
			return b, fmt.Errorf("%w: body: %v", errCorrupt, err)
		}
		raw = out
	}
	d = &dec{b: raw}
	b.Aliases = d.strs()
	b.CVSS = decodeCVSS(d)
	b.Title = d.str()
	b.URLs = d.strs()
	b.Published = d.time()
	b.Modified = d.time()
	b.Description = d.str()
	return b, d.err
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

// scoreRecord is what the NVD table holds per CVE.
func encodeScores(cs []CVSS) []byte {
	e := &enc{}
	e.uint(encVersion)
	encodeCVSS(e, cs)
	return e.b
}

func decodeScores(p []byte) ([]CVSS, error) {
	d := &dec{b: p}
	if v := d.uint(); v != encVersion {
		return nil, fmt.Errorf("%w: encoding version %d", errCorrupt, v)
	}
	cs := decodeCVSS(d)
	return cs, d.err
}

func (b body) empty() bool {
	return len(b.Aliases) == 0 && len(b.CVSS) == 0 && b.Title == "" && b.Description == "" &&
		len(b.URLs) == 0 && b.Published.IsZero() && b.Modified.IsZero()
}
