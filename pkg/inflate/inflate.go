// Package inflate decompresses gzip layer streams with Intel's ISA-L when it
// is there, else in process with package fast, a Go decoder after
// libdeflate's design. Inflating the largest layer is the floor of a cold
// scan: on the benchmark machine 145-153 MB of gzip take 0.64 s with ISA-L,
// 1.05 s with package fast and 1.6-1.8 s with klauspost/compress (the Go
// inflater before it, still there as WARDEN_IGZIP=klauspost). Two ways to
// ISA-L:
//
//   - Built in (go build -tags isal, with cgo and Debian's libisal-dev; the
//     binary then needs libisal2): the library inflates in process, into
//     the caller's buffer. Each member's header is parsed here and must be
//     one the Go reader accepts (headerOK); ISA-L inflates the deflate data
//     and checks the CRC-32; the length is checked here. Its C code then
//     reads untrusted bytes inside this process, which the igzip process
//     kept out of it: WARDEN_IGZIP=PATH keeps that isolation.
//   - An igzip process (package isal), as Docker and containerd hand gzip to
//     an external unpigz: for streams of at least MinSize compressed bytes
//     (starting a process costs about a millisecond). Its answer is taken
//     when the first header parses in process (igzip accepts reserved flag
//     bits, which RFC 1952 says to refuse), igzip exited cleanly, read its
//     input to the end, and the input's last eight bytes are the gzip
//     trailer (CRC-32 and length) of all it wrote. One difference remains,
//     by construction: bytes after the stream that themselves end with a
//     copy of its trailer are ignored, as GNU gzip, unpigz and igzip ignore
//     trailing data, where the Go reader fails after the same output. The
//     tar read is the same either way, and the layer's digest covers every
//     byte. Close stops the process.
//
// The built-in library comes first, then igzip on PATH, unless WARDEN_IGZIP
// says otherwise. Either way, anything unexpected (a truncated or corrupt
// stream, a header not certain to be one the Go reader accepts, data after
// the stream) ends the output with ErrRetry, and the caller reads the stream
// again with the Go inflater, which gives its usual error or result. The
// benchmark's cold scan takes 1.5 s of CPU with the built-in library and
// 2.0 s with the igzip process: no pipes to copy 689 MB through.
package inflate

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/wardensec/warden/pkg/inflate/fast"
)

// Env names the environment variable that chooses the inflater: unset or
// "auto" uses the built-in ISA-L when there is one, else igzip from PATH
// when it is there; "off" (or "0", "false") the Go inflater (package fast);
// "klauspost" klauspost/compress's gzip reader, the Go inflater before it
// (for comparisons, and as a way out should package fast misbehave); any
// other value is the path of the igzip to use.
const Env = "WARDEN_IGZIP"

// DefaultMinSize is the compressed size from which igzip is worth a process.
const DefaultMinSize = 128 << 10

// ErrRetry ends ISA-L's output (igzip's or the built-in library's) when its
// answer is not certain: read the stream again with the Go inflater (Gzip{}).
var ErrRetry = errors.New("gzip: ISA-L's result is not certain; inflate with the Go inflater")

// Gzip inflates gzip streams. The zero value inflates in process with
// package fast.
type Gzip struct {
	// Klauspost inflates in process with klauspost/compress instead (when
	// neither ISA-L is chosen).
	Klauspost bool
	// Isal inflates in process with ISA-L, when it is built in (the isal
	// build tag; Linked reports it).
	Isal bool
	// Igzip is the path of ISA-L's igzip; "" inflates in process.
	Igzip string
	// MinSize: a stream shorter than this inflates in process. 0 means
	// DefaultMinSize; a negative value uses igzip for every stream.
	MinSize int
}

// FromEnv is the inflater WARDEN_IGZIP and PATH choose, looked up once.
var FromEnv = sync.OnceValue(func() Gzip { return choose(os.Getenv(Env), exec.LookPath) })

// Linked reports whether ISA-L's inflater is built in (go build -tags isal).
func Linked() bool { return linked }

