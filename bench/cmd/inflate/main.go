// Command inflate measures the floor of a layer walk: the time to inflate one
// gzip blob with klauspost/compress (the fastest Go inflater), discarding the
// output. Layers inflate in parallel, so the largest layer is the floor.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	kgzip "github.com/klauspost/compress/gzip"
)

func main() {
	n := flag.Int("n", 3, "runs (the best is printed)")
	flag.Parse()
	best := time.Duration(1<<63 - 1)
	var size int64
	for i := 0; i < *n; i++ {
		d, s, err := inflate(flag.Arg(0))
		if err != nil {
			fmt.Fprintln(os.Stderr, "inflate:", err)
			os.Exit(1)
		}
		best, size = min(best, d), s
	}
	fmt.Printf("%.3f %d\n", best.Seconds(), size)
}

func inflate(p string) (time.Duration, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	start := time.Now()
	zr, err := kgzip.NewReader(bufio.NewReaderSize(f, 256<<10))
	if err != nil {
		return 0, 0, err
	}
	n, err := io.Copy(io.Discard, zr)
	return time.Since(start), n, err
}
