// Package meta is the registry's metadata store: repositories, the blobs each
// repository may read, manifests (with their subject and artifact type for the
// referrers API), tags, upload sessions, the scan queue and scan results.
//
// Two engines hold the same schema (migrations.go): embedded SQLite
// (modernc.org/sqlite, pure Go, WAL mode), the single-node default, and
// PostgreSQL (pgx), which several registry processes share. Statements are
// written once, in the SQL both accept, with ? placeholders that q rewrites to
// PostgreSQL's $n.
package meta

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// DB is the metadata store.
type DB struct {
	db       *sql.DB
	postgres bool
	desc     string
	lease    time.Duration // how long a claimed scan job is held before another process may take it
}

// Open opens (creating if needed) the SQLite database at path.
func Open(path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("metadata database %s: %w", path, err)
	}
	dsn := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("opening metadata database %s: %w", path, err)
	}
	// One connection: SQLite serialises writers anyway, and this keeps
	// SQLITE_BUSY out of the request path. Every statement is short.
	db.SetMaxOpenConns(1)
	m := &DB{db: db, desc: path, lease: DefaultLease}
	if err := m.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("creating schema in %s: %w", path, err)
	}
	return m, nil
}

// OpenPostgres connects to PostgreSQL (a postgres:// URL or key=value DSN) and
// brings its schema up to date. Several processes may do so at once.
func OpenPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("metadata database: %w", err)
	}
	desc := fmt.Sprintf("postgres://%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(32)
	db.SetMaxIdleConns(8)
	db.SetConnMaxLifetime(30 * time.Minute)
	m := &DB{db: db, postgres: true, desc: desc, lease: DefaultLease}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("metadata database %s: %w", desc, err)
	}
	if err := m.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrating metadata database %s: %w", desc, err)
	}
	return m, nil
}

// OpenURL opens the store --meta names: "" (SQLite at defaultPath), a path or
// sqlite:PATH, or postgres://USER@HOST:PORT/DB?sslmode=... .
func OpenURL(ctx context.Context, spec, defaultPath string) (*DB, error) {
	switch {
	case spec == "":
		return Open(defaultPath)
	case strings.HasPrefix(spec, "postgres://"), strings.HasPrefix(spec, "postgresql://"):
		return OpenPostgres(ctx, spec)
	case strings.HasPrefix(spec, "sqlite:"):
		return Open(strings.TrimPrefix(strings.TrimPrefix(spec, "sqlite:"), "//"))
	case strings.Contains(spec, "://"):
		u, _ := url.Parse(spec)
		scheme := spec
		if u != nil {
			scheme = u.Scheme
		}
		return nil, fmt.Errorf("metadata database: unknown scheme %q (want postgres:// or a SQLite path)", scheme)
	}
	return Open(spec)
}

// Close closes the database.
func (m *DB) Close() error { return m.db.Close() }

// Describe names the database for logs (no password).
func (m *DB) Describe() string { return m.desc }

// Postgres reports whether this is the shared PostgreSQL engine.
func (m *DB) Postgres() bool { return m.postgres }

// SetLease sets how long a claimed scan job is held (tests shorten it).
func (m *DB) SetLease(d time.Duration) { m.lease = d }

// DefaultLease is how long a claimed scan job is held before another process
// may take it; a running worker renews it (RenewLease).
const DefaultLease = 5 * time.Minute

// q rewrites ? placeholders to $1, $2, ... for PostgreSQL. No statement here
// has a ? inside a string literal.
func (m *DB) q(s string) string {
	if !m.postgres {
		return s
	}
	var b strings.Builder
	n := 0
	for _, c := range s {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// retriable reports whether a PostgreSQL error means "run the transaction again".
func retriable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01") // serialization failure, deadlock
}

func now() int64 { return time.Now().Unix() }

func (m *DB) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	var err error
	for try := 0; try < 5; try++ {
		if err = m.tx1(ctx, fn); err == nil || !retriable(err) {
			return err
		}
		time.Sleep(time.Duration(try+1) * 20 * time.Millisecond)
	}
	return err
}