func choose(v string, look func(string) (string, error)) Gzip {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "off", "0", "false", "no":
		return Gzip{}
	case "klauspost":
		return Gzip{Klauspost: true}
	case "", "auto", "1", "true", "yes", "on":
		if linked {
			return Gzip{Isal: true}
		}
		p, err := look("igzip")
		if err != nil {
			return Gzip{}
		}
		return Gzip{Igzip: p}
	}
	return Gzip{Igzip: v}
}

// Name says which inflater g is, for logs and benchmarks.
func (g Gzip) Name() string {
	if g.Isal && linked {
		return "ISA-L (in process)"
	}
	if g.Igzip == "" {
		if g.Klauspost {
			return "klauspost/compress"
		}
		return "Go (pkg/inflate/fast)"
	}
	return "igzip (" + g.Igzip + ")"
}

// NewReader returns the inflated bytes of the gzip stream that br starts
// with (all its members, as gzip -d does). Close it when done; it does not
// close br. br's buffer must hold MinSize bytes for the size check.
func (g Gzip) NewReader(ctx context.Context, br *bufio.Reader) (io.ReadCloser, error) {
	if g.Isal && linked && headerOK(br) {
		return newIsal(br)
	}
	if g.Igzip == "" || !g.large(br) || !headerOK(br) {
		var zr io.ReadCloser
		var err error
		if g.Klauspost {
			zr, err = gzip.NewReader(br)
		} else {
			zr, err = fast.NewReader(br)
		}
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	}
	return startIgzip(ctx, g.Igzip, br)
}

// headerOK parses the first gzip header with the in-process reader: igzip
// accepts headers it refuses (reserved flag bits set, which RFC 1952 says to
// refuse); such a stream is left to the in-process reader, which says why.
func headerOK(br *bufio.Reader) bool {
	b, _ := br.Peek(br.Size())
	_, err := gzip.NewReader(bytes.NewReader(b))
	return err == nil
}

func (g Gzip) large(br *bufio.Reader) bool {
	n := g.MinSize
	if n < 0 {
		return true
	}
	if n == 0 {
		n = DefaultMinSize
	}
	n = min(n, br.Size())
	b, _ := br.Peek(n)
	return len(b) >= n
}

// proc reads an igzip process's output.
type proc struct {
	cmd    *exec.Cmd
	in     *tailReader
	feed   *os.File      // our end of igzip's stdin pipe
	fed    chan struct{} // closed when the feeding goroutine is done with in
	out    io.ReadCloser
	stderr *bytes.Buffer
	crc    uint32 // of the output so far
	size   uint32 // of the output so far, mod 2^32 (as the trailer has it)
	done   bool   // the output is over (err says how)
	waited bool   // igzip and the feeder are gone
	err    error  // returned once the output is over: io.EOF or ErrRetry
}

// pipeSize is the size both of igzip's pipes are given (the default limit
// for unprivileged users, /proc/sys/fs/pipe-max-size): with 64 KiB pipes and
// os/exec's 32 KiB copier, igzip and the walk woke each other all the time,
// and the largest layer of the benchmark image took 1.45 s instead of 0.97 s.
const pipeSize = 1 << 20

func startIgzip(ctx context.Context, path string, r io.Reader) (*proc, error) {
	cmd := exec.CommandContext(ctx, path, "-d", "-c")
	p := &proc{cmd: cmd, in: &tailReader{r: r}, stderr: &bytes.Buffer{}, fed: make(chan struct{})}
	// Our own stdin pipe, fed by our own goroutine: os/exec's would use
	// 32 KiB writes into a 64 KiB pipe.
	stdin, feed, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("gzip: starting %s: %w", path, err)
	}
	growPipe(feed)
	cmd.Stdin = stdin
	cmd.Stderr = &limitedWriter{w: p.stderr, left: 4 << 10}
	if p.out, err = cmd.StdoutPipe(); err != nil {
		stdin.Close()
		feed.Close()
		return nil, fmt.Errorf("gzip: starting %s: %w", path, err)
	}
	growPipe(p.out)
	err = cmd.Start()
	stdin.Close() // igzip has it now
	if err != nil {
		feed.Close()
		return nil, fmt.Errorf("gzip: starting %s: %w", path, err)
	}
	p.feed = feed
	go func() {
		defer close(p.fed)
		// A write fails once igzip is gone (EPIPE), which ends the copy.
		_, _ = io.CopyBuffer(struct{ io.Writer }{feed}, p.in, make([]byte, 256<<10))
		feed.Close()
	}()
	return p, nil
}

