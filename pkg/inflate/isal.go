//go:build cgo && isal

package inflate

/*
#cgo LDFLAGS: -lisal
#include <stdint.h>
#include <stdlib.h>
#include <isa-l/igzip_lib.h>
#if defined(__x86_64__)
#include <cpuid.h>
#endif

// The state lives in C memory. It holds the Go buffers of one call only:
// step clears them before it returns (cgo's pointer rules), and ISA-L keeps
// the window it needs in the state itself (igzip reuses one output buffer
// the same way).
static struct inflate_state *warden_isal_new(void) {
	struct inflate_state *s = malloc(sizeof(struct inflate_state));
	if (s) {
		isal_inflate_init(s);
		s->crc_flag = ISAL_GZIP_NO_HDR_VER;
	}
	return s;
}

static void warden_isal_reset(struct inflate_state *s) {
	isal_inflate_reset(s);
	s->crc_flag = ISAL_GZIP_NO_HDR_VER;
}

// warden_zeroupper clears the upper halves of the vector registers, which
// ISA-L's AVX2/AVX-512 inflate code leaves in use. Without it the Go code that
// runs next on this thread pays an AVX-SSE transition penalty on each legacy
// SSE instruction: SHA-256 with SHA-NI hashed a layer about 30 times slower
// (45 MB/s against 1.3 GB/s on a Xeon VM; `warden sbom` of the 6 GB image of
// bench/big5g.sh took 88 s, 175 s of CPU, against 10 s with this).
// warden_avx is set once by warden_cpu_init (called through a sync.Once:
// a static binary may run no C constructors, and the CPU check is cpuid, a
// VM exit).
static int warden_avx;

static void warden_cpu_init(void) {
#if defined(__x86_64__)
	__builtin_cpu_init();
	warden_avx = __builtin_cpu_supports("avx");
#endif
}

static void warden_zeroupper(void) {
#if defined(__x86_64__)
	if (warden_avx) {
		__asm__ volatile("vzeroupper" ::: "memory");
	}
#endif
}

// warden_xinuse is XGETBV(1), the register state components in use (bit 2:
// the upper halves of YMM0-15; bit 6: those of ZMM0-15), or -1 when the CPU
// cannot tell. For TestIsalLeavesNoVectorState.
static long long warden_xinuse(void) {
#if defined(__x86_64__)
	unsigned int a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || __get_cpuid_max(0, 0) < 0xd) {
		return -1;
	}
	__cpuid_count(0xd, 1, a, b, c, d);
	if (!(a & (1 << 2))) {
		return -1;
	}
	unsigned int lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(1));
	return ((long long)hi << 32) | lo;
#else
	return -1;
#endif
}

static int warden_isal_step(struct inflate_state *s, uint8_t *in, uint32_t in_len, uint8_t *out, uint32_t out_len,
	uint32_t *used, uint32_t *wrote, int *finished, long long *xinuse) {
	s->next_in = in;
	s->avail_in = in_len;
	s->next_out = out;
	s->avail_out = out_len;
	int ret = isal_inflate(s);
	warden_zeroupper();
	if (xinuse) {
		*xinuse = warden_xinuse();
	}
	*used = in_len - s->avail_in;
	*wrote = out_len - s->avail_out;
	*finished = s->block_state == ISAL_BLOCK_FINISH;
	s->next_in = NULL;
	s->avail_in = 0;
	s->next_out = NULL;
	s->avail_out = 0;
	return ret;
}
*/
import "C"

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"unsafe"
)

// linked says that ISA-L's inflater is built in (the isal build tag).
const linked = true

// isalReader inflates a gzip stream in process with ISA-L: each member's
// header is parsed here (with the in-process reader's rules), its deflate
// data and trailer by ISA-L, which checks the CRC-32; the length is checked
// here. Anything unexpected ends the output with ErrRetry, as igzip's does.
type isalReader struct {
	s        *C.struct_inflate_state
	br       *bufio.Reader
	inMember bool
	members  int
	size     uint32  // output of this member, mod 2^32 (ISIZE)
	tail     [8]byte // the last input bytes ISA-L used: a member's trailer at its end
	done     bool
	err      error

	// probe (tests): each step records XINUSE as it returns, in xinuse.
	probe  bool
	xinuse int64
}

// cpuInit runs warden_cpu_init once, before the first step.
var cpuInit sync.Once

func newIsal(br *bufio.Reader) (io.ReadCloser, error) {
	cpuInit.Do(func() { C.warden_cpu_init() })
	s := C.warden_isal_new()
	if s == nil {
		return nil, errors.New("gzip: ISA-L: out of memory")
	}
	return &isalReader{s: s, br: br}, nil
}

func (r *isalReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, r.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	p = p[:min(len(p), 1<<30)]
	for {
		if !r.inMember {
			if why := r.nextMember(); why != "" {
				return 0, r.finish(why)
			}
			if !r.inMember {
				return 0, r.finish("")
			}
		}
		if r.br.Buffered() == 0 {
			r.br.Peek(1) //nolint:errcheck // an error shows as no bytes buffered
		}
		in, _ := r.br.Peek(r.br.Buffered())
		if len(in) == 0 {
			return 0, r.finish("the stream ends inside a member")
		}
		var used, wrote C.uint32_t
		var finished C.int
		var xinuse *C.longlong
		if r.probe {
			xinuse = (*C.longlong)(&r.xinuse)
		}
		ret := C.warden_isal_step(r.s, (*C.uint8_t)(unsafe.Pointer(&in[0])), C.uint32_t(len(in)),
			(*C.uint8_t)(unsafe.Pointer(&p[0])), C.uint32_t(len(p)), &used, &wrote, &finished, xinuse)
		keepLast8(&r.tail, in[:used])
		r.br.Discard(int(used)) //nolint:errcheck // used <= buffered
		r.size += uint32(wrote)
		if ret < 0 {
			return int(wrote), r.finish(fmt.Sprintf("ISA-L: error %d", int(ret)))
		}
		if finished != 0 {
			r.inMember = false
			if binary.LittleEndian.Uint32(r.tail[4:]) != r.size {
				return int(wrote), r.finish("the trailer's length is not the member's")
			}
		}
		if wrote > 0 {
			return int(wrote), nil
		}
		if used == 0 && finished == 0 {
			return 0, r.finish("ISA-L made no progress")
		}
	}
}

// nextMember starts the next member at a gzip header, or leaves inMember
// false at the end of the input; it returns why the stream is not certain.
func (r *isalReader) nextMember() string {
	if _, err := r.br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) && r.members > 0 {
			return ""
		}
		return "no gzip member"
	}
	b, _ := r.br.Peek(r.br.Size())
	n := headerLen(b)
	if n <= 0 || !headerOK(r.br) {
		return "a gzip header that is not certain"
	}
	r.br.Discard(n) //nolint:errcheck // n <= len(b)
	C.warden_isal_reset(r.s)
	r.inMember, r.size = true, 0
	r.members++
	return ""
}

func (r *isalReader) finish(why string) error {
	r.done = true
	r.err = io.EOF
	if why != "" {
		r.err = fmt.Errorf("%w (%s)", ErrRetry, why)
	}
	r.free()
	return r.err
}

func (r *isalReader) free() {
	if r.s != nil {
		C.free(unsafe.Pointer(r.s))
		r.s = nil
	}
}

// Close frees ISA-L's state; it does not close the input.
func (r *isalReader) Close() error {
	if !r.done {
		r.done = true
		r.err = errors.New("gzip: reader closed")
	}
	r.free()
	return nil
}
