// Package feeds reads vulnerability feeds in their upstream formats (OSV,
// Alpine/Wolfi secdb, Debian security tracker JSON and lists, Ubuntu and Red
// Hat family OVAL, NVD CVE API 2.0) from directories, zips, files or URLs,
// and imports them into a pkg/vulndb database.
package feeds

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	pathpkg "path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/wardensec/warden/pkg/feeds/alpine"
	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/feeds/osv"
	"github.com/wardensec/warden/pkg/vulndb"
)

// Options tune reading and importing.
type Options struct {
	Logger     *slog.Logger
	HTTPClient *http.Client // for URL sources; default a client with a 5-minute timeout
	TempDir    string       // where downloads go; default os.TempDir()
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o *Options) client() *http.Client {
	if o.HTTPClient == nil {
		return &http.Client{Timeout: 5 * time.Minute}
	}
	return o.HTTPClient
}

// kindAliases maps the KIND names accepted in KIND:PATH to kinds.
var kindAliases = map[string]string{
	"osv": feed.KindOSV, "ghsa": feed.KindOSV, "go": feed.KindOSV,
	"alpine": feed.KindSecDB, "secdb": feed.KindSecDB, "wolfi": feed.KindSecDB, "chainguard": feed.KindSecDB,
	"debian-json": feed.KindDebianJSON, "debian": feed.KindDebianJSON,
	"debian-dsa": feed.KindDebianList, "dsa": feed.KindDebianList, "dla": feed.KindDebianList,
	"debian-support": feed.KindDebianSupport,
	"ubuntu-oval":    feed.KindUbuntuOVAL, "ubuntu": feed.KindUbuntuOVAL,
	"rhel-oval": feed.KindRHELOVAL, "redhat-oval": feed.KindRHELOVAL, "rocky-oval": feed.KindRHELOVAL, "oval": feed.KindRHELOVAL,
	"suse-oval": feed.KindRHELOVAL, "suse": feed.KindRHELOVAL, "oracle-oval": feed.KindRHELOVAL,
	"nvd":    feed.KindNVD,
	"amazon": feed.KindAmazon, "alas": feed.KindAmazon, "updateinfo": feed.KindAmazon,
	"redhat-csaf": feed.KindCSAF, "csaf": feed.KindCSAF, "vex": feed.KindCSAF, "rhel": feed.KindCSAF,
	"bundle": feed.KindBundle,
}

// ParseSpec splits "KIND:PATH" (kind "" when the argument has no known kind prefix).
func ParseSpec(arg string) (kind, loc string) {
	if k, rest, ok := strings.Cut(arg, ":"); ok {
		if kind, known := kindAliases[strings.ToLower(k)]; known {
			return kind, rest
		}
	}
	return "", arg
}

// Result is what Read produced.
type Result struct {
	Batches   []*vulndb.Batch // Read only
	Summaries []Summary       // Import only: per source, what was stored
	Bundles   []string        // database bundles (from `warden db export`) to merge (Import: the arguments they came from)
	Warnings  []string        // skipped malformed records, one line each
	Ignored   []string        // files that are no feed (README, licences)
	cleanup   []string
}

// Close removes temporary files (downloads, unpacked bundles).
func (r *Result) Close() {
	for _, f := range r.cleanup {
		removeDownload(f)
	}
	r.cleanup = nil
}

type reader interface {
	Add(e *feed.Entry) error
	Batches() []*vulndb.Batch
}

type readers struct {
	warn *feed.Warnings
	m    map[string]reader
}

func (rs *readers) get(kind string) (reader, error) {
	if r := rs.m[kind]; r != nil {
		return r, nil
	}
	var r reader
	switch kind {
	case feed.KindOSV:
		r = osv.NewReader(rs.warn)
	case feed.KindSecDB:
		r = alpine.NewReader(rs.warn)
	default:
		r = extraReader(kind, rs.warn)
		if r == nil {
			return nil, fmt.Errorf("no reader for feed kind %q yet", kind)
		}
	}
	rs.m[kind] = r
	return r, nil
}

// notData is what an explicit KIND does not force onto a file.
func notData(name string) bool {
	b := strings.ToLower(filepath.Base(name))
	for _, p := range []string{"readme", "license", "licence", "copying", "copyright", "notice"} {
		if strings.HasPrefix(b, p) || strings.Contains(b, "."+p) {
			return true
		}
	}
	// Beside Red Hat's VEX files: index.txt, changes.csv, deletions.csv, signatures and checksums.
	for _, s := range []string{".md", ".txt", ".csv", ".asc", ".sig", ".sha256"} {
		if strings.HasSuffix(b, s) {
			return true
		}
	}
	return false
}

