package inflate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/wardensec/warden/internal/testutil"
)

func gz(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// payload is compressible but not trivially: 4 MiB of words.
func payload() []byte {
	r := rand.New(rand.NewPCG(1, 2))
	words := []string{"usr/bin/", "lib", "openssl", "3.1.7-r0", "\x00\x00\x00", "Package: ", "\n"}
	var b bytes.Buffer
	for b.Len() < 4<<20 {
		b.WriteString(words[r.IntN(len(words))])
		b.WriteByte(byte(r.IntN(256)))
	}
	return b.Bytes()
}

func read(g Gzip, in []byte) ([]byte, error) {
	zr, err := g.NewReader(context.Background(), bufio.NewReaderSize(bytes.NewReader(in), 256<<10))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr) // with what was inflated before an error
}

// backends are the two ISA-L inflaters: the igzip process and, when built
// in (-tags isal), the library in process.
func backends(t testing.TB) map[string]Gzip {
	return map[string]Gzip{
		"igzip": {Igzip: testutil.RequireTool(t, "igzip"), MinSize: -1},
		"ISA-L": isal(t),
	}
}

// isal is the in-process ISA-L inflater; the test fails in CI (skips
// elsewhere) when it is not built in.
func isal(t testing.TB) Gzip {
	t.Helper()
	if !Linked() {
		testutil.Missing(t, "ISA-L built in (go test -tags isal, with Debian's libisal-dev)")
	}
	return Gzip{Isal: true}
}

// member is a gzip member with every optional header field the writer can
// set (extra field, name, comment).
func member(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Name, w.Comment, w.Extra = "layer.tar", "a comment", []byte{'W', 'D', 3, 0, 1, 2, 3}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withHeaderCRC sets FHCRC on a plain 10-byte-header member and inserts the
// header's CRC-16 (the writer never sets it).
func withHeaderCRC(m []byte, ok bool) []byte {
	h := bytes.Clone(m[:10])
	h[3] |= flagHCRC
	c := crc32.ChecksumIEEE(h)
	if !ok {
		c ^= 1
	}
	return append(append(h, byte(c), byte(c>>8)), m[10:]...)
}

// TestISAL: each ISA-L inflater's output is taken only when it is certainly
// what the in-process inflater gives; every other case ends in ErrRetry,
// and the in-process inflater then gives its usual answer.
func TestISAL(t *testing.T) {
	data := payload()
	good := gz(t, data)
	small := gz(t, []byte("hello\n"))
	crc := bytes.Clone(good)
	crc[len(crc)-6] ^= 0xff
	isize := bytes.Clone(good)
	isize[len(isize)-1] ^= 0x01
	body := bytes.Clone(good)
	body[len(body)/2] ^= 0x55
	tests := map[string]struct {
		in        []byte
		inProcErr bool // what the in-process inflater says
		certain   bool // the answer must be taken (no ErrRetry) by the in-process ISA-L
	}{
		"one member":           {in: good, certain: true},
		"empty payload":        {in: gz(t, nil), certain: true},
		"two members":          {in: append(bytes.Clone(good), small...), certain: true},
		"header fields":        {in: append(member(t, data[:100000]), member(t, data[100000:])...), certain: true},
		"header crc":           {in: withHeaderCRC(small, true), certain: true},
		"bad header crc":       {in: withHeaderCRC(small, false), inProcErr: true},
		"trailing zeros":       {in: append(bytes.Clone(good), make([]byte, 4096)...), inProcErr: true},
		"trailing garbage":     {in: append(bytes.Clone(good), []byte("garbage after the stream")...), inProcErr: true},
		"truncated":            {in: good[:len(good)/2], inProcErr: true},
		"truncated trailer":    {in: good[:len(good)-4], inProcErr: true},
		"bad crc":              {in: crc, inProcErr: true},
		"bad length":           {in: isize, inProcErr: true},
		"corrupt body":         {in: body, inProcErr: true},
		"not gzip after magic": {in: append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{7}, 300<<10)...), inProcErr: true},
	}
	for bname, g := range backends(t) {
		for name, tc := range tests {
			t.Run(bname+"/"+name, func(t *testing.T) {
				want, werr := read(Gzip{}, tc.in)
				if (werr != nil) != tc.inProcErr {
					t.Fatalf("in process: err = %v, want error %v", werr, tc.inProcErr)
				}
				got, err := read(g, tc.in)
				switch {
				case errors.Is(err, ErrRetry):
					if tc.certain && (g.Isal || name == "one member" || name == "empty payload") {
						t.Fatalf("%s not trusted for a valid stream: %v", bname, err)
					}
				case err != nil:
					// Only the in-process header check may fail first.
					if !tc.inProcErr {
						t.Fatalf("%s: %v", bname, err)
					}
				case werr != nil:
					t.Fatalf("%s accepted what the in-process inflater refuses (%v)", bname, werr)
				case !bytes.Equal(got, want):
					t.Fatalf("%s output differs: %d bytes, want %d", bname, len(got), len(want))
				}
			})
		}
	}
}

