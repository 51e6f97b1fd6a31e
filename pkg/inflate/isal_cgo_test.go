//go:build cgo && isal

package inflate

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// TestIsalLeavesNoVectorState: each ISA-L step returns with the upper halves
// of the vector registers 0-15 not in use (XINUSE bit 2, YMM_Hi128, and bit
// 6, ZMM_Hi256), so the legacy SSE code that runs next on the thread
// (SHA-256 with SHA-NI) pays no AVX-SSE transition penalty. (Registers 16-31
// and the mask registers, bits 5 and 7, play no part in it.)
func TestIsalLeavesNoVectorState(t *testing.T) {
	r, err := newIsal(bufio.NewReaderSize(bytes.NewReader(gz(t, payload())), 256<<10))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ir := r.(*isalReader)
	ir.probe = true
	buf := make([]byte, 64<<10)
	steps := 0
	for {
		n, err := ir.Read(buf)
		if n > 0 {
			steps++
			switch {
			case ir.xinuse < 0:
				t.Skip("this CPU does not report the register state in use (no XGETBV with ECX=1)")
			case ir.xinuse&(1<<2|1<<6) != 0:
				t.Fatalf("step %d returned with XINUSE %#x: upper halves of the vector registers (bit 2 or 6) left in use", steps, ir.xinuse)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if steps < 10 {
		t.Fatalf("%d steps: the payload is too small to tell", steps)
	}
}
