package vulndb

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/wire"
)

func FuzzDecodeRows(f *testing.F) {
	f.Add(encodeRows([]Advisory{{ID: "GO-2022-0956", Status: StatusFixed, Ranges: []Range{{Type: "SEMVER", Introduced: "0", Fixed: "2.2.4"}}, Imports: []GoImport{{Path: "gopkg.in/yaml.v2", Symbols: []string{"Unmarshal"}}}}}, newCodec(nil)))
	var many []Advisory
	for i := 0; i < 50; i++ {
		many = append(many, Advisory{ID: "ALSA-2022:8444", Status: StatusFixed, FixedVersion: "6.5.1-1.el9_1", Ranges: []Range{{Type: "ECOSYSTEM", Introduced: "0", Fixed: "6.5.1-1.el9_1"}}})
	}
	f.Add(encodeRows(many, newCodec(nil)))
	f.Add(encodeRows([]Advisory{{ID: "CVE-2023-46809", Status: StatusFixed, FixedVersion: "1:18.19.1-1.module+el8.9.0+21387+21356dec",
		Module: "nodejs:18", CPEs: []string{"cpe:/a:redhat:enterprise_linux:8::appstream"}}}, newCodec(nil)))
	f.Add(encodeRows(append(many, Advisory{ID: "CVE-1", Status: StatusWontFix, Module: "nodejs:16"}), newCodec(nil)))
	f.Add([]byte{1, 200, 1})
	f.Add([]byte{2, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		advs, err := decodeRows(b, nil)
		if err == nil {
			// What decodes re-encodes and decodes the same.
			if _, err := decodeRows(encodeRows(advs, newCodec(nil)), nil); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestRowsModuleCPE: rows with a module stream and product CPEs survive the
// round trip, raw and compressed; rows without them keep the version 1 bytes.
func TestRowsModuleCPE(t *testing.T) {
	row := Advisory{ID: "CVE-2023-46809", Status: StatusFixed, FixedVersion: "1:18.19.1-1.module+el8.9.0+21387+21356dec",
		Module: "nodejs:18", CPEs: []string{"cpe:/a:redhat:enterprise_linux:8::appstream", "cpe:/a:redhat:rhel_eus:8.8::appstream"}}
	plain := Advisory{ID: "CVE-2", Status: StatusUnfixed}
	for _, advs := range [][]Advisory{{row}, {row, plain}, append(make([]Advisory, 40, 41), row)} {
		for i := range advs {
			if advs[i].ID == "" {
				advs[i] = Advisory{ID: "CVE-2023-1", Status: StatusFixed, FixedVersion: "1.2.3-4.el8"}
			}
		}
		b := encodeRows(advs, newCodec(nil))
		got, err := decodeRows(b, nil)
		if err != nil {
			t.Fatal(err)
		}
		last := got[len(got)-1]
		if advs[len(advs)-1].ID == row.ID && (last.Module != row.Module || len(last.CPEs) != 2 || last.CPEs[1] != row.CPEs[1]) {
			t.Errorf("decoded %+v, want module and CPEs of %+v", last, row)
		}
	}
	if b := encodeRows([]Advisory{plain}, newCodec(nil)); b[0] != encVersion {
		t.Errorf("a row without module/CPEs is encoded as version %d", b[0])
	}
}

func FuzzDecodeBody(f *testing.F) {
	f.Add(encodeBody(body{Aliases: []string{"CVE-1"}, CVSS: []CVSS{{Source: "nvd", Version: "3.1", Vector: "CVSS:3.1/AV:N", Score: 9.8}}, Title: "t",
		Description: string(make([]byte, 500)), URLs: []string{"u"}, Published: time.Unix(1e9, 0)}, newCodec(nil)))
	f.Add(encodeBody(body{Title: "short"}, newCodec(nil)))
	f.Add(encodeScores([]CVSS{{Source: "nvd", Version: "2.0", Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", Score: 7.5}}, "A title.", nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeBody(b, nil)
		_, _, _ = decodeScores(b, nil)
	})
}

// TestScoresRecordVersions: a version 1 NVD record (written before titles
// were kept: scores only) still decodes, without a title; version 2 keeps both.
func TestScoresRecordVersions(t *testing.T) {
	cs := []CVSS{{Source: "nvd", Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", Score: 7.5}}
	e := &wire.Encoder{}
	e.Uint(encVersion)
	encodeCVSS(e, cs)
	got, title, err := decodeScores(e.B, nil)
	if err != nil || len(got) != 1 || got[0] != cs[0] || title != "" {
		t.Errorf("version 1: %v %q %v", got, title, err)
	}
	const title2 = "Use of the low-level GF(2^m) elliptic curve APIs."
	got, title, err = decodeScores(encodeScores(cs, title2, nil), nil)
	if err != nil || len(got) != 1 || got[0] != cs[0] || title != title2 {
		t.Errorf("version 2: %v %q %v", got, title, err)
	}
	// Compressed against a dictionary: smaller, and read back with it.
	dict := []byte(strings.Repeat(string(scoresRaw(cs, title2)), 4))
	plain, z := encodeScores(cs, title2, nil), encodeScores(cs, title2, newCodec(dict))
	got, title, err = decodeScores(z, dict)
	if len(z) >= len(plain) || err != nil || len(got) != 1 || got[0] != cs[0] || title != title2 {
		t.Errorf("version 2 compressed: %d bytes (plain %d): %v %q %v", len(z), len(plain), got, title, err)
	}
	if _, _, err := decodeScores(z, nil); err == nil {
		t.Error("a compressed record decoded without its dictionary")
	}
	if _, _, err := decodeScores([]byte{3}, nil); err == nil {
		t.Error("version 3 decoded")
	}
}

// BenchmarkDecodeScores: reading one NVD record, plain and DEFLATE-compressed
// against a 32 KiB dictionary (what a full NVD import stores).
func BenchmarkDecodeScores(b *testing.B) {
	cs := []CVSS{{Source: "nvd", Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8},
		{Source: "nvd", Version: "2.0", Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", Score: 7.5}}
	title := "Use of the low-level GF(2^m) elliptic curve APIs with untrusted explicit values for the field polynomial can lead to…"
	var samples [][]byte
	for i := 0; i < 4000; i++ {
		samples = append(samples, scoresRaw(cs, fmt.Sprintf("%s %d", title, i)))
	}
	dict := buildDict(samples)
	for _, c := range []struct {
		name string
		rec  []byte
		dict []byte
	}{{"plain", encodeScores(cs, title, nil), nil}, {"deflate-dict", encodeScores(cs, title, newCodec(dict)), dict}} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, _, err := decodeScores(c.rec, c.dict); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
