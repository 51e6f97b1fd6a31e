package nvd

import (
	"os"
	"strings"
	"testing"

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
