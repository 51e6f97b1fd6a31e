// Package dbdist distributes the vulnerability database (pkg/vulndb) as a
// signed OCI artifact: Push compresses the database file with zstd, pushes it
// with its own media types and annotations (build time, each feed's newest
// record) and signs the manifest as pkg/sign signs an image; Pull checks the
// signature (pkg/verify) and every digest, resumes an interrupted download
// with HTTP ranges, and installs the file atomically (vulndb.Install). An
// unchanged database costs one manifest HEAD.
package dbdist

import (
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/wardensec/warden/pkg/sign"
	"github.com/wardensec/warden/pkg/verify"
)

// Media types and annotations of the artifact.
const (
	ArtifactType    = "application/vnd.warden.db.v1"
	ConfigMediaType = "application/vnd.warden.db.config.v1+json"
	LayerMediaType  = "application/vnd.warden.db.layer.v1.bbolt+zstd"

	AnnotationCreated = "org.opencontainers.image.created" // the database's build time (RFC 3339)
	AnnotationTitle   = "org.opencontainers.image.title"
	AnnotationSchema  = "dev.warden.db.schema"  // vulndb.SchemaVersion
	AnnotationFeeds   = "dev.warden.db.feeds"   // JSON: feed -> newest record (RFC 3339)
	AnnotationDigest  = "dev.warden.db.digest"  // on the layer: sha256 of the uncompressed file
	AnnotationSize    = "dev.warden.db.size"    // on the layer: size of the uncompressed file
	AnnotationVersion = "dev.warden.db.version" // signed into the payload: the build time
)

// MaxSize bounds the uncompressed database a pull accepts (decompression is bounded).
const MaxSize = 8 << 30

// Errors a pull can end with (test with errors.Is; signature problems also
// wrap verify.ErrUnsigned or verify.ErrNotVerified).
var (
	ErrDigest   = errors.New("digest mismatch (tampered or corrupt)")
	ErrArtifact = errors.New("not a warden vulnerability database artifact")
)

// Config is the artifact's config blob (the same facts as the annotations).
type Config struct {
	Schema int                  `json:"schema"`
	Built  time.Time            `json:"built"`
	Feeds  map[string]time.Time `json:"feeds"`
	Size   int64                `json:"size"`
	Digest string               `json:"digest"` // of the uncompressed file
}

// Options are what Push and Pull share: how to reach the registry.
type Options struct {
	Keychain  authn.Keychain    // nil: authn.DefaultKeychain
	Transport http.RoundTripper // nil: remote.DefaultTransport
	Logger    *slog.Logger      // nil: silent
	Now       func() time.Time  // nil: time.Now
}

func (o *Options) keychain() authn.Keychain {
	if o.Keychain == nil {
		return authn.DefaultKeychain
	}
	return o.Keychain
}

func (o *Options) transport() http.RoundTripper {
	if o.Transport == nil {
		return remote.DefaultTransport
	}
	return o.Transport
}

func (o *Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func (o *Options) remote() []remote.Option {
	return []remote.Option{remote.WithAuthFromKeychain(o.keychain()), remote.WithTransport(o.transport())}
}

// PushOptions tune Push.
type PushOptions struct {
	Options
	Key    crypto.Signer // signs the manifest; required
	Format sign.Format   // where the signature goes (default both)
}

// PullOptions tune Pull.
type PullOptions struct {
	Options
	Keys []verify.Key // trusted keys; at least one unless SkipVerify
	// SkipVerify pulls without checking the signature (the digests are still checked).
	SkipVerify bool
}

// State is what the last pull installed, kept beside the database (StatePath).
type State struct {
	Repository  string    `json:"repository"`
	Digest      string    `json:"digest"`       // the manifest
	LayerDigest string    `json:"layer_digest"` // the compressed file
	FileDigest  string    `json:"file_digest"`  // the database file
	Built       time.Time `json:"built"`
	Pulled      time.Time `json:"pulled"`
	Checked     time.Time `json:"checked"`            // the last time the registry was asked
	Size        int64     `json:"size"`               // of the installed file
	ModTime     time.Time `json:"mod_time,omitempty"` // of the installed file
}

// StatePath is where the state of the database at dbPath is kept.
func StatePath(dbPath string) string { return dbPath + ".oci.json" }

// ReadState reads the state of the database at dbPath; ok is false when there is none.
func ReadState(dbPath string) (State, bool) {
	var st State
	data, err := os.ReadFile(StatePath(dbPath))
	if err != nil || json.Unmarshal(data, &st) != nil {
		return State{}, false
	}
	return st, true
}

// current reports whether st still describes the file at dbPath (not replaced by an import since).
func (st State) current(dbPath string) bool {
	fi, err := os.Stat(dbPath)
	return err == nil && fi.Size() == st.Size && fi.ModTime().Equal(st.ModTime)
}

// writeState replaces the state file atomically.
func writeState(dbPath string, st State) error {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	path := StatePath(dbPath)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// countingReader counts what passes through.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Due reports whether the database at dbPath should be pulled again: it is
// missing, or it was neither installed nor checked against the registry
// within maxAge.
func Due(dbPath string, maxAge time.Duration, now time.Time) bool {
	fi, err := os.Stat(dbPath)
	if err != nil || fi.Size() == 0 {
		return true
	}
	last := fi.ModTime()
	if st, ok := ReadState(dbPath); ok && st.current(dbPath) && st.Checked.After(last) {
		last = st.Checked
	}
	return now.Sub(last) > maxAge
}
