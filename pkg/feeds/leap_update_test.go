package feeds

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardensec/warden/pkg/vulndb"
)

// TestUpdateOpenSUSELeap: the openSUSE Leap feeds are in the default list
// (SUSE's URL, one uncompressed mirror path per release) and a mirror update
// of one imports SUSE OVAL. The mirror serves the real Leap 15.3 slice of
// pkg/feeds/oval/testdata under the 15.5 feed's path: rows are filed by the
// release the definitions' criteria name (opensuse-leap:15.3), not by the
// feed's name.
func TestUpdateOpenSUSELeap(t *testing.T) {
	var leap []Feed
	for _, fd := range DefaultFeeds() {
		if strings.HasPrefix(fd.Name, "opensuse-leap-") {
			leap = append(leap, fd)
		}
	}
	if len(leap) != 2 || leap[0].Name != "opensuse-leap-15.5" ||
		leap[0].URLs[0] != "https://ftp.suse.com/pub/projects/security/oval/opensuse.leap.15.5.xml.bz2" ||
		leap[1].Paths[0] != "suse/opensuse.leap.15.6.xml" {
		t.Fatalf("openSUSE Leap feeds: %+v", leap)
	}
	srv, _ := serveCorpus(t, map[string]string{
		"suse/opensuse.leap.15.5.xml": filepath.Join("oval", "testdata", "opensuse.leap.15.3-slice.xml"),
	})
	dbPath := filepath.Join(t.TempDir(), "db")
	day := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	results, err := Update(context.Background(), dbPath, UpdateOptions{Mirror: srv.URL, Feeds: leap[:1], Now: func() time.Time { return day }})
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Err != nil {
		t.Fatalf("results: %+v", results)
	}
	db, err := vulndb.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	advs, err := db.Lookup(context.Background(), "opensuse-leap:15.3", "libz1")
	if err != nil || len(advs) != 2 {
		t.Fatalf("opensuse-leap:15.3 libz1: %d rows, %v", len(advs), err)
	}
}
