package vulndb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// SchemaVersion is the layout version of the database file. A file with
// another version is refused with ErrSchema.
const SchemaVersion = 2

// ErrNoDB is returned (wrapped) by Open when there is no database file.
var ErrNoDB = errors.New("no vulnerability database (run `warden db update` or `warden db import`)")

// ErrSchema is returned (wrapped) by Open when the file has another schema version.
var ErrSchema = errors.New("vulnerability database has an incompatible schema (run `warden db update` or `warden db import` to rebuild it)")

// Bucket layout (bbolt):
//
//	meta                       schema -> "1", built -> RFC 3339 time
//	ns/<namespace>/<source>/pkg   <normalised name> -> rows (encodeRows)
//	ns/<namespace>/<source>/vuln  <advisory id>     -> body (encodeBody)
//	ns/<namespace>/<source> dict  -> the DEFLATE preset dictionary of both (buildDict)
//	scores/<source>            <CVE id> -> CVSS list and short title (NVD)
//	scores/<source>  dict      -> the DEFLATE preset dictionary of those records
//	status                     <source>\x00<namespace> -> JSON NamespaceStatus
//	imports                    <source> -> JSON ImportStatus
//	http                       <url> -> JSON HTTPCache (ETag / Last-Modified)
//	repocpe                    <repository id> -> its product CPEs, NUL-separated (Red Hat repository-to-cpe.json)
var (
	bMeta    = []byte("meta")
	bNS      = []byte("ns")
	bPkg     = []byte("pkg")
	bVuln    = []byte("vuln")
	bScores  = []byte("scores")
	bStatus  = []byte("status")
	bImports = []byte("imports")
	bHTTP    = []byte("http")
	bDict    = []byte("dict")
	bRepoCPE = []byte("repocpe")
)

// DB is an open, read-only vulnerability database.
type DB struct {
	bolt  *bolt.DB
	path  string
	built time.Time

	// bodies caches decoded advisory bodies: in a scan, one advisory (a
	// kernel ALSA, a USN) is shared by dozens of binary packages.
	mu     sync.Mutex
	bodies map[string]body
	nvd    map[string]nvdEntry // decoded NVD records by CVE id
}

// bodyCacheSize bounds the body cache (entries); it is emptied when full.
const bodyCacheSize = 50000

func (db *DB) body(vb *bolt.Bucket, dict []byte, key string, id []byte) (body, bool, error) {
	db.mu.Lock()
	b, ok := db.bodies[key]
	db.mu.Unlock()
	if ok {
		return b, true, nil
	}
	raw := vb.Get(id)
	if raw == nil {
		return body{}, false, nil
	}
	b, err := decodeBody(raw, dict)
	if err != nil {
		return b, false, err
	}
	b.Aliases, b.CVSS, b.URLs = slices.Clip(b.Aliases), slices.Clip(b.CVSS), slices.Clip(b.URLs)
	db.mu.Lock()
	if len(db.bodies) >= bodyCacheSize {
		db.bodies = make(map[string]body)
	}
	db.bodies[key] = b
	db.mu.Unlock()
	return b, true, nil
}

var _ RowReader = (*DB)(nil)

// OpenTimeout is how long Open waits for a writer holding the file.
var OpenTimeout = 5 * time.Second

// Open opens the database at path read-only (a shared lock; it waits
// OpenTimeout for a process holding an exclusive lock). A missing file is
// ErrNoDB, another schema version ErrSchema.
func Open(path string) (*DB, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("opening %s: %w", path, ErrNoDB)
	}
	if err != nil {
		return nil, fmt.Errorf("opening vulnerability database %s: %w", path, err)
	}
	if fi.IsDir() || fi.Size() == 0 {
		return nil, fmt.Errorf("opening %s: not a database file: %w", path, ErrNoDB)
	}
	bdb, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: OpenTimeout})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("opening vulnerability database %s: locked by another process for more than %s: %w", path, OpenTimeout, err)
		}
		return nil, fmt.Errorf("opening vulnerability database %s (remove it and run `warden db update` if it is damaged): %w", path, err)
	}
	db := &DB{bolt: bdb, path: path, bodies: map[string]body{}, nvd: map[string]nvdEntry{}}
	if err := bdb.View(func(tx *bolt.Tx) error {
		built, err := checkSchema(tx)
		db.built = built
		return err
	}); err != nil {
		bdb.Close()
		return nil, fmt.Errorf("opening vulnerability database %s: %w", path, err)
	}
	return db, nil
}