func (m *DB) tx1(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := m.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// query runs q and appends to out one T per row, made by scan. out is what a query with no rows
// returns: nil, or an empty slice where callers encode it as a JSON list.
func query[T any](ctx context.Context, m *DB, out []T, scan func(*sql.Rows) (T, error), q string, args ...any) ([]T, error) {
	rows, err := m.db.QueryContext(ctx, m.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanString(rows *sql.Rows) (string, error) {
	var s string
	err := rows.Scan(&s)
	return s, err
}

// limit adds LIMIT n to q when n > 0 (n <= 0: no limit).
func limit(q string, n int, args ...any) (string, []any) {
	if n > 0 {
		return q + ` LIMIT ?`, append(args, n)
	}
	return q, args
}

// deleted reports whether a DELETE removed a row.
func deleted(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

func (m *DB) ensureRepo(ctx context.Context, tx *sql.Tx, repo string) error {
	_, err := tx.ExecContext(ctx, m.q(`INSERT INTO repos(name, created) VALUES(?, ?) ON CONFLICT(name) DO NOTHING`), repo, now())
	return err
}

// LinkBlob records that repo may read blob digest.
func (m *DB) LinkBlob(ctx context.Context, repo, digest string, size int64) error {
	return m.tx(ctx, func(tx *sql.Tx) error { return m.linkTx(ctx, tx, repo, digest, size) })
}

func (m *DB) linkTx(ctx context.Context, tx *sql.Tx, repo, digest string, size int64) error {
	if err := m.ensureRepo(ctx, tx, repo); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, m.q(`INSERT INTO blobs(repo, digest, size, linked) VALUES(?, ?, ?, ?)
		ON CONFLICT(repo, digest) DO UPDATE SET size = excluded.size, linked = excluded.linked`), repo, digest, size, now())
	return err
}

// BlobLinked reports whether repo may read digest, with its size.
func (m *DB) BlobLinked(ctx context.Context, repo, digest string) (int64, bool, error) {
	var size int64
	err := m.db.QueryRowContext(ctx, m.q(`SELECT size FROM blobs WHERE repo = ? AND digest = ?`), repo, digest).Scan(&size)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return size, err == nil, err
}

// BlobAnywhere reports whether any repository holds digest (for anonymous mounts).
func (m *DB) BlobAnywhere(ctx context.Context, digest string) (bool, error) {
	var n int
	err := m.db.QueryRowContext(ctx, m.q(`SELECT count(*) FROM blobs WHERE digest = ?`), digest).Scan(&n)
	return n > 0, err
}

// IsManifest reports whether digest is a manifest in any repository.
func (m *DB) IsManifest(ctx context.Context, digest string) (bool, error) {
	var n int
	err := m.db.QueryRowContext(ctx, m.q(`SELECT count(*) FROM manifests WHERE digest = ?`), digest).Scan(&n)
	return n > 0, err
}

// UnlinkBlob removes repo's access to digest.
func (m *DB) UnlinkBlob(ctx context.Context, repo, digest string) (bool, error) {
	return deleted(m.db.ExecContext(ctx, m.q(`DELETE FROM blobs WHERE repo = ? AND digest = ?`), repo, digest))
}

// Manifest is a manifest's metadata row.
type Manifest struct {
	Repo         string
	Digest       string
	MediaType    string
	Size         int64
	ArtifactType string
	Subject      string
	Annotations  string // JSON object or ""
	Created      time.Time
}

// PutManifest records a manifest, the digests it references, and optional tags.
func (m *DB) PutManifest(ctx context.Context, man Manifest, refs []string, tags []string) error {
	return m.tx(ctx, func(tx *sql.Tx) error { return m.putManifestTx(ctx, tx, man, refs, tags) })
}

func (m *DB) putManifestTx(ctx context.Context, tx *sql.Tx, man Manifest, refs []string, tags []string) error {
	if err := m.ensureRepo(ctx, tx, man.Repo); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.q(`INSERT INTO manifests(repo, digest, media_type, size, artifact_type, subject, annotations, created)
		VALUES(?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(repo, digest) DO UPDATE SET media_type = excluded.media_type, size = excluded.size,
		artifact_type = excluded.artifact_type, subject = excluded.subject, annotations = excluded.annotations, created = excluded.created`), man.Repo, man.Digest, man.MediaType, man.Size, man.ArtifactType, man.Subject, man.Annotations, now()); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, m.q(`INSERT INTO blobs(repo, digest, size, linked) VALUES(?, ?, ?, ?)
		ON CONFLICT(repo, digest) DO UPDATE SET size = excluded.size, linked = excluded.linked`), man.Repo, man.Digest, man.Size, now()); err != nil {
		return err
	}
	for _, r := range refs {
		if _, err := tx.ExecContext(ctx, m.q(`INSERT INTO manifest_refs(repo, digest, ref) VALUES(?, ?, ?) ON CONFLICT DO NOTHING`), man.Repo, man.Digest, r); err != nil {
			return err
		}
	}
	for _, t := range tags {
		if _, err := tx.ExecContext(ctx, m.q(`INSERT INTO tags(repo, tag, digest, updated) VALUES(?, ?, ?, ?) ON CONFLICT(repo, tag) DO UPDATE SET digest = excluded.digest, updated = excluded.updated`), man.Repo, t, man.Digest, now()); err != nil {
			return err
		}
	}
	return nil
}

// GetManifest returns a manifest row by digest.
func (m *DB) GetManifest(ctx context.Context, repo, digest string) (Manifest, error) {
	man := Manifest{Repo: repo, Digest: digest}
	var created int64
	err := m.db.QueryRowContext(ctx, m.q(`SELECT media_type, size, artifact_type, subject, annotations, created FROM manifests WHERE repo = ? AND digest = ?`), repo, digest).
		Scan(&man.MediaType, &man.Size, &man.ArtifactType, &man.Subject, &man.Annotations, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return man, fmt.Errorf("%w: manifest %s in %s", ErrNotFound, digest, repo)
	}
	man.Created = time.Unix(created, 0)
	return man, err
}

// ResolveTag returns the digest a tag points to.
func (m *DB) ResolveTag(ctx context.Context, repo, tag string) (string, error) {
	var d string
	err := m.db.QueryRowContext(ctx, m.q(`SELECT digest FROM tags WHERE repo = ? AND tag = ?`), repo, tag).Scan(&d)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: tag %q in %s", ErrNotFound, tag, repo)
	}
	return d, err
}