// Read reads every source (KIND:PATH, a directory, a zip, a file or an
// http(s) URL). Malformed records are skipped and listed in Warnings; an
// unreadable source (missing, a truncated zip, an unreachable URL) is an error.
func Read(ctx context.Context, specs []string, opt Options) (_ *Result, err error) {
	log := opt.logger()
	res := &Result{}
	defer func() {
		if err != nil {
			res.Close()
		}
	}()
	rs := &readers{warn: &feed.Warnings{Logger: log}, m: map[string]reader{}}
	origins := map[string][]string{} // kind -> the sources that fed it
	for _, spec := range specs {
		kind, loc := ParseSpec(spec)
		path := loc
		if strings.HasPrefix(loc, "http://") || strings.HasPrefix(loc, "https://") {
			p, err := download(ctx, opt, loc)
			if err != nil {
				return nil, err
			}
			res.cleanup = append(res.cleanup, p)
			path = p
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("feed source %s: %w", loc, err)
		}
		single := !fi.IsDir() && !feed.IsZip(path) && !feed.IsZstd(path)
		n := 0
		err = feed.Walk(ctx, path, func(e *feed.Entry) error {
			if path != loc && e.Source == "" {
				e.Name = loc // name a download by its URL
			}
			k := kind
			if k == "" || k == feed.KindBundle {
				s, err := feed.SniffEntry(e)
				if err != nil {
					return err
				}
				if k == "" {
					k = s
				}
			} else if notData(e.Name) {
				k = ""
			}
			if k == "" {
				if single {
					return fmt.Errorf("%s: cannot tell which feed this is; name it as KIND:PATH (kinds: %s)", loc, strings.Join(feed.Kinds, ", "))
				}
				log.Debug("not a feed file; ignoring it", "file", e.String())
				res.Ignored = append(res.Ignored, e.String())
				return nil
			}
			n++
			if k == feed.KindBundle {
				p, err := unpackBundle(e, opt)
				if err != nil {
					return err
				}
				res.cleanup = append(res.cleanup, p)
				res.Bundles = append(res.Bundles, p)
				return nil
			}
			r, err := rs.get(k)
			if err != nil {
				return fmt.Errorf("%s: %w", e, err)
			}
			if o := origins[k]; len(o) == 0 || o[len(o)-1] != loc {
				origins[k] = append(o, loc)
			}
			if err := r.Add(e); err != nil {
				return fmt.Errorf("reading %s feed %s: %w", k, e, err)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, fmt.Errorf("feed source %s holds no feed file", loc)
		}
	}
	kinds := make([]string, 0, len(rs.m))
	for k := range rs.m {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		for _, b := range rs.m[k].Batches() {
			if b.Origin == "" {
				b.Origin = strings.Join(origins[k], ", ")
			}
			res.Batches = append(res.Batches, b)
		}
	}
	res.Warnings = rs.warn.List
	return res, nil
}

// download fetches a URL into a temporary file.
func download(ctx context.Context, opt Options, url string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", url, err)
	}
	resp, err := opt.client().Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetching %s: %s", url, resp.Status)
	}
	return saveBody(opt, url, resp)
}

// maxArchiveDownload bounds a downloaded tar.zst archive (Red Hat's CSAF VEX
// archive is about 260 MB).
const maxArchiveDownload = 4 << 30

