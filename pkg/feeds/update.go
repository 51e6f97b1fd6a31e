package feeds

import (
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Feed is one upstream feed fetched by Update: one or more URLs read
// together (all or nothing), e.g. an Alpine release's main.json and community.json.
// A URL (or mirror path) ending in .bz2 or .gz is decompressed.
type Feed struct {
	Name  string   // "osv-go", "alpine-v3.19", "ubuntu-noble", ...
	Kind  string   // a feed.Kind*
	URLs  []string // the upstream URLs
	Paths []string // the same files under a mirror base URL (one per URL)
	// Via says how the data files are found from URLs[0] (Paths[0] on a
	// mirror): "" they are the URLs themselves; ViaRedHatVEX, ViaYumRepo.
	Via string
}

const osvBase = "https://osv-vulnerabilities.storage.googleapis.com/"

// DefaultFeeds are what `warden db update` fetches. NVD is not among them:
// its API is paginated and rate-limited (add it with --feed nvd).
func DefaultFeeds() []Feed {
	var fs []Feed
	for _, eco := range []string{"Go", "npm", "PyPI", "Maven", "crates.io", "RubyGems", "NuGet", "Packagist", "AlmaLinux"} {
		fs = append(fs, Feed{Name: "osv-" + strings.ToLower(eco), Kind: feed.KindOSV,
			URLs: []string{osvBase + url.PathEscape(eco) + "/all.zip"}, Paths: []string{"osv/" + eco + "/all.zip"}})
	}
	for _, rel := range []string{"v3.16", "v3.17", "v3.18", "v3.19", "v3.20", "v3.21", "edge"} {
		f := Feed{Name: "alpine-" + rel, Kind: feed.KindSecDB}
		for _, repo := range []string{"main", "community"} {
			f.URLs = append(f.URLs, "https://secdb.alpinelinux.org/"+rel+"/"+repo+".json")
			f.Paths = append(f.Paths, "alpine/"+rel+"/"+repo+".json")
		}
		fs = append(fs, f)
	}
	fs = append(fs,
		Feed{Name: "wolfi", Kind: feed.KindSecDB, URLs: []string{"https://packages.wolfi.dev/os/security.json"}, Paths: []string{"wolfi/security.json"}},
		Feed{Name: "chainguard", Kind: feed.KindSecDB, URLs: []string{"https://packages.cgr.dev/chainguard/security.json"}, Paths: []string{"chainguard/security.json"}},
		Feed{Name: "debian-tracker", Kind: feed.KindDebianJSON, URLs: []string{"https://security-tracker.debian.org/tracker/data/json"}, Paths: []string{"debian/tracker.json"}},
		Feed{Name: "debian-dsa", Kind: feed.KindDebianList,
			URLs:  []string{"https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data/DSA/list", "https://salsa.debian.org/security-tracker-team/security-tracker/-/raw/master/data/DLA/list"},
			Paths: []string{"debian/DSA-list", "debian/DLA-list"}},
	)
	sup := Feed{Name: "debian-security-support", Kind: feed.KindDebianSupport}
	for _, f := range []string{"security-support-ended.deb11", "security-support-ended.deb12", "security-support-ended.deb13", "security-support-limited"} {
		sup.URLs = append(sup.URLs, "https://salsa.debian.org/debian/debian-security-support/-/raw/master/"+f)
		sup.Paths = append(sup.Paths, "debian-security-support/"+f)
	}
	fs = append(fs, sup)
	for _, code := range []string{"focal", "jammy", "noble", "oracular"} {
		fs = append(fs, Feed{Name: "ubuntu-" + code, Kind: feed.KindUbuntuOVAL,
			URLs:  []string{"https://security-metadata.canonical.com/oval/com.ubuntu." + code + ".usn.oval.xml.bz2"},
			Paths: []string{"ubuntu/com.ubuntu." + code + ".usn.oval.xml.bz2"}})
	}
	for _, rel := range []string{"8", "9"} {
		fs = append(fs, Feed{Name: "rocky-" + rel, Kind: feed.KindRHELOVAL,
			URLs:  []string{"https://dl.rockylinux.org/pub/oval/org.rockylinux.rlsa-" + rel + ".xml.bz2"},
			Paths: []string{"rocky/org.rockylinux.rlsa-" + rel + ".xml"}})
	}
	// SUSE publishes one OVAL file per product line (its definitions' criteria name the service pack)
	// and one per openSUSE Leap release; Oracle one file for every Oracle Linux release. The SLES and
	// Oracle URLs as anchore/vunnel fetches them; Leap's files sit beside SLES's, opensuse.leap.15.N.xml.
	fs = append(fs,
		Feed{Name: "suse-sles-15", Kind: feed.KindRHELOVAL,
			URLs:  []string{"https://ftp.suse.com/pub/projects/security/oval/suse.linux.enterprise.server.15.xml.bz2"},
			Paths: []string{"suse/suse.linux.enterprise.server.15.xml"}},
		Feed{Name: "oracle", Kind: feed.KindRHELOVAL,
			URLs:  []string{"https://linux.oracle.com/security/oval/com.oracle.elsa-all.xml.bz2"},
			Paths: []string{"oracle/com.oracle.elsa-all.xml"}})
	for _, rel := range []string{"15.5", "15.6"} {
		fs = append(fs, Feed{Name: "opensuse-leap-" + rel, Kind: feed.KindRHELOVAL,
			URLs:  []string{"https://ftp.suse.com/pub/projects/security/oval/opensuse.leap." + rel + ".xml.bz2"},
			Paths: []string{"suse/opensuse.leap." + rel + ".xml"}})
	}
	fs = append(fs, redHatFeeds()...)
	return append(fs, amazonFeeds()...)
}

// NVDFeed is the NVD CVE API 2.0 (paginated; set NVD_API_KEY for the higher rate limit).
var NVDFeed = Feed{Name: "nvd", Kind: feed.KindNVD, URLs: []string{"https://services.nvd.nist.gov/rest/json/cves/2.0"}, Paths: []string{"nvd/cves.json"}}

// NVDPageDelay is the pause between NVD API requests without a key (its public rate limit is 5 requests per 30 s).
var NVDPageDelay = 6 * time.Second

// UpdateOptions tune Update.
type UpdateOptions struct {
	Options
	Mirror   string    // base URL of a mirror holding each feed at its Paths; "" = upstream
	Feeds    []Feed    // default DefaultFeeds()
	Progress io.Writer // progress lines ("\r"-rewritten); nil = silent
	Now      func() time.Time
}

// FeedResult is the outcome of one feed.
type FeedResult struct {
	Feed        string
	NotModified bool // every URL answered 304: the data was kept
	Batches     []*vulndb.Batch
	Warnings    []string
	Err         error
}

// Update fetches every feed (conditional requests with the ETag /
// Last-Modified remembered in the database) and stores what changed, in one
// atomic database update. A feed that fails is reported in its FeedResult
// and the others still update; Update itself fails only when no feed could
// be fetched or the database cannot be written.
func Update(ctx context.Context, dbPath string, opt UpdateOptions) ([]FeedResult, error) {
	feeds := opt.Feeds
	if feeds == nil {
		feeds = DefaultFeeds()
	}
	var results []FeedResult
	err := vulndb.Update(ctx, dbPath, vulndb.UpdateOptions{Logger: opt.Logger, Now: opt.Now}, func(ctx context.Context, w *vulndb.Writer) error {
		ok := 0
		for i, f := range feeds {
			if opt.Progress != nil {
				fmt.Fprintf(opt.Progress, "\r\x1b[K[%d/%d] %s", i+1, len(feeds), f.Name)
			}
			r := updateFeed(ctx, w, f, opt)
			if r.Err == nil {
				ok++
			}
			results = append(results, r)
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if opt.Progress != nil {
			fmt.Fprint(opt.Progress, "\r\x1b[K")
		}
		if ok == 0 && len(feeds) > 0 {
			return errors.New("no feed could be updated")
		}
		return nil
	})
	return results, err
}

func feedURL(f Feed, i int, mirror string) string {
	if mirror == "" {
		return f.URLs[i]
	}
	return strings.TrimRight(mirror, "/") + "/" + f.Paths[i]
}

func updateFeed(ctx context.Context, w *vulndb.Writer, f Feed, opt UpdateOptions) (res FeedResult) {
	if f.Kind == feed.KindNVD && opt.Mirror == "" {
		return updateNVD(ctx, w, f, opt)
	}
	res.Feed = f.Name
	urls := make([]string, len(f.URLs))
	for i := range f.URLs {
		urls[i] = feedURL(f, i, opt.Mirror)
	}
	var err error
	switch f.Via {
	case "":
	case ViaRedHatVEX:
		urls, err = resolveRedHatVEX(ctx, opt, urls)
	case ViaYumRepo:
		urls, err = resolveYumRepo(ctx, opt, urls[0], opt.Mirror != "")
	default:
		err = fmt.Errorf("unknown way %q to the feed's files", f.Via)
	}
	if err != nil {
		res.Err = fmt.Errorf("feed %s: %w", f.Name, err)
		return res
	}
	origin := strings.Join(urls, ", ")
	if opt.Mirror != "" {
		origin = urls[0]
	}
	return updateFiles(ctx, w, f, urls, origin, opt, res)
}

// updateFiles fetches urls (conditionally) and stores what they hold as one
// all-or-nothing feed.
func updateFiles(ctx context.Context, w *vulndb.Writer, f Feed, urls []string, origin string, opt UpdateOptions, res FeedResult) FeedResult {
	files := make([]string, len(urls)) // "" for a URL that answered 304
	hcs := make([]vulndb.HTTPCache, len(urls))
	defer func() {
		for _, p := range files {
			if p != "" {
				removeDownload(p)
			}
		}
	}()
	notModified := 0
	var prevSources []string
	for i, u := range urls {
		old, _ := w.HTTPCache(u)
		prevSources = append(prevSources, old.Sources...)
		path, hc, nm, err := fetchConditional(ctx, opt, u, old)
		if err != nil {
			res.Err = fmt.Errorf("feed %s: %w", f.Name, err)
			return res
		}
		if nm {
			notModified++
			continue
		}
		files[i], hcs[i] = path, hc
	}
	if notModified == len(urls) {
		res.NotModified = true
		for _, s := range uniq(prevSources) {
			if err := w.Touch(s); err != nil {
				res.Err = fmt.Errorf("feed %s: %w", f.Name, err)
			}
		}
		return res
	}
	// Part of an all-or-nothing feed changed: fetch the files that answered
	// 304 again, unconditionally (the others are not fetched twice: one is
	// Red Hat's archive).
	for i, u := range urls {
		if files[i] != "" {
			continue
		}
		path, hc, _, err := fetchConditional(ctx, opt, u, vulndb.HTTPCache{})
		if err != nil {
			res.Err = fmt.Errorf("feed %s: %w", f.Name, err)
			return res
		}
		files[i], hcs[i] = path, hc
	}
	specs := make([]string, len(files))
	for i, p := range files {
		specs[i] = f.Kind + ":" + p
	}
	// Messages name the URL a file came from, not its temporary copy.
	byURL := func(msg string) string {
		for i, p := range files {
			msg = strings.ReplaceAll(msg, p, urls[i])
		}
		return msg
	}
	rr, err := Read(ctx, specs, opt.Options)
	if err != nil {
		res.Err = fmt.Errorf("feed %s: %w", f.Name, &renamedError{byURL(err.Error()), err})
		return res
	}
	defer rr.Close()
	var sources []string
	for _, b := range rr.Batches {
		b.Origin = origin
		if err := w.Put(b); err != nil {
			res.Err = fmt.Errorf("feed %s: %w", f.Name, err)
			return res
		}
		sources = append(sources, b.Source)
	}
	for i, u := range urls {
		hcs[i].Sources = sources
		if err := w.SetHTTPCache(u, hcs[i]); err != nil {
			res.Err = fmt.Errorf("feed %s: %w", f.Name, err)
			return res
		}
	}
	res.Batches = rr.Batches
	for _, m := range rr.Warnings {
		res.Warnings = append(res.Warnings, byURL(m))
	}
	return res
}

// renamedError is an error with its message rewritten (files named by URL).
type renamedError struct {
	msg string
	err error
}

func (e *renamedError) Error() string { return e.msg }
func (e *renamedError) Unwrap() error { return e.err }

func uniq(ss []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// fetchConditional GETs u with the validators of old; notModified on 304.
func fetchConditional(ctx context.Context, opt UpdateOptions, u string, old vulndb.HTTPCache) (path string, hc vulndb.HTTPCache, notModified bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", hc, false, fmt.Errorf("fetching %s: %w", u, err)
	}
	if old.ETag != "" {
		req.Header.Set("If-None-Match", old.ETag)
	}
	if old.LastModified != "" {
		req.Header.Set("If-Modified-Since", old.LastModified)
	}
	req.Header.Set("User-Agent", "warden-db-update")
	resp, err := opt.client().Do(req)
	if err != nil {
		return "", hc, false, fmt.Errorf("fetching %s: %w", u, err)
	}
	defer resp.Body.Close()
	now := time.Now()
	if opt.Now != nil {
		now = opt.Now()
	}
	switch resp.StatusCode {
	case http.StatusNotModified:
		return "", old, true, nil
	case http.StatusOK:
	default:
		return "", hc, false, fmt.Errorf("fetching %s: %s", u, resp.Status)
	}
	path, err = saveBody(opt.Options, u, resp)
	if err != nil {
		return "", hc, false, err
	}
	return path, vulndb.HTTPCache{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Fetched: now.UTC()}, false, nil
}

// decompressor wraps a response body by the URL's compression suffix. A
// .tar.zst archive stays compressed (feed.Walk streams it).
func decompressor(u string, body io.Reader) (io.Reader, error) {
	switch {
	case strings.HasSuffix(u, ".tar.zst"):
	case strings.HasSuffix(u, ".zst"):
		return zstd.NewReader(body, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(feed.MaxFileSize))
	case strings.HasSuffix(u, ".bz2"):
		return bzip2.NewReader(body), nil
	case strings.HasSuffix(u, ".gz"):
		return gzip.NewReader(body)
	}
	return body, nil
}