func checkSchema(tx *bolt.Tx) (time.Time, error) {
	m := tx.Bucket(bMeta)
	if m == nil {
		return time.Time{}, fmt.Errorf("no meta bucket: %w", ErrSchema)
	}
	v := string(m.Get([]byte("schema")))
	if v != strconv.Itoa(SchemaVersion) {
		return time.Time{}, fmt.Errorf("schema version %q, this warden reads %d: %w", v, SchemaVersion, ErrSchema)
	}
	built, _ := time.Parse(time.RFC3339Nano, string(m.Get([]byte("built"))))
	return built, nil
}

// Close releases the database.
func (db *DB) Close() error { return db.bolt.Close() }

// Path is the file the database was opened from.
func (db *DB) Path() string { return db.path }

// Built is when the data was last imported.
func (db *DB) Built() time.Time { return db.built }

// Lookup returns the advisories for pkg (as normalised by NormalizeName) in
// namespace, from every source, sorted by ID then source, with Severity and
// SeveritySource resolved by the documented precedence: LookupRows, then
// Complete.
func (db *DB) Lookup(ctx context.Context, namespace, pkg string) ([]Advisory, error) {
	out, err := db.LookupRows(ctx, namespace, pkg)
	if err != nil || len(out) == 0 {
		return out, err
	}
	ptrs := make([]*Advisory, len(out))
	for i := range out {
		ptrs[i] = &out[i]
	}
	if err := db.Complete(ctx, ptrs); err != nil {
		return nil, err
	}
	return out, nil
}

