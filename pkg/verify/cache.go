package verify

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
)

// Cache remembers positive verification results in memory (least recently used evicted).
//
// What makes a hit safe: the key is the image digest, the set of trusted key IDs, the threshold,
// the annotations asked for, the predicate type (attestations) AND the state of the registry —
// the digest of the .sig/.att manifest and the digest of the referrers index. A verification
// still makes those two cheap requests; it skips fetching and checking every signature blob.
// Any signature added or removed changes that state, so the entry is not used. Only passing
// results are stored: a failure is never served from the cache, so an image that gets signed
// later passes at once, and a transient registry error is never remembered.
type Cache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List
	items map[string]*list.Element
}

type cacheEntry struct {
	key string
	sig *Result
	att *AttestationResult
}

// NewCache makes a cache holding up to size results (size ≤ 0: 1024).
func NewCache(size int) *Cache {
	if size <= 0 {
		size = 1024
	}
	return &Cache{max: size, ll: list.New(), items: map[string]*list.Element{}}
}

// Len is the number of cached results.
func (c *Cache) Len() int {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}

func cacheKey(kind string, d name.Digest, opt Options, predicateType, state string) string {
	ids := make([]string, 0, len(opt.Keys)+len(opt.Identities))
	for _, k := range opt.Keys {
		// the name is in the result, so it is part of the key; so is the window
		ids = append(ids, k.ID+" "+k.Name+" "+k.NotBefore.String()+" "+k.NotAfter.String())
	}
	for _, id := range opt.Identities {
		ids = append(ids, "identity\x00"+id.Issuer+"\x00"+id.IssuerRegexp+"\x00"+id.Subject+"\x00"+id.SubjectRegexp+"\x00"+id.NotBefore.String()+"\x00"+id.NotAfter.String())
	}
	if opt.Notation != nil {
		ids = append(ids, "notation\x00"+opt.Notation.Name+"\x00"+opt.Notation.digest)
	}
	sort.Strings(ids)
	root := ""
	if opt.TrustedRoot != nil {
		root = opt.TrustedRoot.Digest
	}
	revoked := append([]string{"revoked", root, strconv.FormatBool(opt.RequireTlog)}, opt.Revoked...)
	sort.Strings(revoked[3:])
	ann := make([]string, 0, len(opt.Annotations))
	for k, v := range opt.Annotations {
		ann = append(ann, strconv.Quote(k)+"="+strconv.Quote(v))
	}
	sort.Strings(ann)
	h := sha256.New()
	for _, part := range [][]string{{kind, d.String(), strconv.Itoa(opt.threshold()), predicateType, state}, ids, ann, revoked} {
		for _, s := range part {
			h.Write([]byte(s))
			h.Write([]byte{0})
		}
		h.Write([]byte{1})
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *Cache) lookup(key string) *cacheEntry {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*cacheEntry)
	}
	return nil
}

func (c *Cache) store(e *cacheEntry) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.items[e.key]; ok {
		old.Value = e
		c.ll.MoveToFront(old)
		return
	}
	c.items[e.key] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*cacheEntry).key)
	}
}

func (c *Cache) get(key string) (*Result, bool) {
	if e := c.lookup(key); e != nil && e.sig != nil {
		r := *e.sig
		r.Signers = append([]Signer(nil), r.Signers...)
		r.Keys = append([]string(nil), r.Keys...)
		r.Invalid = append([]Problem(nil), r.Invalid...)
		return &r, true
	}
	return nil, false
}

func (c *Cache) put(key string, r *Result) {
	cp := *r
	c.store(&cacheEntry{key: key, sig: &cp})
}

func (c *Cache) getAtt(key string) (*AttestationResult, bool) {
	if e := c.lookup(key); e != nil && e.att != nil {
		r := *e.att
		r.Attestations = append([]Attestation(nil), r.Attestations...)
		r.Keys = append([]string(nil), r.Keys...)
		r.Invalid = append([]Problem(nil), r.Invalid...)
		return &r, true
	}
	return nil, false
}

func (c *Cache) putAtt(key string, r *AttestationResult) {
	cp := *r
	c.store(&cacheEntry{key: key, att: &cp})
}