// TestIsalSmallReads: output buffers smaller than ISA-L's window, and
// input that arrives a few bytes at a time, give the same bytes.
func TestIsalSmallReads(t *testing.T) {
	g := isal(t)
	data := payload()
	in := append(gz(t, data[:1<<20]), member(t, data[1<<20:])...)
	zr, err := g.NewReader(context.Background(), bufio.NewReaderSize(iotest.HalfReader(iotest.OneByteReader(bytes.NewReader(in))), 64))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var got bytes.Buffer
	buf := make([]byte, 1000)
	for {
		n, err := zr.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("got %d bytes, want %d (equal prefix: %v)", got.Len(), len(data), bytes.HasPrefix(data, got.Bytes()))
	}
}

// TestIsalCloseEarly: closing before the end frees ISA-L's state; reads
// after Close fail.
func TestIsalCloseEarly(t *testing.T) {
	g := isal(t)
	in := gz(t, payload())
	for range 100 {
		zr, err := g.NewReader(context.Background(), bufio.NewReaderSize(bytes.NewReader(in), 256<<10))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(zr, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		zr.Close()
		zr.Close()
		if _, err := zr.Read(make([]byte, 10)); err == nil {
			t.Fatal("read after Close succeeded")
		}
	}
}

func TestHeaderLen(t *testing.T) {
	plain := gz(t, []byte("x"))
	full := member(t, []byte("x"))
	tests := map[string]struct {
		in   []byte
		want int
	}{
		"plain":         {plain, 10},
		"fields":        {full, 10 + 2 + 7 + len("layer.tar") + 1 + len("a comment") + 1},
		"header crc":    {withHeaderCRC(plain, true), 12},
		"cut in name":   {full[:25], 0},
		"cut in extra":  {full[:14], 0},
		"not deflate":   {append([]byte{0x1f, 0x8b, 9}, plain[3:]...), 0},
		"not gzip":      {[]byte("hello, world"), 0},
		"short":         {plain[:9], 0},
		"crc cut short": {withHeaderCRC(plain, true)[:11], 0},
	}
	for name, tc := range tests {
		if got := headerLen(tc.in); got != tc.want {
			t.Errorf("%s: headerLen = %d, want %d", name, got, tc.want)
		}
	}
}

// TestSmallInProcess: under MinSize no process is started.
func TestSmallInProcess(t *testing.T) {
	g := Gzip{Igzip: "/nonexistent/igzip"} // starting it would fail
	got, err := read(g, gz(t, []byte("hello\n")))
	if err != nil || string(got) != "hello\n" {
		t.Fatalf("small stream: %q, %v", got, err)
	}
	if _, err := read(Gzip{Igzip: "/nonexistent/igzip", MinSize: -1}, gz(t, []byte("x"))); err == nil || !strings.Contains(err.Error(), "/nonexistent/igzip") {
		t.Fatalf("missing igzip: err = %v, want one naming it", err)
	}
}

// TestCloseEarly: closing before the end stops igzip and frees the input.
func TestCloseEarly(t *testing.T) {
	ig := Gzip{Igzip: testutil.RequireTool(t, "igzip"), MinSize: -1}
	in := gz(t, bytes.Repeat(payload(), 8))
	before := runtime.NumGoroutine()
	for range 5 {
		zr, err := ig.NewReader(context.Background(), bufio.NewReader(bytes.NewReader(in)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(zr, make([]byte, 1<<20)); err != nil {
			t.Fatal(err)
		}
		p := zr.(*proc)
		zr.Close()
		if p.cmd.ProcessState == nil {
			t.Fatal("igzip still running after Close")
		}
		if _, err := zr.Read(make([]byte, 10)); err == nil {
			t.Fatal("read after Close succeeded")
		}
	}
	time.Sleep(50 * time.Millisecond)
	if after := runtime.NumGoroutine(); after > before+2 {
		t.Fatalf("goroutines: %d before, %d after", before, after)
	}
}

// stalled is input that has sent its first bytes and then waits, as a
// stalled network stream does, until its context is done.
type stalled struct {
	ctx  context.Context
	head []byte
}

func (s *stalled) Read(p []byte) (int, error) {
	if len(s.head) > 0 {
		n := copy(p, s.head)
		s.head = s.head[n:]
		return n, nil
	}
	<-s.ctx.Done()
	return 0, s.ctx.Err()
}

// TestCancel: a cancelled context stops igzip and the read fails.
func TestCancel(t *testing.T) {
	ig := Gzip{Igzip: testutil.RequireTool(t, "igzip"), MinSize: -1}
	ctx, cancel := context.WithCancel(context.Background())
	in := gz(t, payload())
	zr, err := ig.NewReader(ctx, bufio.NewReader(&stalled{ctx: ctx, head: in[:len(in)/2]}))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(zr); done <- err }()
	time.Sleep(100 * time.Millisecond) // igzip has inflated the first half and waits
	cancel()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("cancelled read succeeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("igzip not stopped by the context")
	}
}

func TestChoose(t *testing.T) {
	look := func(string) (string, error) { return "/usr/bin/igzip", nil }
	none := func(string) (string, error) { return "", exec.ErrNotFound }
	tests := []struct {
		env  string
		look func(string) (string, error)
		want string
	}{
		{"", look, "/usr/bin/igzip"},
		{"auto", look, "/usr/bin/igzip"},
		{"", none, ""},
		{"off", look, ""},
		{"0", look, ""},
		{"/opt/isal/igzip", none, "/opt/isal/igzip"},
	}
	for _, tc := range tests {
		g := choose(tc.env, tc.look)
		want := tc.want
		auto := tc.env == "" || tc.env == "auto"
		if auto && Linked() {
			want = "" // the built-in ISA-L comes first
		}
		if g.Igzip != want || g.Isal != (auto && Linked()) || g.Klauspost {
			t.Errorf("WARDEN_IGZIP=%q: igzip %q, in-process ISA-L %v, klauspost %v; want %q, %v, false", tc.env, g.Igzip, g.Isal, g.Klauspost, want, auto && Linked())
		}
	}
	if g := choose("klauspost", look); g != (Gzip{Klauspost: true}) || g.Name() != "klauspost/compress" {
		t.Errorf("WARDEN_IGZIP=klauspost: %+v (%s)", g, g.Name())
	}
	if g := choose("off", look); g.Name() != "Go (pkg/inflate/fast)" {
		t.Errorf("WARDEN_IGZIP=off: %s", g.Name())
	}
}

// TestGoInflaters: package fast and klauspost/compress give the same
// errors and, without one, the same output on the cases of TestISAL's
// kind. Before an error, each gives a prefix of the same output: package
// fast inflates a truncated stream up to its last whole symbol,
// compress/flate may stop a few symbols before.
func TestGoInflaters(t *testing.T) {
	p := payload()
	one := gz(t, p)
	cases := map[string][]byte{
		"one":        one,
		"named":      member(t, p[:1000]),
		"two":        append(bytes.Clone(one), gz(t, []byte("second\n"))...),
		"truncated":  one[:len(one)/2],
		"no trailer": one[:len(one)-8],
		"bad crc":    append(bytes.Clone(one[:len(one)-8]), 1, 2, 3, 4, 5, 6, 7, 8),
		"trailing":   append(bytes.Clone(one), 0, 0),
		"empty":      nil,
	}
	for name, in := range cases {
		want, werr := read(Gzip{Klauspost: true}, in)
		got, err := read(Gzip{}, in)
		n := min(len(got), len(want))
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) || (err == nil && !bytes.Equal(got, want)) || !bytes.Equal(got[:n], want[:n]) {
			t.Errorf("%s: %d bytes, %v; klauspost: %d bytes, %v", name, len(got), err, len(want), werr)
		}
	}
}

// FuzzIgzipAgrees: on any input igzip's answer is either withdrawn
// (ErrRetry) or exactly the in-process inflater's output. The one case
// where igzip's answer stands and the in-process reader fails is data after
// the last gzip member that ends with a copy of that member's trailer:
// igzip ignores it (as GNU gzip and unpigz do), the in-process reader fails
// after the same output (see the package comment).
func FuzzIgzipAgrees(f *testing.F) {
	fuzzAgrees(f, Gzip{Igzip: testutil.RequireTool(f, "igzip"), MinSize: -1}, false)
}

// FuzzIsalAgrees: the same for ISA-L in process, which parses every
// member's header with the Go reader's rules and so has no exception: when
// its answer stands, the Go reader succeeds with the same bytes.
func FuzzIsalAgrees(f *testing.F) {
	fuzzAgrees(f, isal(f), true)
}

func fuzzAgrees(f *testing.F, ig Gzip, strict bool) {
	good := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	one := good([]byte("hello, layer\n"))
	f.Add(one)
	f.Add(append(bytes.Clone(one), one...))
	f.Add(append(bytes.Clone(one), 0, 0, 0))
	f.Add(one[:len(one)-3])
	f.Add(good(nil))
	var named bytes.Buffer
	w := gzip.NewWriter(&named)
	w.Name, w.Comment, w.Extra = "n", "c", []byte{1, 2, 0, 0}
	w.Write([]byte("named member"))
	w.Close()
	f.Add(append(bytes.Clone(one), named.Bytes()...))
	f.Fuzz(func(t *testing.T, in []byte) {
		want, werr := read(Gzip{}, in)
		got, err := read(ig, in)
		switch {
		case errors.Is(err, ErrRetry):
		case err != nil:
			if werr == nil {
				t.Fatalf("ISA-L failed (%v) where the in-process inflater did not", err)
			}
		case !bytes.Equal(got, want):
			t.Fatalf("ISA-L output differs: %d bytes, want %d (in process: %v)", len(got), len(want), werr)
		case werr != nil && strict:
			t.Fatalf("ISA-L accepted what the Go reader refuses (%v)", werr)
		case werr != nil && !errors.Is(werr, gzip.ErrHeader) && !errors.Is(werr, io.ErrUnexpectedEOF):
			// Only what follows the stream may differ (a next header that is not one).
			t.Fatalf("ISA-L accepted what the in-process inflater refuses (%v)", werr)
		}
	})
}

// BenchmarkInflaters inflates the same 32 MiB gzip stream with each
// inflater (the igzip process and the built-in ISA-L when there).
func BenchmarkInflaters(b *testing.B) {
	data := bytes.Repeat(payload(), 8)
	var zb bytes.Buffer
	w := gzip.NewWriter(&zb)
	w.Write(data)
	w.Close()
	in := zb.Bytes()
	gs := map[string]Gzip{"go": {}}
	if p, err := exec.LookPath("igzip"); err == nil {
		gs["igzip-process"] = Gzip{Igzip: p, MinSize: -1}
	}
	if Linked() {
		gs["isal"] = Gzip{Isal: true}
	}
	buf := make([]byte, 256<<10)
	for name, g := range gs {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				zr, err := g.NewReader(context.Background(), bufio.NewReaderSize(bytes.NewReader(in), 256<<10))
				if err != nil {
					b.Fatal(err)
				}
				n, err := io.CopyBuffer(io.Discard, zr, buf)
				zr.Close()
				if err != nil || n != int64(len(data)) {
					b.Fatalf("%d bytes, %v", n, err)
				}
			}
		})
	}
}