// LookupRows implements RowReader: the package's advisories as its rows
// give them, sorted by id then source.
func (db *DB) LookupRows(ctx context.Context, namespace, pkg string) ([]Advisory, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var out []Advisory
	err := db.bolt.View(func(tx *bolt.Tx) error {
		nsb := namespaceBucket(tx, namespace)
		if nsb == nil {
			return nil
		}
		key := []byte(pkg)
		return nsb.ForEachBucket(func(src []byte) error {
			sb := nsb.Bucket(src)
			pb, vb := sb.Bucket(bPkg), sb.Bucket(bVuln)
			if pb == nil || vb == nil {
				return nil
			}
			raw := pb.Get(key)
			if raw == nil {
				return nil
			}
			rows, err := decodeRows(raw, sb.Get(bDict))
			if err != nil {
				return fmt.Errorf("%s %s (source %s): %w", namespace, pkg, src, err)
			}
			for _, a := range rows {
				a.Namespace, a.Package, a.Source = namespace, pkg, string(src)
				out = append(out, a)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("looking up %s %s in %s: %w", namespace, pkg, db.path, err)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Source < out[j].Source
	})
	return out, nil
}

// Complete implements RowReader: each advisory from LookupRows gets its
// body (decoded once per handle: bodies are shared by packages) and its
// severity and title resolved.
func (db *DB) Complete(ctx context.Context, advs []*Advisory) error {
	if len(advs) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		rec := db.nvdReader(tx)
		for _, a := range advs {
			if nsb := namespaceBucket(tx, a.Namespace); nsb != nil {
				if sb := nsb.Bucket([]byte(a.Source)); sb != nil {
					if vb := sb.Bucket(bVuln); vb != nil {
						b, ok, err := db.body(vb, sb.Get(bDict), a.Namespace+"\x00"+a.Source+"\x00"+a.ID, []byte(a.ID))
						if err != nil {
							return fmt.Errorf("%s %s (source %s): %w", a.Namespace, a.ID, a.Source, err)
						}
						if ok {
							a.Aliases, a.CVSS, a.Title, a.Description = b.Aliases, b.CVSS, b.Title, b.Description
							a.URLs, a.Published, a.Modified = b.URLs, b.Published, b.Modified
						}
					}
				}
			}
			resolveSeverity(rec, a)
			resolveTitle(rec, a)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reading advisories in %s: %w", db.path, err)
	}
	return nil
}

// namespaceBucket is ns/<namespace>, or nil.
func namespaceBucket(tx *bolt.Tx, namespace string) *bolt.Bucket {
	root := tx.Bucket(bNS)
	if root == nil {
		return nil
	}
	return root.Bucket([]byte(namespace))
}

// resolveSeverity applies the precedence: distro's own, then NVD, then the advisory's own.
func resolveSeverity(rec nvdReader, a *Advisory) {
	if isOSNamespace(a.Namespace) && a.Severity != "" && a.Severity != "UNKNOWN" && a.SeveritySource != "" {
		return
	}
	if cs := nvdScores(rec, a); len(cs) > 0 {
		if best, sev, ok := pickScore(cs); ok {
			a.Severity, a.SeveritySource = sev, best.Source
			for _, c := range cs {
				if !hasCVSS(a.CVSS, c) {
					a.CVSS = append(a.CVSS, c)
				}
			}
			return
		}
	}
	if a.Severity == "" || a.Severity == "UNKNOWN" {
		a.Severity, a.SeveritySource = "UNKNOWN", ""
	}
}

func hasCVSS(cs []CVSS, c CVSS) bool {
	for _, x := range cs {
		if x.Source == c.Source && x.Vector == c.Vector {
			return true
		}
	}
	return false
}

// nvdReader reads an NVD record (scores, title) by CVE id.
type nvdReader func(id string) ([]CVSS, string)

// nvdEntry is a decoded NVD record in the cache.
type nvdEntry struct {
	cs    []CVSS
	title string
}

// nvdReader reads NVD records in tx through the handle's cache: a scan asks
// for the same CVE for several packages, and for its severity and its title,
// and each read inflates against the source's dictionary.
func (db *DB) nvdReader(tx *bolt.Tx) nvdReader {
	root := tx.Bucket(bScores)
	return func(id string) ([]CVSS, string) {
		if root == nil {
			return nil, ""
		}
		db.mu.Lock()
		e, ok := db.nvd[id]
		db.mu.Unlock()
		if ok {
			return e.cs, e.title
		}
		cs, title := nvdRecord(root, id)
		db.mu.Lock()
		if len(db.nvd) >= bodyCacheSize {
			db.nvd = make(map[string]nvdEntry)
		}
		db.nvd[id] = nvdEntry{slices.Clip(cs), title}
		db.mu.Unlock()
		return cs, title
	}
}

// nvdRecord returns what the NVD sources hold for one CVE id: its scores
// (of every source) and its title (the first one found).
func nvdRecord(root *bolt.Bucket, id string) ([]CVSS, string) {
	var out []CVSS
	title := ""
	_ = root.ForEachBucket(func(src []byte) error {
		sb := root.Bucket(src)
		if raw := sb.Get([]byte(id)); raw != nil {
			if cs, t, err := decodeScores(raw, sb.Get(bDict)); err == nil {
				out = append(out, cs...)
				if title == "" {
					title = t
				}
			}
		}
		return nil
	})
	return out, title
}

// nvdScores returns the NVD scores for the advisory: of its own id when that
// is a CVE with scores, else of the CVE alias whose score ranks highest (an
// advisory such as a DSA, USN or ALSA names several CVEs; the worst counts).
func nvdScores(rec nvdReader, a *Advisory) []CVSS {
	if strings.HasPrefix(a.ID, "CVE-") {
		if cs, _ := rec(a.ID); len(cs) > 0 {
			return cs
		}
	}
	var best []CVSS
	bestScore := -1.0
	for _, id := range a.Aliases {
		if !strings.HasPrefix(id, "CVE-") || id == a.ID {
			continue
		}
		cs, _ := rec(id)
		if c, _, ok := pickScore(cs); ok && c.Score > bestScore {
			best, bestScore = cs, c.Score
		}
	}
	return best
}

// resolveTitle gives an advisory with neither title nor description (an
// Alpine secdb entry, which names only the CVE) NVD's title of its CVE: its
// own id, else its one CVE alias (an advisory naming several CVEs gets none:
// one CVE's title would misname it).
func resolveTitle(rec nvdReader, a *Advisory) {
	if a.Title != "" || a.Description != "" {
		return
	}
	id := a.ID
	if !strings.HasPrefix(id, "CVE-") {
		id = ""
		for _, al := range a.Aliases {
			if strings.HasPrefix(al, "CVE-") && al != id {
				if id != "" {
					return
				}
				id = al
			}
		}
		if id == "" {
			return
		}
	}
	_, a.Title = rec(id)
}

// Scores returns the CVSS scores an NVD feed gave a CVE.
func (db *DB) Scores(cve string) ([]CVSS, error) {
	var out []CVSS
	err := db.bolt.View(func(tx *bolt.Tx) error {
		out = nvdScores(db.nvdReader(tx), &Advisory{ID: cve})
		return nil
	})
	return out, err
}

// NVDTitle returns the short title an NVD feed gave a CVE ("" when none).
func (db *DB) NVDTitle(cve string) (string, error) {
	title := ""
	err := db.bolt.View(func(tx *bolt.Tx) error {
		_, title = db.nvdReader(tx)(cve)
		return nil
	})
	return title, err
}

// RepositoryCPEs returns the product CPEs of the Red Hat repositories (content
// sets such as "rhel-9-for-x86_64-appstream-rpms"), from Red Hat's
// repository-to-cpe.json; repositories it does not know add nothing.
func (db *DB) RepositoryCPEs(repos []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bRepoCPE)
		if b == nil {
			return nil
		}
		for _, r := range repos {
			v := b.Get([]byte(r))
			if len(v) == 0 {
				continue
			}
			for _, c := range strings.Split(string(v), "\x00") {
				if c != "" && !seen[c] {
					seen[c] = true
					out = append(out, c)
				}
			}
		}
		return nil
	})
	sort.Strings(out)
	return out, err
}

