//go:build !linux

package arena

// newChunk is Go memory where the kernel offers no huge pages through madvise.
func newChunk(n int) []byte { return make([]byte, n) }
