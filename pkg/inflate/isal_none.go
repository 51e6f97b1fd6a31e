//go:build !(cgo && isal)

package inflate

import (
	"bufio"
	"errors"
	"io"
)

// linked says that ISA-L's inflater is built in: only with cgo and the isal
// build tag (go build -tags isal, with Debian's libisal-dev).
const linked = false

func newIsal(*bufio.Reader) (io.ReadCloser, error) {
	return nil, errors.New("gzip: ISA-L is not built in (build with -tags isal)")
}
