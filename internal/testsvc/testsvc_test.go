package testsvc

import (
	"net"
	"strconv"
	"testing"
)

// TestFreePort: the port is free and outside the range outgoing
// connections take their local ports from.
func TestFreePort(t *testing.T) {
	lo := ephemeralLow()
	for range 20 {
		p := FreePort(t)
		if p < 10000 || p >= lo {
			t.Fatalf("port %d, want one in [10000, %d)", p, lo)
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d: %v", p, err)
		}
		l.Close()
	}
}
