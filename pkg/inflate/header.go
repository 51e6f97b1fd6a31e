package inflate

// RFC 1952 header flags.
const (
	flagHCRC    = 1 << 1
	flagExtra   = 1 << 2
	flagName    = 1 << 3
	flagComment = 1 << 4
)

// headerLen is the length of the gzip member header that b starts with, or
// 0 when b does not hold a whole one (a header is only taken when the
// in-process reader accepts it too: headerOK).
func headerLen(b []byte) int {
	if len(b) < 10 || b[0] != 0x1f || b[1] != 0x8b || b[2] != 8 {
		return 0
	}
	flg := b[3]
	n := 10
	if flg&flagExtra != 0 {
		if len(b) < n+2 {
			return 0
		}
		n += 2 + int(b[n]) | int(b[n+1])<<8
	}
	for _, f := range []byte{flagName, flagComment} {
		if flg&f == 0 {
			continue
		}
		for {
			if n >= len(b) {
				return 0
			}
			n++
			if b[n-1] == 0 {
				break
			}
		}
	}
	if flg&flagHCRC != 0 {
		n += 2
	}
	if n > len(b) {
		return 0
	}
	return n
}