// DeleteTag removes one tag.
func (m *DB) DeleteTag(ctx context.Context, repo, tag string) (bool, error) {
	return deleted(m.db.ExecContext(ctx, m.q(`DELETE FROM tags WHERE repo = ? AND tag = ?`), repo, tag))
}

// DeleteManifest removes a manifest, every tag pointing at it and its references.
func (m *DB) DeleteManifest(ctx context.Context, repo, digest string) (bool, error) {
	var found bool
	err := m.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, m.q(`DELETE FROM manifests WHERE repo = ? AND digest = ?`), repo, digest)
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		found = n > 0
		for _, q := range []string{
			`DELETE FROM tags WHERE repo = ? AND digest = ?`,
			`DELETE FROM manifest_refs WHERE repo = ? AND digest = ?`,
			`DELETE FROM blobs WHERE repo = ? AND digest = ?`,
		} {
			if _, err := tx.ExecContext(ctx, m.q(q), repo, digest); err != nil {
				return err
			}
		}
		return nil
	})
	return found, err
}

// RepoExists reports whether a repository has ever been written.
func (m *DB) RepoExists(ctx context.Context, repo string) (bool, error) {
	var n int
	err := m.db.QueryRowContext(ctx, m.q(`SELECT count(*) FROM repos WHERE name = ?`), repo).Scan(&n)
	return n > 0, err
}

// Tags lists up to n tags (n <= 0: all) after last, in lexical order.
func (m *DB) Tags(ctx context.Context, repo, last string, n int) ([]string, error) {
	q, args := limit(`SELECT tag FROM tags WHERE repo = ? AND tag > ? ORDER BY tag`, n, repo, last)
	return query(ctx, m, []string{}, scanString, q, args...)
}

// TagInfo is a tag with its manifest digest.
type TagInfo struct {
	Tag, Digest string
	Updated     time.Time
}

// TagsDetailed lists every tag of repo with its digest.
func (m *DB) TagsDetailed(ctx context.Context, repo string) ([]TagInfo, error) {
	return query(ctx, m, nil, func(rows *sql.Rows) (TagInfo, error) {
		var t TagInfo
		var u int64
		err := rows.Scan(&t.Tag, &t.Digest, &u)
		t.Updated = time.Unix(u, 0)
		return t, err
	}, `SELECT tag, digest, updated FROM tags WHERE repo = ? ORDER BY tag`, repo)
}

// Repos lists up to n repositories after last.
func (m *DB) Repos(ctx context.Context, last string, n int) ([]string, error) {
	q, args := limit(`SELECT name FROM repos WHERE name > ? ORDER BY name`, n, last)
	return query(ctx, m, []string{}, scanString, q, args...)
}