func (p *proc) Read(b []byte) (int, error) {
	if p.done {
		return 0, p.err
	}
	n, err := p.out.Read(b)
	p.crc = crc32.Update(p.crc, crc32.IEEETable, b[:n])
	p.size += uint32(n) //nolint:gosec // mod 2^32, as gzip's ISIZE
	if err == nil {
		return n, nil
	}
	p.done = true
	if !errors.Is(err, io.EOF) {
		p.err = fmt.Errorf("gzip: reading igzip's output: %w", err)
		p.stop()
		return n, p.err
	}
	werr := p.wait()
	p.err = io.EOF
	if why := p.uncertain(werr); why != "" {
		p.err = fmt.Errorf("%w (%s)", ErrRetry, why)
	}
	return n, p.err
}

// wait waits for igzip to exit and for the feeder to be done with the input.
func (p *proc) wait() error {
	werr := p.cmd.Wait()
	p.feed.Close() // igzip is gone: a feeder still writing stops
	<-p.fed        // after it, p.in is no longer read
	p.waited = true
	return werr
}

// stop kills igzip unless it is already waited for.
func (p *proc) stop() {
	if !p.waited {
		_ = p.cmd.Process.Kill()
		_ = p.wait()
	}
}

// uncertain says why igzip's output may differ from the in-process
// inflater's, or "" when it cannot.
func (p *proc) uncertain(werr error) string {
	if werr != nil {
		msg := strings.TrimSpace(p.stderr.String())
		if msg == "" {
			msg = werr.Error()
		}
		return "igzip: " + msg
	}
	if !p.in.eof {
		return "igzip stopped before the end of its input"
	}
	var want [8]byte
	binary.LittleEndian.PutUint32(want[:4], p.crc)
	binary.LittleEndian.PutUint32(want[4:], p.size)
	if p.in.n < 8 || p.in.tail != want {
		return "the input does not end with the trailer of all the output: several members, or data after the stream"
	}
	return ""
}

// Close stops igzip if its output was not read to the end, and waits for it
// and for the goroutine that feeds it, so that the input reader is free.
func (p *proc) Close() error {
	if !p.done {
		p.done = true
		p.err = errors.New("gzip: reader closed")
	}
	p.stop()
	return nil
}

// tailReader keeps the last 8 bytes read, and whether the end was reached.
type tailReader struct {
	r    io.Reader
	tail [8]byte
	n    int64
	eof  bool
}

func (t *tailReader) Read(b []byte) (int, error) {
	n, err := t.r.Read(b)
	keepLast8(&t.tail, b[:n])
	t.n += int64(n)
	if errors.Is(err, io.EOF) {
		t.eof = true
	}
	return n, err
}

// keepLast8 shifts b into tail, which then holds the last 8 bytes of all
// that went through it (a gzip trailer at the end of a stream).
func keepLast8(tail *[8]byte, b []byte) {
	if len(b) >= 8 {
		copy(tail[:], b[len(b)-8:])
	} else if len(b) > 0 {
		copy(tail[:], tail[len(b):])
		copy(tail[8-len(b):], b)
	}
}

type limitedWriter struct {
	w    io.Writer
	left int
}

func (l *limitedWriter) Write(b []byte) (int, error) {
	if l.left > 0 {
		k := min(len(b), l.left)
		l.w.Write(b[:k])
		l.left -= k
	}
	return len(b), nil
}
