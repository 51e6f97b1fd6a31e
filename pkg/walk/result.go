package walk

import (
	"bytes"
	"encoding/gob"
	"fmt"

	"github.com/wardensec/warden/pkg/inventory"
)

// layerResult is what one layer contributes; it is what the cache stores.
type layerResult struct {
	DiffID    string                 // not encoded (it is the key)
	Files     map[string]*fileResult // path (no leading slash) → what was found there
	Whiteouts []string               // paths deleted by .wh.<name>
	Opaque    []string               // directories made opaque by .wh..wh..opq
}

// fileResult records one path of a layer that matters: a file an extractor
// read (Results, possibly empty), a distro file (Distro), or an entry that
// replaces such a path (neither).
type fileResult struct {
	Results  map[string][]inventory.Package // extractor name → packages
	Distro   []byte
	Warnings []string
}

// cached is the encoded form, versioned.
type cached struct {
	Format    int
	Files     map[string]*fileResult
	Whiteouts []string
	Opaque    []string
}

func encodeResult(r *layerResult) ([]byte, error) {
	var buf bytes.Buffer
	err := gob.NewEncoder(&buf).Encode(&cached{Format: FormatVersion, Files: r.Files, Whiteouts: r.Whiteouts, Opaque: r.Opaque})
	if err != nil {
		return nil, fmt.Errorf("encoding layer result: %w", err)
	}
	return buf.Bytes(), nil
}

func decodeResult(b []byte) (*layerResult, error) {
	var c cached
	if err := gob.NewDecoder(bytes.NewReader(b)).Decode(&c); err != nil {
		return nil, fmt.Errorf("decoding layer result: %w", err)
	}
	if c.Format != FormatVersion {
		return nil, fmt.Errorf("layer result has format %d, want %d", c.Format, FormatVersion)
	}
	if c.Files == nil {
		c.Files = map[string]*fileResult{}
	}
	return &layerResult{Files: c.Files, Whiteouts: c.Whiteouts, Opaque: c.Opaque}, nil
}
