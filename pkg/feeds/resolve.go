package feeds

import (
	"bufio"
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/wardensec/warden/pkg/feeds/feed"
)

// Ways from a feed's first URL to its data files (Feed.Via).
const (
	// ViaRedHatVEX: URLs[0] is Red Hat's csaf/v2/vex/archive_latest.txt, one
	// line naming the newest tar.zst archive of every VEX file, which sits
	// beside it (on a mirror too); the archive replaces URLs[0], the other
	// URLs (repository-to-cpe.json) are fetched as they are.
	ViaRedHatVEX = "redhat-vex-archive"
	// ViaYumRepo: URLs[0] is a yum repository's mirror.list (one base URL a
	// line); the first base's repodata/repomd.xml names the updateinfo file,
	// relative to the base. On a mirror, Paths[0] is the repository's
	// repodata/repomd.xml itself.
	ViaYumRepo = "yum-repomd"
)

const (
	redHatVEXBase     = "https://security.access.redhat.com/data/csaf/v2/vex/"
	redHatRepoToCPE   = "https://security.access.redhat.com/data/meta/v1/repository-to-cpe.json"
	maxIndexFileBytes = 1 << 20 // archive_latest.txt, mirror.list, repomd.xml
)

// redHatFeeds: Red Hat's CSAF VEX files (every CVE, every product; the reader
// keeps RHEL's rows) and the repository-to-CPE map the matcher uses for the
// content sets of an image.
func redHatFeeds() []Feed {
	return []Feed{{Name: "redhat-csaf", Kind: feed.KindCSAF, Via: ViaRedHatVEX,
		URLs:  []string{redHatVEXBase + "archive_latest.txt", redHatRepoToCPE},
		Paths: []string{"redhat/csaf/v2/vex/archive_latest.txt", "redhat/meta/v1/repository-to-cpe.json"}}}
}

// amazonFeeds: the updateinfo of Amazon Linux 2's and 2023's core
// repositories (x86_64: the advisories name every architecture's packages).
func amazonFeeds() []Feed {
	return []Feed{
		{Name: "amazon-2", Kind: feed.KindAmazon, Via: ViaYumRepo,
			URLs:  []string{"https://cdn.amazonlinux.com/2/core/latest/x86_64/mirror.list"},
			Paths: []string{"amazon/2/repodata/repomd.xml"}},
		{Name: "amazon-2023", Kind: feed.KindAmazon, Via: ViaYumRepo,
			URLs:  []string{"https://cdn.amazonlinux.com/al2023/core/mirrors/latest/x86_64/mirror.list"},
			Paths: []string{"amazon/2023/repodata/repomd.xml"}},
	}
}

// archiveName is what archive_latest.txt may name: a file beside it.
var archiveName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*\.tar\.zst$`)

// resolveRedHatVEX reads archive_latest.txt (urls[0]) and returns the URLs
// with the archive it names in its place.
func resolveRedHatVEX(ctx context.Context, opt UpdateOptions, urls []string) ([]string, error) {
	data, err := fetchSmall(ctx, opt, urls[0])
	if err != nil {
		return nil, err
	}
	name := strings.TrimSpace(string(data))
	if !archiveName.MatchString(name) {
		return nil, fmt.Errorf("%s: %q is not the file name of a tar.zst archive", urls[0], truncate(name, 80))
	}
	dir := urls[0][:strings.LastIndexByte(urls[0], '/')+1]
	return append([]string{dir + name}, urls[1:]...), nil
}

// resolveYumRepo returns the URL of the updateinfo file of the repository
// that the mirror list first (or, on a mirror, the repomd.xml) names.
func resolveYumRepo(ctx context.Context, opt UpdateOptions, first string, onMirror bool) ([]string, error) {
	repomd := first
	if !onMirror {
		data, err := fetchSmall(ctx, opt, first)
		if err != nil {
			return nil, err
		}
		base := ""
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			u, err := url.Parse(line)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, fmt.Errorf("%s: %q is not an http(s) URL", first, truncate(line, 80))
			}
			base = line
			break
		}
		if base == "" {
			return nil, fmt.Errorf("%s names no repository", first)
		}
		// Amazon Linux 2's list names the base without the final slash, 2023's with it.
		repomd = strings.TrimRight(base, "/") + "/repodata/repomd.xml"
	}
	if !strings.HasSuffix(repomd, "/repodata/repomd.xml") {
		return nil, fmt.Errorf("%s is not a repository's repodata/repomd.xml", repomd)
	}
	data, err := fetchSmall(ctx, opt, repomd)
	if err != nil {
		return nil, err
	}
	href, err := updateinfoHref(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", repomd, err)
	}
	base, _ := url.Parse(strings.TrimSuffix(repomd, "repodata/repomd.xml"))
	ref, err := url.Parse(href)
	if err != nil || ref.Scheme != "" || ref.Host != "" {
		return nil, fmt.Errorf("%s: the updateinfo location %q is not a path in the repository", repomd, truncate(href, 80))
	}
	// Relative to the repository's base (AL2023's may climb out of it with
	// ../ into the same host's blob store).
	return []string{base.ResolveReference(ref).String()}, nil
}

// updateinfoHref reads the location of the updateinfo data from repomd.xml.
func updateinfoHref(data []byte) (string, error) {
	var md struct {
		XMLName xml.Name `xml:"repomd"`
		Data    []struct {
			Type     string `xml:"type,attr"`
			Location struct {
				Href string `xml:"href,attr"`
			} `xml:"location"`
		} `xml:"data"`
	}
	if err := xml.Unmarshal(data, &md); err != nil {
		return "", fmt.Errorf("not repomd XML: %w", err)
	}
	for _, d := range md.Data {
		if d.Type == "updateinfo" {
			if d.Location.Href == "" {
				return "", fmt.Errorf("the updateinfo data has no location")
			}
			return d.Location.Href, nil
		}
	}
	return "", fmt.Errorf("no updateinfo data (the repository publishes no advisories)")
}

// fetchSmall GETs a small index file (unconditionally: it is what says
// whether the data changed).
func fetchSmall(ctx context.Context, opt UpdateOptions, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", u, err)
	}
	req.Header.Set("User-Agent", "warden-db-update")
	resp, err := opt.client().Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetching %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxIndexFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("fetching %s: %w", u, err)
	}
	if len(data) > maxIndexFileBytes {
		return nil, fmt.Errorf("fetching %s: larger than %d bytes", u, maxIndexFileBytes)
	}
	return data, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