// Referrers lists the manifests in repo whose subject is digest.
func (m *DB) Referrers(ctx context.Context, repo, digest string) ([]Manifest, error) {
	return query(ctx, m, nil, func(rows *sql.Rows) (Manifest, error) {
		man := Manifest{Repo: repo, Subject: digest}
		var c int64
		err := rows.Scan(&man.Digest, &man.MediaType, &man.Size, &man.ArtifactType, &man.Annotations, &c)
		man.Created = time.Unix(c, 0)
		return man, err
	}, `SELECT digest, media_type, size, artifact_type, annotations, created FROM manifests WHERE repo = ? AND subject = ? ORDER BY created, digest`, repo, digest)
}

// AddUpload records an upload session.
func (m *DB) AddUpload(ctx context.Context, id, repo string) error {
	return m.tx(ctx, func(tx *sql.Tx) error {
		if err := m.ensureRepo(ctx, tx, repo); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, m.q(`INSERT INTO uploads(id, repo, started) VALUES(?, ?, ?)`), id, repo, now())
		return err
	})
}

// UploadRepo returns the repository an upload session belongs to.
func (m *DB) UploadRepo(ctx context.Context, id string) (string, error) {
	var r string
	err := m.db.QueryRowContext(ctx, m.q(`SELECT repo FROM uploads WHERE id = ?`), id).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("%w: upload %q", ErrNotFound, id)
	}
	return r, err
}

// DeleteUpload forgets an upload session.
func (m *DB) DeleteUpload(ctx context.Context, id string) error {
	_, err := m.db.ExecContext(ctx, m.q(`DELETE FROM uploads WHERE id = ?`), id)
	return err
}

// StaleUploads lists sessions started before t.
func (m *DB) StaleUploads(ctx context.Context, before time.Time) ([]string, error) {
	return query(ctx, m, nil, scanString, `SELECT id FROM uploads WHERE started < ?`, before.Unix())
}

// LiveDigests returns every digest a manifest row or a manifest reference keeps alive.
func (m *DB) LiveDigests(ctx context.Context) (map[string]bool, error) {
	live := map[string]bool{}
	for _, q := range []string{`SELECT digest FROM manifests`, `SELECT ref FROM manifest_refs`} {
		ds, err := query(ctx, m, nil, scanString, q)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			live[d] = true
		}
	}
	return live, nil
}

// DropBlobLinks removes every repository link to digest (after GC deleted it).
func (m *DB) DropBlobLinks(ctx context.Context, digest string) error {
	_, err := m.db.ExecContext(ctx, m.q(`DELETE FROM blobs WHERE digest = ?`), digest)
	return err
}

// --- scan queue and results ---

// Enqueue queues a manifest for scanning (no-op if already queued or running).
func (m *DB) Enqueue(ctx context.Context, repo, digest string) error {
	_, err := m.db.ExecContext(ctx, m.q(`INSERT INTO scan_queue(repo, digest, enqueued, state) VALUES(?, ?, ?, 'queued')
		ON CONFLICT(repo, digest) DO UPDATE SET state = 'queued', attempts = 0, enqueued = excluded.enqueued WHERE scan_queue.state = 'failed'`), repo, digest, now())
	return err
}

// Job is one queued scan.
type Job struct {
	Repo, Digest string
	Attempts     int
}

// Claim takes the oldest queued job (or one whose holder's lease ran out) and
// marks it running under a new lease. On PostgreSQL concurrent claimers skip
// each other's rows (FOR UPDATE SKIP LOCKED), so N processes share the queue.
func (m *DB) Claim(ctx context.Context) (*Job, error) {
	t := now()
	lock := ""
	if m.postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	var j Job
	err := m.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, m.q(`UPDATE scan_queue SET state = 'running', attempts = attempts + 1, lease_until = ?
			WHERE (repo, digest) = (SELECT repo, digest FROM scan_queue
				WHERE (state = 'queued' AND enqueued <= ?) OR (state = 'running' AND lease_until < ?)
				ORDER BY enqueued LIMIT 1`+lock+`)
			RETURNING repo, digest, attempts`), t+int64(m.lease/time.Second), t, t).Scan(&j.Repo, &j.Digest, &j.Attempts)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	j.Attempts-- // the attempts before this one
	return &j, nil
}

