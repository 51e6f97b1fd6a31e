package meta

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// migrations are the schema's versions, applied in order, each once, and
// recorded in schema_migrations. Never edit one that has shipped: add the next.
// The text is the same for both engines; for PostgreSQL, INTEGER becomes BIGINT
// (sizes and Unix times) and TEXT sorts bytewise (COLLATE "C", as the OCI
// spec's lexical tag order wants and SQLite does).
var migrations = []string{
	// 1: the schema of the single-node registry (IF NOT EXISTS: databases
	// made before versioning already have it).
	`CREATE TABLE IF NOT EXISTS repos(name TEXT PRIMARY KEY, created INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS blobs(repo TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL, PRIMARY KEY(repo, digest));
CREATE INDEX IF NOT EXISTS blobs_digest ON blobs(digest);
CREATE TABLE IF NOT EXISTS manifests(
  repo TEXT NOT NULL, digest TEXT NOT NULL, media_type TEXT NOT NULL, size INTEGER NOT NULL,
  artifact_type TEXT NOT NULL DEFAULT '', subject TEXT NOT NULL DEFAULT '', annotations TEXT NOT NULL DEFAULT '',
  created INTEGER NOT NULL, PRIMARY KEY(repo, digest));
CREATE INDEX IF NOT EXISTS manifests_subject ON manifests(repo, subject);
CREATE TABLE IF NOT EXISTS manifest_refs(repo TEXT NOT NULL, digest TEXT NOT NULL, ref TEXT NOT NULL, PRIMARY KEY(repo, digest, ref));
CREATE INDEX IF NOT EXISTS manifest_refs_ref ON manifest_refs(ref);
CREATE TABLE IF NOT EXISTS tags(repo TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL, updated INTEGER NOT NULL, PRIMARY KEY(repo, tag));
CREATE INDEX IF NOT EXISTS tags_digest ON tags(repo, digest);
CREATE TABLE IF NOT EXISTS uploads(id TEXT PRIMARY KEY, repo TEXT NOT NULL, started INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS scan_queue(
  repo TEXT NOT NULL, digest TEXT NOT NULL, enqueued INTEGER NOT NULL, state TEXT NOT NULL DEFAULT 'queued',
  attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '', PRIMARY KEY(repo, digest));
CREATE TABLE IF NOT EXISTS scan_results(repo TEXT NOT NULL, digest TEXT NOT NULL, scanned INTEGER NOT NULL, result TEXT NOT NULL, PRIMARY KEY(repo, digest));`,

	// 2: several processes: a lease on running scan jobs, and once-only events.
	`ALTER TABLE scan_queue ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX scan_queue_state ON scan_queue(state, enqueued);
CREATE TABLE once_keys(key TEXT PRIMARY KEY, at INTEGER NOT NULL);`,

	// 3: online garbage collection: when a repository last linked a blob
	// (an upload whose manifest is still to come keeps it alive).
	`ALTER TABLE blobs ADD COLUMN linked INTEGER NOT NULL DEFAULT 0;
CREATE INDEX manifests_digest ON manifests(digest);`,
}

// dialect adapts a migration's text to the engine.
func (m *DB) dialect(s string) string {
	if !m.postgres {
		return s
	}
	s = strings.ReplaceAll(s, "INTEGER", "BIGINT")
	return strings.ReplaceAll(s, " TEXT", ` TEXT COLLATE "C"`)
}

// migrate applies the migrations not yet recorded, in one transaction. On
// PostgreSQL a transaction-scoped advisory lock keeps two processes starting
// together from both applying them.
func (m *DB) migrate(ctx context.Context) error {
	return m.tx(ctx, func(tx *sql.Tx) error {
		if m.postgres {
			if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7347001)`); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, m.dialect(`CREATE TABLE IF NOT EXISTS schema_migrations(version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`)); err != nil {
			return err
		}
		var have int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&have); err != nil {
			return err
		}
		if have > len(migrations) {
			return fmt.Errorf("schema version %d is newer than this warden knows (%d)", have, len(migrations))
		}
		for v := have + 1; v <= len(migrations); v++ {
			for _, st := range strings.Split(m.dialect(migrations[v-1]), ";\n") {
				if _, err := tx.ExecContext(ctx, st); err != nil {
					return fmt.Errorf("migration %d: %w", v, err)
				}
			}
			if _, err := tx.ExecContext(ctx, m.q(`INSERT INTO schema_migrations(version, applied) VALUES(?, ?)`), v, now()); err != nil {
				return err
			}
		}
		return nil
	})
}

// SchemaVersion is the highest migration applied.
func (m *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := m.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}
