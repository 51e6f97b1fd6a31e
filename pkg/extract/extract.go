// Package extract defines the shape every extractor has. The walk hands each
// extractor the files it asked for, by path, and collects what it returns.
package extract

import (
	"context"
	"io"
	"io/fs"

	"github.com/wardensec/warden/pkg/inventory"
)

// Extractor reads packages out of files of one kind.
type Extractor interface {
	// Name is unique and stable ("os/apk", "lang/npm"); it is part of the cache key.
	Name() string
	// Version changes whenever the extractor's output can change for the same input;
	// it is part of the per-layer cache key, so a parser fix invalidates old results.
	Version() int
	// Required reports whether the extractor wants the file. It must be cheap:
	// it sees only the path (slash-separated, no leading slash, e.g.
	// "lib/apk/db/installed"), the mode and the size, never the content.
	Required(path string, mode fs.FileMode, size int64) bool
	// Extract parses one file. A malformed entry that can be skipped is reported
	// through in.Warn and the rest is returned; an error means nothing usable was read.
	Extract(ctx context.Context, in *Input) ([]inventory.Package, error)
}

// Input is one file handed to an extractor.
type Input struct {
	Path   string // slash-separated, no leading slash
	Mode   fs.FileMode
	Size   int64
	Layer  string           // diff ID of the layer the file is in
	Reader io.Reader        // the content, read once
	At     io.ReaderAt      // the same content with random access (for zip, ELF); nil when not available
	Warn   func(msg string) // records a non-fatal problem; the message should name what is wrong
}

// Merger is implemented by extractors whose results from several files must be
// joined after the layers are merged (for example dpkg's status and its
// info/*.list files). Merge gets all this extractor's packages of the final
// filesystem and returns the joined list.
type Merger interface {
	Merge(pkgs []inventory.Package) []inventory.Package
}
