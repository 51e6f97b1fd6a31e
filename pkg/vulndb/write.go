package vulndb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Batch is one source's data for an import: what a feed reader produced.
type Batch struct {
	Source     string // "osv-go", "alpine-secdb", "debian-tracker", "nvd", ...
	Origin     string // the path or URL it came from
	Records    int    // records read (including withdrawn and skipped ones)
	Withdrawn  int    // records skipped because the feed withdrew them
	Skipped    int    // malformed records skipped (each logged with file and record)
	Newest     time.Time
	Advisories []Advisory
	Scores     map[string][]CVSS // CVE id -> scores (NVD)
	Titles     map[string]string // CVE id -> a short title (NVD), for advisories without one
	// RepoCPEs maps Red Hat repository ids (content sets) to the product
	// CPEs they ship (repository-to-cpe.json); a batch holding one replaces
	// the stored mapping.
	RepoCPEs map[string][]string
	// Merge adds the scores and titles to what the source holds (an
	// incremental NVD window) instead of replacing them.
	Merge bool
}

// UpdateOptions tune Update.
type UpdateOptions struct {
	// Fresh starts from an empty database instead of the existing one.
	Fresh bool
	// LockTimeout bounds the wait for another writer (default 1 minute).
	LockTimeout time.Duration
	Logger      *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// Writer adds data to a database being built by Update.
type Writer struct {
	db      *bolt.DB
	now     time.Time
	touched map[string]bool            // "source\x00namespace" already replaced in this update
	ids     map[string]map[string]bool // advisory ids stored per "source\x00namespace" in this update
	imports map[string]*ImportStatus
}

// Update changes the database at path atomically: it copies the current
// database (unless opt.Fresh) into a temporary file in the same directory,
// lets fn add data through the Writer (each Put replaces what that source had
// in the namespaces it touches), compacts, fsyncs and renames the result over
// path. If fn fails, or the process dies, the previous database is untouched.
func Update(ctx context.Context, path string, opt UpdateOptions, fn func(ctx context.Context, w *Writer) error) (err error) {
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	if opt.LockTimeout == 0 {
		opt.LockTimeout = time.Minute
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating database directory %s: %w", dir, err)
	}
	unlock, err := lockFile(ctx, path+".lock", opt.LockTimeout)
	if err != nil {
		return err
	}
	defer unlock()
	// Leftovers of an update that was killed.
	removeLeftovers(dir, base, log)

	work, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return fmt.Errorf("creating a temporary database in %s: %w", dir, err)
	}
	workPath := work.Name()
	defer func() {
		if err != nil {
			os.Remove(workPath)
		}
	}()
	if !opt.Fresh {
		if cerr := copyExisting(path, work, log); cerr != nil {
			work.Close()
			return cerr
		}
	}
	if err := work.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", workPath, err)
	}

	bdb, err := bolt.Open(workPath, 0o644, &bolt.Options{NoSync: true, NoFreelistSync: true, NoGrowSync: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("opening temporary database %s: %w", workPath, err)
	}
	w := &Writer{db: bdb, now: now().UTC(), touched: map[string]bool{}, ids: map[string]map[string]bool{}, imports: map[string]*ImportStatus{}}
	err = bdb.Update(func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists(bMeta)
		if err != nil {
			return err
		}
		return m.Put([]byte("schema"), []byte(strconv.Itoa(SchemaVersion)))
	})
	if err == nil {
		err = fn(ctx, w)
	}
	if err == nil {
		err = ctx.Err()
	}
	if err == nil {
		err = bdb.Update(func(tx *bolt.Tx) error {
			return tx.Bucket(bMeta).Put([]byte("built"), []byte(w.now.Format(time.RFC3339Nano)))
		})
	}
	if cerr := bdb.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("closing %s: %w", workPath, cerr)
	}
	if err != nil {
		return err
	}

	// Compact into the final temporary file: drops the pages freed by
	// replaced sources and packs pages full.
	final, err := compact(workPath, dir, base)
	if err != nil {
		return err
	}
	os.Remove(workPath)
	return installFile(final, path, dir)
}

