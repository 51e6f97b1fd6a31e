// Package alpine reads the Alpine secdb (https://secdb.alpinelinux.org/,
// vX.Y/main.json and community.json) and the Wolfi and Chainguard secdbs,
// which share its format. Entries are keyed by the origin (source) package;
// "secfixes" maps a version to the ids fixed in it. Version "0" means the
// package was never affected (the fix is not needed in this branch).
package alpine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wardensec/warden/pkg/feeds/feed"
	"github.com/wardensec/warden/pkg/vulndb"
)

// File is one secdb file.
type File struct {
	APKURL        string   `json:"apkurl"`
	Archs         []string `json:"archs"`
	RepoName      string   `json:"reponame"`
	URLPrefix     string   `json:"urlprefix"`
	DistroVersion string   `json:"distroversion"`
	Packages      []struct {
		Pkg struct {
			Name     string                     `json:"name"`
			SecFixes map[string]json.RawMessage `json:"secfixes"`
		} `json:"pkg"`
	} `json:"packages"`
}

// Source names.
const (
	SourceAlpine     = "alpine-secdb"
	SourceWolfi      = "wolfi-secdb"
	SourceChainguard = "chainguard-secdb"
)

// Reader accumulates secdb files into one batch per source.
type Reader struct {
	Warn    *feed.Warnings
	batches feed.Batches
	seen    map[string]bool // namespace\x00pkg\x00id already stored
}

// NewReader returns an empty Reader.
func NewReader(w *feed.Warnings) *Reader {
	if w == nil {
		w = &feed.Warnings{}
	}
	return &Reader{Warn: w, batches: map[string]*vulndb.Batch{}, seen: map[string]bool{}}
}

// Add reads one secdb file.
func (r *Reader) Add(e *feed.Entry) error {
	data, err := e.ReadAll()
	if err != nil {
		return err
	}
	return r.AddBytes(e.String(), e.ModTime, data)
}

// Namespace derives the namespace and source of a secdb file: Wolfi and
// Chainguard are told apart by their URL prefix / apk URL; Alpine by its
// distroversion ("v3.19" -> alpine:3.19, "edge" -> alpine:edge).
func Namespace(f *File) (ns, source string, err error) {
	where := strings.ToLower(f.URLPrefix + " " + f.APKURL)
	switch {
	case strings.Contains(where, "wolfi"):
		return "wolfi:rolling", SourceWolfi, nil
	case strings.Contains(where, "chainguard") || strings.Contains(where, "cgr.dev"):
		return "chainguard:rolling", SourceChainguard, nil
	}
	v := strings.TrimPrefix(strings.TrimSpace(f.DistroVersion), "v")
	if v == "" {
		return "", "", errors.New("secdb file has no distroversion and is not Wolfi/Chainguard")
	}
	return "alpine:" + v, SourceAlpine, nil
}

// AddBytes parses one secdb file. A file that is not secdb JSON is an error;
// a malformed package entry is skipped with a warning.
func (r *Reader) AddBytes(file string, modTime time.Time, data []byte) error {
	var f File
	if err := json.Unmarshal(data, &f); err != nil {
		return fmt.Errorf("%s: decoding secdb JSON: %w", file, err)
	}
	ns, src, err := Namespace(&f)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	b := r.batches.Get(src)
	// secdb records carry no dates; a file's modification time says when it
	// was copied, not when its data is from, so Newest stays unknown here.
	_ = modTime
	for i, p := range f.Packages {
		name := strings.TrimSpace(p.Pkg.Name)
		if name == "" {
			b.Records++
			b.Skipped++
			r.Warn.Skip(file, fmt.Sprintf("packages[%d]", i), errors.New("package without a name"))
			continue
		}
		versions := make([]string, 0, len(p.Pkg.SecFixes))
		for v := range p.Pkg.SecFixes {
			versions = append(versions, v)
		}
		sort.Strings(versions)
		for _, ver := range versions {
			var ids []string
			if err := json.Unmarshal(p.Pkg.SecFixes[ver], &ids); err != nil {
				b.Records++
				b.Skipped++
				r.Warn.Skip(file, name+" "+ver, fmt.Errorf("secfixes entry is not a list of ids: %w", err))
				continue
			}
			for _, raw := range ids {
				b.Records++
				// An entry may name several ids ("CVE-2017-1000381 XSA-123").
				fields := strings.Fields(raw)
				if len(fields) == 0 {
					b.Skipped++
					r.Warn.Skip(file, name+" "+ver, errors.New("empty id"))
					continue
				}
				id := fields[0]
				key := ns + "\x00" + name + "\x00" + id
				if r.seen[key] {
					continue
				}
				r.seen[key] = true
				a := vulndb.Advisory{
					ID: id, Aliases: fields[1:], Namespace: ns, Package: name, Source: src,
					Severity: "UNKNOWN",
				}
				if ver == "0" {
					a.Status = vulndb.StatusNotAffected
				} else {
					a.Status = vulndb.StatusFixed
					a.FixedVersion = ver
					a.Ranges = []vulndb.Range{{Type: "ECOSYSTEM", Fixed: ver}}
				}
				b.Advisories = append(b.Advisories, a)
			}
		}
	}
	return nil
}

// Batches returns what was read, one batch per source.
func (r *Reader) Batches() []*vulndb.Batch {
	return r.batches.Sorted()
}
