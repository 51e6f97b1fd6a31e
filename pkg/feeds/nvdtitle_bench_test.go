package feeds

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testutil"
	"github.com/wardensec/warden/pkg/feeds/nvd"
	"github.com/wardensec/warden/pkg/vulndb"
)

// nvdScale is about how many CVE records NVD's API serves (late 2026).
const nvdScale = 300_000

// BenchmarkNVDTitleCost measures what keeping NVD titles costs the database
// file. The corpus holds one NVD record, so the descriptions are the 2,661
// PyPI advisories' details (PYSEC records copy the CVE description), cut by
// nvd.Shorten as an NVD import cuts them; nvdScale records are written, each
// with a distinct CVE id and a CVSS 3.1 and 2.0 score as most NVD records
// have, cycling through those texts: once with scores only (what an NVD
// import stored before titles), once with scores and titles, and once with
// scores and the whole first paragraph (no cap), for comparison.
//
//	go test ./pkg/feeds -run '^$' -bench NVDTitleCost -benchtime 1x
func BenchmarkNVDTitleCost(b *testing.B) {
	corpus := testutil.Corpus(b)
	res, err := Read(context.Background(), []string{filepath.Join(corpus, "feeds", "pypi-osv-all.zip")}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer res.Close()
	var descs []string
	seen := map[string]bool{}
	for _, bt := range res.Batches {
		for _, a := range bt.Advisories {
			if a.Description != "" && !seen[a.ID] {
				seen[a.ID] = true
				descs = append(descs, a.Description)
			}
		}
	}
	sort.Strings(descs)
	if len(descs) < 1000 {
		b.Fatalf("only %d descriptions", len(descs))
	}
	var lens []int
	for _, d := range descs {
		lens = append(lens, len(nvd.Shorten(d, nvd.MaxTitle)))
	}
	sort.Ints(lens)
	sum := 0
	for _, n := range lens {
		sum += n
	}
	b.ReportMetric(float64(sum)/float64(len(lens)), "B/title")
	b.ReportMetric(float64(lens[len(lens)/2]), "B/title-median")
	scores := []vulndb.CVSS{
		{Source: "nvd", Version: "3.1", Vector: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", Score: 9.8},
		{Source: "nvd", Version: "2.0", Vector: "AV:N/AC:L/Au:N/C:P/I:P/A:P", Score: 7.5},
	}
	size := func(title func(i int) string) (float64, string) {
		bt := &vulndb.Batch{Source: nvd.Source, Records: nvdScale, Scores: map[string][]vulndb.CVSS{}, Titles: map[string]string{}}
		for i := range nvdScale {
			id := fmt.Sprintf("CVE-%d-%d", 1999+i%28, 1000+i)
			bt.Scores[id] = scores
			if t := title(i); t != "" {
				bt.Titles[id] = t
			}
		}
		path := filepath.Join(b.TempDir(), "db")
		err := vulndb.Update(context.Background(), path, vulndb.UpdateOptions{Fresh: true}, func(ctx context.Context, w *vulndb.Writer) error {
			return w.Put(bt)
		})
		if err != nil {
			b.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			b.Fatal(err)
		}
		return float64(fi.Size()), path
	}
	for i := 0; i < b.N; i++ {
		start := time.Now()
		without, _ := size(func(int) string { return "" })
		with, path := size(func(i int) string { return nvd.Shorten(descs[i%len(descs)], nvd.MaxTitle) })
		uncapped, _ := size(func(i int) string { return nvd.Shorten(descs[i%len(descs)], 1<<20) })
		// What reading a record costs a lookup (scores and title of 10,000 CVEs).
		db, err := vulndb.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		c0 := cpuTime()
		for j := range 10_000 {
			k := j * 29 % nvdScale
			id := fmt.Sprintf("CVE-%d-%d", 1999+k%28, 1000+k)
			cs, _ := db.Scores(id)
			t, _ := db.NVDTitle(id)
			if len(cs) != 2 || t == "" {
				b.Fatalf("%s: %v %q", id, cs, t)
			}
		}
		b.ReportMetric(float64((cpuTime()-c0).Microseconds())/10_000, "cpu-µs/record-read")
		db.Close()
		b.ReportMetric(without/1e6, "MB-scores-only")
		b.ReportMetric(with/1e6, "MB-with-titles")
		b.ReportMetric(uncapped/1e6, "MB-uncapped-sentence")
		b.ReportMetric((with-without)/nvdScale, "B/record-added")
		b.ReportMetric(time.Since(start).Seconds(), "s")
	}
}
