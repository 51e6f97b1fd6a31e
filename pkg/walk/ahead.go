package walk

import (
	"errors"
	"io"
	"sync"
)

// Read-ahead: the stages of reading a layer (reading and hashing the stored
// bytes, inflating them, parsing the tar and running the extractors) run in
// goroutines of their own, connected by a few chunks, so that one large layer
// keeps more than one core busy (the inflater alone is the floor).
const (
	aheadChunk  = 256 << 10
	aheadChunks = 2 // filled chunks waiting for the consumer, per stage
)

var chunkPool = sync.Pool{New: func() any { b := make([]byte, aheadChunk); return &b }}

// aheadReader reads r in its own goroutine, up to aheadChunks chunks ahead of
// its consumer. Read and Seek (forward skips only, which archive/tar uses to
// skip unwanted file bodies without copying them) are for one consumer; Close
// stops the goroutine and waits for it, after which r is no longer used.
type aheadReader struct {
	ch   chan *[]byte // filled chunks (len is the data)
	free chan *[]byte // chunks the consumer is done with
	done chan struct{}
	exit chan struct{}
	err  error // why the goroutine stopped; read after ch is closed

	cur    *[]byte
	off    int
	pos    int64
	closed bool
	final  error
}

func newAheadReader(r io.Reader) *aheadReader {
	a := &aheadReader{
		ch:   make(chan *[]byte, aheadChunks),
		free: make(chan *[]byte, aheadChunks+2),
		done: make(chan struct{}),
		exit: make(chan struct{}),
	}
	go a.run(r)
	return a
}

func (a *aheadReader) run(r io.Reader) {
	defer close(a.exit)
	defer close(a.ch)
	made := 0
	for {
		var b *[]byte
		select {
		case b = <-a.free:
		case <-a.done:
			return
		default:
			if made <= aheadChunks {
				b = chunkPool.Get().(*[]byte)
				made++
			} else {
				select {
				case b = <-a.free:
				case <-a.done:
					return
				}
			}
		}
		buf := (*b)[:cap(*b)]
		n := 0
		var err error
		for n < len(buf) && err == nil {
			var m int
			m, err = r.Read(buf[n:])
			n += m
		}
		if n > 0 {
			*b = buf[:n]
			select {
			case a.ch <- b:
			case <-a.done:
				return
			}
		} else {
			a.free <- b
		}
		if err != nil {
			a.err = err
			return
		}
	}
}

// next makes a.cur a chunk with unread bytes; false at the end (a.final set).
func (a *aheadReader) next() bool {
	for a.cur == nil || a.off == len(*a.cur) {
		if a.final != nil {
			return false
		}
		if a.cur != nil {
			a.free <- a.cur // never blocks: there are at most aheadChunks+2 chunks
			a.cur = nil
		}
		b, ok := <-a.ch
		if !ok {
			a.final = a.err
			if a.final == nil {
				a.final = io.ErrUnexpectedEOF
			}
			return false
		}
		a.cur, a.off = b, 0
	}
	return true
}

func (a *aheadReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if !a.next() {
		return 0, a.final
	}
	n := copy(p, (*a.cur)[a.off:])
	a.off += n
	a.pos += int64(n)
	return n, nil
}

var errSeek = errors.New("walk: read-ahead can only skip forward")

// Seek skips forward without copying (whence io.SeekCurrent, offset >= 0); at
// the end of the data it stops early, so that the next Read reports the end.
func (a *aheadReader) Seek(offset int64, whence int) (int64, error) {
	if whence != io.SeekCurrent || offset < 0 {
		return a.pos, errSeek
	}
	for offset > 0 && a.next() {
		n := min(offset, int64(len(*a.cur)-a.off))
		a.off += int(n)
		a.pos += n
		offset -= n
	}
	if offset > 0 && a.final != nil && a.final != io.EOF {
		return a.pos, a.final
	}
	return a.pos, nil
}

// Close stops the goroutine and waits for it.
func (a *aheadReader) Close() error {
	if a.closed {
		return nil
	}
	a.closed = true
	close(a.done)
	<-a.exit
	for b := range a.ch {
		chunkPool.Put(b)
	}
	if a.cur != nil {
		chunkPool.Put(a.cur)
		a.cur = nil
	}
	for {
		select {
		case b := <-a.free:
			chunkPool.Put(b)
		default:
			return nil
		}
	}
}
