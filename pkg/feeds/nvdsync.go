package feeds

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/feeds/nvd"
	"github.com/wardensec/warden/pkg/vulndb"
)

// NVD API limits (https://nvd.nist.gov/developers/start-here): 5 requests in
// a rolling 30 s window without a key, 50 with one (NVD_API_KEY, sent as the
// apiKey header); at most 2,000 CVEs a page; a lastModified window of at most 120 days.
var (
	NVDPageDelayWithKey = 600 * time.Millisecond
	NVDMaxWindow        = 120 * 24 * time.Hour
	NVDPageSize         = 2000
	NVDRetries          = 3
)

// nvdTime formats a window bound as the API wants it (ISO 8601 with an explicit offset).
func nvdTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000") + "+00:00" }

// updateNVD syncs NVD scores through the CVE API 2.0. The first run pages
// through every CVE; later runs ask only for what changed since the last sync
// (lastModStartDate/lastModEndDate windows of at most NVDMaxWindow) and merge
// it. A run that is cut off keeps what it got and records where to resume:
// the next window start, or the page index of a full download.
func updateNVD(ctx context.Context, w *vulndb.Writer, f Feed, opt UpdateOptions) (res FeedResult) {
	res.Feed = f.Name
	base := f.URLs[0]
	now := time.Now().UTC()
	if opt.Now != nil {
		now = opt.Now().UTC()
	}
	hc, _ := w.HTTPCache(base)
	warn := &feed.Warnings{}
	rd := nvd.NewReader(warn)
	delay := NVDPageDelay
	key := os.Getenv("NVD_API_KEY")
	if key != "" {
		delay = NVDPageDelayWithKey
	}
	c := &nvdClient{opt: opt, key: key, delay: delay}

	next := hc // what the database will remember
	var stopErr error
	merge := true
	if !hc.SyncedTo.IsZero() {
		for start := hc.SyncedTo; start.Before(now); {
			end := start.Add(NVDMaxWindow)
			if end.After(now) {
				end = now
			}
			q := url.Values{"lastModStartDate": {nvdTime(start)}, "lastModEndDate": {nvdTime(end)}}
			if _, err := c.pages(ctx, base, q, 0, rd); err != nil {
				stopErr = fmt.Errorf("window %s to %s: %w", nvdTime(start), nvdTime(end), err)
				break
			}
			next.SyncedTo, start = end, end
		}
	} else {
		from, started := 0, now
		if hc.ResumeIndex > 0 {
			from, started = hc.ResumeIndex, hc.ResumeStart
		} else {
			merge = false // a complete download replaces what an import held
		}
		at, err := c.pages(ctx, base, url.Values{}, from, rd)
		if err != nil {
			stopErr = fmt.Errorf("at startIndex %d: %w", at, err)
			next.ResumeIndex, next.ResumeStart = at, started
			merge = true
		} else {
			next.SyncedTo, next.ResumeIndex, next.ResumeStart = started, 0, time.Time{}
		}
	}
	batches := rd.Batches()
	if stopErr != nil && len(batches) == 0 {
		res.Err = fmt.Errorf("feed %s: %w", f.Name, stopErr)
		return res
	}
	for _, b := range batches {
		b.Origin, b.Merge = base, merge
		if err := w.Put(b); err != nil {
			res.Err = fmt.Errorf("feed %s: %w", f.Name, err)
			return res
		}
		next.Sources = []string{b.Source}
	}
	if len(batches) == 0 && stopErr == nil {
		if err := w.Touch(nvd.Source); err != nil {
			res.Err = fmt.Errorf("feed %s: %w", f.Name, err)
			return res
		}
	}
	next.Fetched = now
	if err := w.SetHTTPCache(base, next); err != nil {
		res.Err = fmt.Errorf("feed %s: %w", f.Name, err)
		return res
	}
	res.Batches, res.Warnings = batches, warn.List
	if stopErr != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("nvd: stopped %v; kept what was fetched, the next update resumes there", stopErr))
	}
	return res
}

// nvdClient pages through the API, pausing between requests as the rate limit asks.
type nvdClient struct {
	opt      UpdateOptions
	key      string
	delay    time.Duration
	requests int
}

// pages fetches every page of the query from startIndex from into rd. It
// returns the start index it reached (where to resume after an error).
func (c *nvdClient) pages(ctx context.Context, base string, q url.Values, from int, rd *nvd.Reader) (int, error) {
	for start := from; ; {
		q.Set("startIndex", strconv.Itoa(start))
		q.Set("resultsPerPage", strconv.Itoa(NVDPageSize))
		u := base + "?" + q.Encode()
		body, err := c.get(ctx, u)
		if err != nil {
			return start, err
		}
		var page struct {
			TotalResults    int               `json:"totalResults"`
			Vulnerabilities []json.RawMessage `json:"vulnerabilities"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return start, fmt.Errorf("decoding %s: %w", u, err)
		}
		if err := rd.AddBytes(u, body); err != nil {
			return start, err
		}
		start += len(page.Vulnerabilities)
		if len(page.Vulnerabilities) == 0 || start >= page.TotalResults {
			return start, nil
		}
	}
}

// get GETs u after the rate-limit pause, retrying what the API answers when
// it is busy or limiting (403, 429, 5xx) with a growing pause.
func (c *nvdClient) get(ctx context.Context, u string) ([]byte, error) {
	var last error
	for try := 0; try <= NVDRetries; try++ {
		if c.requests > 0 || try > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(c.delay << try):
			}
		}
		c.requests++
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		if c.key != "" {
			req.Header.Set("apiKey", c.key)
		}
		resp, err := c.opt.client().Do(req)
		if err != nil {
			last = fmt.Errorf("fetching %s: %w", u, err)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, feed.MaxFileSize))
		resp.Body.Close()
		switch {
		case err != nil:
			last = fmt.Errorf("fetching %s: %w", u, err)
		case resp.StatusCode == http.StatusOK:
			return body, nil
		case resp.StatusCode == http.StatusForbidden || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			last = fmt.Errorf("fetching %s: %s", u, resp.Status)
		default:
			return nil, fmt.Errorf("fetching %s: %s", u, resp.Status)
		}
	}
	return nil, last
}