// RenewLease extends the lease of a running job.
func (m *DB) RenewLease(ctx context.Context, j *Job) error {
	_, err := m.db.ExecContext(ctx, m.q(`UPDATE scan_queue SET lease_until = ? WHERE repo = ? AND digest = ? AND state = 'running'`),
		now()+int64(m.lease/time.Second), j.Repo, j.Digest)
	return err
}

// Once reports whether this call is the first, across every process sharing
// the database, to claim key (e.g. "rematch for the database built at T").
func (m *DB) Once(ctx context.Context, key string) (bool, error) {
	return deleted(m.db.ExecContext(ctx, m.q(`INSERT INTO once_keys(key, at) VALUES(?, ?) ON CONFLICT(key) DO NOTHING`), key, now()))
}

// RequeueScanned queues every manifest that was scanned (or whose scan
// failed) again, e.g. after the vulnerability database changed.
func (m *DB) RequeueScanned(ctx context.Context) (int64, error) {
	res, err := m.db.ExecContext(ctx, m.q(`UPDATE scan_queue SET state = 'queued', attempts = 0, enqueued = ? WHERE state IN ('done', 'failed')`), now())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// RequeueRunning puts jobs left 'running' by a crash back in the queue. On
// SQLite (one process) that is every running job; on PostgreSQL other
// processes may be scanning, so only jobs whose lease ran out.
func (m *DB) RequeueRunning(ctx context.Context) error {
	if m.postgres {
		_, err := m.db.ExecContext(ctx, m.q(`UPDATE scan_queue SET state = 'queued' WHERE state = 'running' AND lease_until < ?`), now())
		return err
	}
	_, err := m.db.ExecContext(ctx, m.q(`UPDATE scan_queue SET state = 'queued' WHERE state = 'running'`))
	return err
}

// Finish records a job's outcome: its JSON result, or its error.
func (m *DB) Finish(ctx context.Context, j *Job, result []byte, jobErr error) error {
	return m.tx(ctx, func(tx *sql.Tx) error {
		if jobErr != nil {
			state := "queued"
			if j.Attempts+1 >= 3 {
				state = "failed"
			}
			// Retry later, backing off: 30 s, then 2 min.
			retry := now() + int64(30*(j.Attempts+1)*(j.Attempts+1))
			_, err := tx.ExecContext(ctx, m.q(`UPDATE scan_queue SET state = ?, last_error = ?, enqueued = ?, lease_until = 0 WHERE repo = ? AND digest = ?`), state, jobErr.Error(), retry, j.Repo, j.Digest)
			return err
		}
		if _, err := tx.ExecContext(ctx, m.q(`INSERT INTO scan_results(repo, digest, scanned, result) VALUES(?, ?, ?, ?) ON CONFLICT(repo, digest) DO UPDATE SET scanned = excluded.scanned, result = excluded.result`), j.Repo, j.Digest, now(), string(result)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, m.q(`UPDATE scan_queue SET state = 'done', last_error = '', lease_until = 0 WHERE repo = ? AND digest = ?`), j.Repo, j.Digest)
		return err
	})
}

// ScanState returns a manifest's queue state ("" if never queued) and last error.
func (m *DB) ScanState(ctx context.Context, repo, digest string) (state, lastErr string, err error) {
	err = m.db.QueryRowContext(ctx, m.q(`SELECT state, last_error FROM scan_queue WHERE repo = ? AND digest = ?`), repo, digest).Scan(&state, &lastErr)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", nil
	}
	return state, lastErr, err
}

// ScanResult returns the stored JSON result of a scan.
func (m *DB) ScanResult(ctx context.Context, repo, digest string) ([]byte, time.Time, error) {
	var s string
	var t int64
	err := m.db.QueryRowContext(ctx, m.q(`SELECT result, scanned FROM scan_results WHERE repo = ? AND digest = ?`), repo, digest).Scan(&s, &t)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, fmt.Errorf("%w: scan of %s@%s", ErrNotFound, repo, digest)
	}
	return []byte(s), time.Unix(t, 0), err
}

// QueueLength counts queued and running jobs.
func (m *DB) QueueLength(ctx context.Context) (int, error) {
	var n int
	err := m.db.QueryRowContext(ctx, m.q(`SELECT count(*) FROM scan_queue WHERE state IN ('queued', 'running')`)).Scan(&n)
	return n, err
}
