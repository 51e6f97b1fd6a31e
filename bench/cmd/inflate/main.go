// Command inflate measures the floor of a layer walk: the time to inflate one
// gzip blob with klauspost/compress, with -fast with pkg/inflate/fast (the
// pure-Go inflater Warden uses), or with -isal through pkg/inflate's
// built-in ISA-L (a build with -tags isal), discarding the output. Layers
// inflate in parallel, so the largest layer is the floor.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	kgzip "github.com/klauspost/compress/gzip"

	"github.com/wardensec/warden/pkg/inflate"
	"github.com/wardensec/warden/pkg/inflate/fast"
)

var (
	isal   = flag.Bool("isal", false, "inflate with the built-in ISA-L (needs -tags isal)")
	fastGo = flag.Bool("fast", false, "inflate with pkg/inflate/fast")
)

func main() {
	n := flag.Int("n", 3, "runs (the best is printed)")
	flag.Parse()
	if *isal && !inflate.Linked() {
		fmt.Fprintln(os.Stderr, "inflate: -isal needs a build with -tags isal")
		os.Exit(2)
	}
	best := time.Duration(1<<63 - 1)
	var size int64
	for i := 0; i < *n; i++ {
		d, s, err := run(flag.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, "inflate:", err)
			os.Exit(1)
		}
		best, size = min(best, d), s
	}
	fmt.Printf("%.3f %d\n", best.Seconds(), size)
}

func run(p string) (time.Duration, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	start := time.Now()
	br := bufio.NewReaderSize(f, 256<<10)
	var zr io.Reader
	if *isal {
		r, err := inflate.Gzip{Isal: true}.NewReader(context.Background(), br)
		if err != nil {
			return 0, 0, err
		}
		defer r.Close()
		zr = r
	} else if *fastGo {
		if zr, err = fast.NewReader(br); err != nil {
			return 0, 0, err
		}
	} else if zr, err = kgzip.NewReader(br); err != nil {
		return 0, 0, err
	}
	n, err := io.CopyBuffer(io.Discard, zr, make([]byte, 256<<10))
	return time.Since(start), n, err
}