// NamespaceStatus describes what one source holds for one namespace.
type NamespaceStatus struct {
	Source     string    `json:"source"`
	Namespace  string    `json:"namespace"`
	Records    int       `json:"records"`    // distinct advisory ids
	Advisories int       `json:"advisories"` // advisory x package rows
	Newest     time.Time `json:"newest,omitempty"`
	ImportedAt time.Time `json:"imported_at"`
}

// ImportStatus describes the last import of a source.
type ImportStatus struct {
	Source     string    `json:"source"`
	Origin     string    `json:"origin"` // the path or URL it came from
	Records    int       `json:"records"`
	Withdrawn  int       `json:"withdrawn,omitempty"`
	Skipped    int       `json:"skipped,omitempty"`
	Advisories int       `json:"advisories"`
	Newest     time.Time `json:"newest,omitempty"`
	ImportedAt time.Time `json:"imported_at"`
}

// Status is the database's content per source.
type Status struct {
	Path       string            `json:"path"`
	Schema     int               `json:"schema"`
	Built      time.Time         `json:"built"`
	Imports    []ImportStatus    `json:"imports"`
	Namespaces []NamespaceStatus `json:"namespaces"`
}

// Status reports every source: record counts, newest record, import time.
func (db *DB) Status() (*Status, error) {
	st := &Status{Path: db.path, Schema: SchemaVersion, Built: db.built}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bImports); b != nil {
			if err := b.ForEach(func(k, v []byte) error {
				var is ImportStatus
				if err := json.Unmarshal(v, &is); err != nil {
					return fmt.Errorf("import record %q: %w", k, err)
				}
				st.Imports = append(st.Imports, is)
				return nil
			}); err != nil {
				return err
			}
		}
		if b := tx.Bucket(bStatus); b != nil {
			return b.ForEach(func(k, v []byte) error {
				var ns NamespaceStatus
				if err := json.Unmarshal(v, &ns); err != nil {
					return fmt.Errorf("status record %q: %w", k, err)
				}
				st.Namespaces = append(st.Namespaces, ns)
				return nil
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading status of %s: %w", db.path, err)
	}
	return st, nil
}

// Namespaces lists the namespaces that hold data.
func (db *DB) Namespaces() ([]string, error) {
	var out []string
	err := db.bolt.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bNS)
		if root == nil {
			return nil
		}
		return root.ForEachBucket(func(k []byte) error { out = append(out, string(k)); return nil })
	})
	return out, err
}

// Packages lists the package names of a namespace (all sources), sorted and unique.
func (db *DB) Packages(namespace string) ([]string, error) {
	seen := map[string]bool{}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		root := tx.Bucket(bNS)
		if root == nil {
			return nil
		}
		nsb := root.Bucket([]byte(namespace))
		if nsb == nil {
			return nil
		}
		return nsb.ForEachBucket(func(src []byte) error {
			if pb := nsb.Bucket(src).Bucket(bPkg); pb != nil {
				return pb.ForEach(func(k, _ []byte) error { seen[string(k)] = true; return nil })
			}
			return nil
		})
	})
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, err
}

// HTTPCache is what `warden db update` remembers per URL for conditional requests.
type HTTPCache struct {
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	Fetched      time.Time `json:"fetched"`
	Sources      []string  `json:"sources,omitempty"` // the sources this URL fed

	// The NVD API's sync state: every record modified before SyncedTo is in
	// the database; a full download cut off resumes at ResumeIndex.
	SyncedTo    time.Time `json:"synced_to,omitzero"`
	ResumeIndex int       `json:"resume_index,omitempty"`
	ResumeStart time.Time `json:"resume_start,omitzero"`
}

// HTTPCache returns what was remembered for url.
func (db *DB) HTTPCache(url string) (HTTPCache, bool) {
	var hc HTTPCache
	ok := false
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bHTTP); b != nil {
			if v := b.Get([]byte(url)); v != nil {
				ok = json.Unmarshal(v, &hc) == nil
			}
		}
		return nil
	})
	return hc, ok
}
