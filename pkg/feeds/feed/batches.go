package feed

import (
	"sort"

	"github.com/wardensec/warden/pkg/vulndb"
)

// Batches holds a reader's batches, one per source.
type Batches map[string]*vulndb.Batch

// Get returns the batch of src, made on first use.
func (bs Batches) Get(src string) *vulndb.Batch {
	b := bs[src]
	if b == nil {
		b = &vulndb.Batch{Source: src}
		bs[src] = b
	}
	return b
}

// Sorted returns the batches sorted by source (nil when there are none).
func (bs Batches) Sorted() []*vulndb.Batch {
	var out []*vulndb.Batch
	for _, b := range bs {
		out = append(out, b)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	return out
}