func copyExisting(path string, dst *os.File, log *slog.Logger) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	old, err := bolt.Open(path, 0o444, &bolt.Options{ReadOnly: true, Timeout: OpenTimeout})
	if err != nil {
		log.Warn("the existing database cannot be read; starting a new one", "path", path, "err", err)
		return nil
	}
	defer old.Close()
	return old.View(func(tx *bolt.Tx) error {
		if _, err := checkSchema(tx); err != nil {
			log.Warn("the existing database has another schema; starting a new one", "path", path, "err", err)
			return nil
		}
		if _, err := tx.WriteTo(dst); err != nil {
			return fmt.Errorf("copying the existing database %s: %w", path, err)
		}
		return nil
	})
}

func compact(src, dir, base string) (string, error) {
	f, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("creating a temporary database in %s: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	fail := func(err error) (string, error) { os.Remove(name); return "", err }
	sdb, err := bolt.Open(src, 0o444, &bolt.Options{ReadOnly: true})
	if err != nil {
		return fail(fmt.Errorf("reopening %s: %w", src, err))
	}
	defer sdb.Close()
	ddb, err := bolt.Open(name, 0o644, &bolt.Options{NoSync: true, NoFreelistSync: true})
	if err != nil {
		return fail(fmt.Errorf("opening %s: %w", name, err))
	}
	if err := bolt.Compact(ddb, sdb, 64<<20); err != nil {
		ddb.Close()
		return fail(fmt.Errorf("compacting the new database: %w", err))
	}
	var used int64
	_ = ddb.View(func(tx *bolt.Tx) error { used = tx.Size(); return nil })
	if err := ddb.Close(); err != nil {
		return fail(fmt.Errorf("closing %s: %w", name, err))
	}
	// bbolt grows files in 16 MiB steps; the pages past the high-water mark
	// are unused, so give them back.
	if fi, err := os.Stat(name); err == nil && used > 0 && fi.Size() > used {
		if err := os.Truncate(name, used); err != nil {
			return fail(fmt.Errorf("trimming %s: %w", name, err))
		}
	}
	return name, nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return nil
}

// Put stores a batch. The first Put of a source in an Update replaces what
// that source had in each namespace the batch touches; later Puts of the same
// source in the same Update add to it.
func (w *Writer) Put(b *Batch) error {
	if b.Source == "" {
		return errors.New("vulndb: batch without a source name")
	}
	byNS := map[string]map[string][]Advisory{}
	for i := range b.Advisories {
		a := &b.Advisories[i]
		if a.Namespace == "" || a.Package == "" || a.ID == "" {
			return fmt.Errorf("source %s: advisory %q without namespace, package or id", b.Source, a.ID)
		}
		m := byNS[a.Namespace]
		if m == nil {
			m = map[string][]Advisory{}
			byNS[a.Namespace] = m
		}
		m[a.Package] = append(m[a.Package], *a)
	}
	nss := make([]string, 0, len(byNS))
	for ns := range byNS {
		nss = append(nss, ns)
	}
	sort.Strings(nss)
	err := w.db.Update(func(tx *bolt.Tx) error {
		root, err := tx.CreateBucketIfNotExists(bNS)
		if err != nil {
			return err
		}
		stb, err := tx.CreateBucketIfNotExists(bStatus)
		if err != nil {
			return err
		}
		for _, ns := range nss {
			if err := w.putNamespace(root, stb, b, ns, byNS[ns]); err != nil {
				return fmt.Errorf("source %s, namespace %s: %w", b.Source, ns, err)
			}
		}
		if len(b.RepoCPEs) > 0 {
			if err := w.putRepoCPEs(tx, b); err != nil {
				return fmt.Errorf("source %s repository CPEs: %w", b.Source, err)
			}
		}
		if len(b.Scores) > 0 || len(b.Titles) > 0 {
			if err := w.putScores(tx, b); err != nil {
				return fmt.Errorf("source %s scores: %w", b.Source, err)
			}
		}
		return w.putImport(tx, b)
	})
	if err != nil {
		return fmt.Errorf("storing %s: %w", b.Source, err)
	}
	return nil
}

func (w *Writer) putNamespace(root, stb *bolt.Bucket, b *Batch, ns string, pkgs map[string][]Advisory) error {
	nsb, err := root.CreateBucketIfNotExists([]byte(ns))
	if err != nil {
		return err
	}
	tkey := b.Source + "\x00" + ns
	var st NamespaceStatus
	if !w.touched[tkey] {
		if nsb.Bucket([]byte(b.Source)) != nil {
			if err := nsb.DeleteBucket([]byte(b.Source)); err != nil {
				return err
			}
		}
		w.touched[tkey] = true
	} else if v := stb.Get([]byte(tkey)); v != nil {
		_ = json.Unmarshal(v, &st)
	}
	sb, err := nsb.CreateBucketIfNotExists([]byte(b.Source))
	if err != nil {
		return err
	}
	pb, err := sb.CreateBucketIfNotExists(bPkg)
	if err != nil {
		return err
	}
	vb, err := sb.CreateBucketIfNotExists(bVuln)
	if err != nil {
		return err
	}
	pb.FillPercent, vb.FillPercent = 0.9, 0.9
	names := make([]string, 0, len(pkgs))
	for n := range pkgs {
		names = append(names, n)
	}
	sort.Strings(names)

	// The compression dictionary: kept from an earlier batch of this source
	// and namespace, else sampled from this batch.
	dict := bytes.Clone(sb.Get(bDict))
	if dict == nil && pb.Stats().KeyN == 0 {
		var samples [][]byte
		seen := map[string]bool{}
		for _, name := range names {
			for i := range pkgs[name] {
				a := &pkgs[name][i]
				if !seen[a.ID] {
					seen[a.ID] = true
					samples = append(samples, encodeBodyRaw(bodyOf(a)))
				}
			}
			samples = append(samples, encodeRowsRaw(pkgs[name]))
		}
		if dict = buildDict(samples); dict != nil {
			if err := sb.Put(bDict, dict); err != nil {
				return err
			}
		}
	}
	c := newCodec(dict)
	newIDs := map[string]bool{}
	seenIDs := w.ids[tkey]
	if seenIDs == nil {
		seenIDs = map[string]bool{}
		w.ids[tkey] = seenIDs
	}
	for _, name := range names {
		rows := pkgs[name]
		if old := pb.Get([]byte(name)); old != nil {
			prev, err := decodeRows(old, dict)
			if err != nil {
				return err
			}
			fresh := map[string]bool{}
			for i := range rows {
				fresh[rows[i].ID] = true
			}
			merged := make([]Advisory, 0, len(prev)+len(rows))
			for _, p := range prev {
				if !fresh[p.ID] {
					merged = append(merged, p)
				}
			}
			rows = append(merged, rows...)
		}
		sort.SliceStable(rows, func(i, j int) bool { return rows[i].ID < rows[j].ID })
		if err := pb.Put([]byte(name), encodeRows(rows, c)); err != nil {
			return err
		}
		st.Advisories += len(pkgs[name])
		for i := range pkgs[name] {
			a := &pkgs[name][i]
			if newIDs[a.ID] {
				continue
			}
			newIDs[a.ID] = true
			if !seenIDs[a.ID] {
				seenIDs[a.ID] = true
				st.Records++
				if bd := bodyOf(a); !bd.empty() {
					if err := vb.Put([]byte(a.ID), encodeBody(bd, c)); err != nil {
						return err
					}
				}
			}
			for _, t := range []time.Time{a.Modified, a.Published} {
				if t.After(st.Newest) && t.Before(w.now.Add(48*time.Hour)) {
					st.Newest = t
				}
			}
		}
	}
	st.Source, st.Namespace, st.ImportedAt = b.Source, ns, w.now
	if b.Newest.After(st.Newest) {
		st.Newest = b.Newest
	}
	v, _ := json.Marshal(st)
	return stb.Put([]byte(tkey), v)
}

func (w *Writer) putRepoCPEs(tx *bolt.Tx, b *Batch) error {
	if !w.touched["\x00repocpe"] {
		if tx.Bucket(bRepoCPE) != nil {
			if err := tx.DeleteBucket(bRepoCPE); err != nil {
				return err
			}
		}
		w.touched["\x00repocpe"] = true
	}
	rb, err := tx.CreateBucketIfNotExists(bRepoCPE)
	if err != nil {
		return err
	}
	repos := make([]string, 0, len(b.RepoCPEs))
	for r := range b.RepoCPEs {
		repos = append(repos, r)
	}
	sort.Strings(repos)
	for _, r := range repos {
		if err := rb.Put([]byte(r), []byte(strings.Join(b.RepoCPEs[r], "\x00"))); err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) putScores(tx *bolt.Tx, b *Batch) error {
	root, err := tx.CreateBucketIfNotExists(bScores)
	if err != nil {
		return err
	}
	tkey := b.Source + "\x00scores"
	if !w.touched[tkey] && !b.Merge {
		if root.Bucket([]byte(b.Source)) != nil {
			if err := root.DeleteBucket([]byte(b.Source)); err != nil {
				return err
			}
		}
		w.touched[tkey] = true
	}
	sb, err := root.CreateBucketIfNotExists([]byte(b.Source))
	if err != nil {
		return err
	}
	sb.FillPercent = 0.9
	ids := b.CVEs()
	// The compression dictionary: kept from an earlier batch, else sampled
	// from this one when the bucket is new.
	dict := bytes.Clone(sb.Get(bDict))
	if dict == nil && sb.Stats().KeyN == 0 {
		samples := make([][]byte, 0, len(ids))
		for _, id := range ids {
			samples = append(samples, scoresRaw(b.Scores[id], b.Titles[id]))
		}
		if dict = buildDict(samples); dict != nil {
			if err := sb.Put(bDict, dict); err != nil {
				return err
			}
		}
	}
	c := newCodec(dict)
	for _, id := range ids {
		if err := sb.Put([]byte(id), encodeScores(b.Scores[id], b.Titles[id], c)); err != nil {
			return err
		}
	}
	return nil
}

// CVEs lists, sorted, the CVE ids the batch has scores or a title for (NVD).
func (b *Batch) CVEs() []string {
	ids := make([]string, 0, len(b.Scores)+len(b.Titles))
	for id := range b.Scores {
		ids = append(ids, id)
	}
	for id := range b.Titles {
		if _, ok := b.Scores[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (w *Writer) putImport(tx *bolt.Tx, b *Batch) error {
	ib, err := tx.CreateBucketIfNotExists(bImports)
	if err != nil {
		return err
	}
	is := w.imports[b.Source]
	if is == nil {
		is = &ImportStatus{Source: b.Source}
		w.imports[b.Source] = is
	}
	if is.Origin == "" {
		is.Origin = b.Origin
	} else if b.Origin != "" && is.Origin != b.Origin {
		is.Origin += ", " + b.Origin
	}
	is.Records += b.Records
	is.Withdrawn += b.Withdrawn
	is.Skipped += b.Skipped
	is.Advisories += len(b.Advisories) + len(b.CVEs())
	is.ImportedAt = w.now
	newest := b.Newest
	for i := range b.Advisories {
		for _, t := range []time.Time{b.Advisories[i].Modified, b.Advisories[i].Published} {
			if t.After(newest) && t.Before(w.now.Add(48*time.Hour)) {
				newest = t
			}
		}
	}
	if newest.After(is.Newest) {
		is.Newest = newest
	}
	v, _ := json.Marshal(is)
	return ib.Put([]byte(b.Source), v)
}

// SetHTTPCache remembers the validators of a fetched URL.
func (w *Writer) SetHTTPCache(url string, hc HTTPCache) error {
	return w.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bHTTP)
		if err != nil {
			return err
		}
		v, _ := json.Marshal(hc)
		return b.Put([]byte(url), v)
	})
}

// HTTPCache returns what the database being built remembers for url.
func (w *Writer) HTTPCache(url string) (HTTPCache, bool) {
	var hc HTTPCache
	ok := false
	_ = w.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bHTTP); b != nil {
			if v := b.Get([]byte(url)); v != nil {
				ok = json.Unmarshal(v, &hc) == nil
			}
		}
		return nil
	})
	return hc, ok
}

// Touch marks a source as refreshed (a conditional request answered "not
// modified"): its import time moves to now, its data stays.
func (w *Writer) Touch(source string) error {
	return w.db.Update(func(tx *bolt.Tx) error {
		ib := tx.Bucket(bImports)
		if ib == nil {
			return nil
		}
		v := ib.Get([]byte(source))
		if v == nil {
			return nil
		}
		var is ImportStatus
		if err := json.Unmarshal(v, &is); err != nil {
			return err
		}
		is.ImportedAt = w.now
		nv, _ := json.Marshal(is)
		return ib.Put([]byte(source), nv)
	})
}