// saveBody writes a response into a new temporary directory, under the
// URL's file name (without .bz2/.gz/.zst; a .tar.zst stays as it is), which some readers go by
// (security-support-ended.debN). Remove it with removeDownload.
func saveBody(opt Options, url string, resp *http.Response) (string, error) {
	dir, err := os.MkdirTemp(opt.TempDir, "warden-feed-*")
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", url, err)
	}
	base := url
	if i := strings.IndexAny(base, "?#"); i >= 0 {
		base = base[:i]
	}
	base = pathpkg.Base(base)
	archive := strings.HasSuffix(strings.ToLower(base), ".tar.zst")
	if !archive {
		base = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(base, ".bz2"), ".gz"), ".zst")
	}
	if base == "" || base == "." || base == "/" {
		base = "feed"
	}
	f, err := os.Create(filepath.Join(dir, base))
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("fetching %s: %w", url, err)
	}
	// Count the raw bytes (a truncated transfer is an error), then decompress
	// by the URL's suffix (.bz2 Ubuntu OVAL, .gz).
	raw := &countingReader{r: resp.Body}
	body, err := decompressor(strings.ToLower(url), raw)
	if err != nil {
		f.Close()
		os.RemoveAll(dir)
		return "", fmt.Errorf("fetching %s: %w", url, err)
	}
	if c, ok := body.(interface{ Close() }); ok {
		defer c.Close() // a zstd decoder's goroutines
	}
	limit := int64(feed.MaxFileSize)
	if archive {
		limit = maxArchiveDownload // kept compressed; feed.Walk bounds its decompression
	}
	n, err := io.Copy(f, io.LimitReader(body, limit+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > limit {
		err = fmt.Errorf("larger than %d bytes", limit)
	}
	if err == nil && resp.ContentLength > 0 && raw.n < resp.ContentLength {
		err = fmt.Errorf("truncated: %d of %d bytes", raw.n, resp.ContentLength)
	}
	if err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("fetching %s: %w", url, err)
	}
	return f.Name(), nil
}

// removeDownload removes a file written by saveBody (and its directory).
func removeDownload(p string) {
	if strings.HasPrefix(filepath.Base(filepath.Dir(p)), "warden-feed-") {
		os.RemoveAll(filepath.Dir(p))
		return
	}
	os.Remove(p)
}

// unpackBundle writes a bundle's database to a temporary file.
func unpackBundle(e *feed.Entry, opt Options) (string, error) {
	rc, err := e.Open()
	if err != nil {
		return "", err
	}
	defer rc.Close()
	var r io.Reader = rc
	head := make([]byte, 2)
	br := io.MultiReader()
	if _, err := io.ReadFull(rc, head); err != nil {
		return "", fmt.Errorf("bundle %s: %w", e, err)
	}
	br = io.MultiReader(strings.NewReader(string(head)), rc)
	r = br
	if string(head) == "\x1f\x8b" {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return "", fmt.Errorf("bundle %s: %w", e, err)
		}
		r = zr
	}
	f, err := os.CreateTemp(opt.TempDir, "warden-bundle-*")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, io.LimitReader(r, 4<<30))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("unpacking bundle %s: %w", e, err)
	}
	return f.Name(), nil
}

// Summary is what an import stored for one source.
type Summary struct {
	Source     string
	Records    int // records read, including withdrawn and skipped ones
	Withdrawn  int
	Skipped    int
	Advisories int // advisory rows (or CVE scores for NVD)
}

// Import reads the sources one at a time and stores each in the database
// at dbPath, all in one atomic update: on any error the previous database is
// untouched. Only one source's records are held in memory at a time; the
// Result carries Summaries (its Batches are released once stored).
func Import(ctx context.Context, dbPath string, specs []string, opt Options) (*Result, error) {
	total := &Result{}
	sums := map[string]*Summary{}
	err := vulndb.Update(ctx, dbPath, vulndb.UpdateOptions{Logger: opt.Logger}, func(ctx context.Context, w *vulndb.Writer) error {
		for _, spec := range specs {
			res, err := Read(ctx, []string{spec}, opt)
			if err != nil {
				return err
			}
			err = func() error {
				defer res.Close()
				for _, p := range res.Bundles {
					if err := w.Merge(p); err != nil {
						return err
					}
					total.Bundles = append(total.Bundles, spec)
				}
				for _, b := range res.Batches {
					if err := w.Put(b); err != nil {
						return err
					}
					s := sums[b.Source]
					if s == nil {
						s = &Summary{Source: b.Source}
						sums[b.Source] = s
					}
					s.Records += b.Records
					s.Withdrawn += b.Withdrawn
					s.Skipped += b.Skipped
					s.Advisories += len(b.Advisories) + len(b.CVEs())
				}
				total.Warnings = append(total.Warnings, res.Warnings...)
				total.Ignored = append(total.Ignored, res.Ignored...)
				return nil
			}()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, s := range sums {
		total.Summaries = append(total.Summaries, *s)
	}
	sort.Slice(total.Summaries, func(i, j int) bool { return total.Summaries[i].Source < total.Summaries[j].Source })
	return total, nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
