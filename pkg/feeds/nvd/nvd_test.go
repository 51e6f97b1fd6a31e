package nvd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

func TestRecordAndResponse(t *testing.T) {
	rec, err := os.ReadFile("testdata/CVE-2021-44906.json")
	if err != nil {
		t.Fatal(err)
	}
	want := []vulndb.CVSS{
		{Source: "nvd", Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8},
		{Source: "nvd", Version: "2.0", Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", Score: 7.5},
	}
	resp := `{"resultsPerPage":1,"startIndex":0,"totalResults":1,"format":"NVD_CVE","version":"2.0","vulnerabilities":[{"cve":` + string(rec) + `}]}`
	for name, data := range map[string][]byte{"record": rec, "response": []byte(resp)} {
		r := NewReader(nil)
		if err := r.AddBytes(name, data); err != nil {
			t.Fatal(err)
		}
		b := r.Batches()[0]
		if diff := cmp.Diff(want, b.Scores["CVE-2021-44906"]); diff != "" || b.Records != 1 {
			t.Errorf("%s: records %d, scores (-want +got):\n%s", name, b.Records, diff)
		}
		if got := b.Titles["CVE-2021-44906"]; got != "Minimist <=1.2.5 is vulnerable to Prototype Pollution via file index.js, function setKey() (lines 69-95)." {
			t.Errorf("%s: title %q", name, got)
		}
	}
}

// TestTitles: the title of real NVD records (the repository's
// testdata/feeds/nvd: OpenSSL's, whose descriptions open with "Issue
// summary:" and run over several lines): the first sentence, its lines
// joined, cut at a word to MaxTitle characters. A record without metrics
// (CVE-2024-9143, as NVD published it) still has its title.
func TestTitles(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "testdata", "feeds", "nvd")
	for file, want := range map[string]string{
		"CVE-2024-9143.json": "Use of the low-level GF(2^m) elliptic curve APIs with untrusted explicit values for the field polynomial can lead to…",
		"CVE-2024-6119.json": "Applications performing certificate name checks (e.g., TLS clients checking server certificates) may attempt to read an…",
	} {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		r := NewReader(nil)
		if err := r.AddBytes(file, data); err != nil {
			t.Fatal(err)
		}
		id := strings.TrimSuffix(file, ".json")
		got := r.Batches()[0].Titles[id]
		if got != want {
			t.Errorf("%s: title %q, want %q", file, got, want)
		}
		if n := utf8.RuneCountInString(got); n > MaxTitle+1 {
			t.Errorf("%s: title of %d characters", file, n)
		}
	}
}

func TestShorten(t *testing.T) {
	long := strings.Repeat("word ", 40)
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"One sentence without a full stop", "One sentence without a full stop"},
		{"First sentence. Second sentence.", "First sentence."},
		{"Issue summary: Bad thing.\n\nImpact summary: worse.", "Bad thing."},
		{"A line\nwrapped here. Next.", "A line wrapped here."},
		{"Tools (e.g. The Foo CLI) crash. Next.", "Tools (e.g. The Foo CLI) crash."},
		{"Fixed in v. 2.0 by J. Smith. Next one.", "Fixed in v. 2.0 by J. Smith."},
		{"Versions 1.2.5 and 1.3. Are affected.", "Versions 1.2.5 and 1.3."},
		{"The first paragraph has no full stop\n\nThe second. Has two.", "The first paragraph has no full stop"},
		{long, strings.TrimSpace(strings.Repeat("word ", 24)) + "…"},
		{strings.Repeat("x", 200), strings.Repeat("x", MaxTitle) + "…"},
	} {
		if got := Shorten(c.in, MaxTitle); got != c.want {
			t.Errorf("Shorten(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMalformed(t *testing.T) {
	w := &feed.Warnings{}
	r := NewReader(w)
	if err := r.AddBytes("r.json", []byte(`{"vulnerabilities":[{"cve":{"id":"X-1"}},{"cve":{"id":"CVE-2020-1","metrics":{"cvssMetricV31":[{"cvssData":{"baseScore":11}}]}}},{"cve":{"id":"CVE-2020-2"}}]}`)); err != nil {
		t.Fatal(err)
	}
	b := r.Batches()[0]
	if b.Records != 3 || b.Skipped != 2 || len(w.List) != 2 || !strings.Contains(w.List[1], "CVE-2020-1") {
		t.Errorf("batch %+v warnings %q", b, w.List)
	}
}

func FuzzAddBytes(f *testing.F) {
	rec, err := os.ReadFile("testdata/CVE-2021-44906.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rec)
	f.Add([]byte(`{"vulnerabilities":[{"cve":{"id":"CVE-1-1"}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := NewReader(nil)
		_ = r.AddBytes("fuzz", data)
		r.Batches()
	})
}
