package httpserve

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestRunUntilCancel: both servers answer; on cancel a request in flight
// completes within the grace period, then Run returns nil and nothing listens.
func TestRunUntilCancel(t *testing.T) {
	started := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		io.WriteString(w, "slow done")
	})
	fast := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "fast") })
	a, b := listen(t), listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, 5*time.Second, Listener{Server: &http.Server{Handler: slow}, Listener: a}, Listener{Server: &http.Server{Handler: fast}, Listener: b})
	}()
	resp, err := http.Get("http://" + b.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "fast" {
		t.Fatalf("second listener answered %q", body)
	}
	got := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + a.Addr().String())
		if err != nil {
			got <- err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		got <- string(b)
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if s := <-got; s != "slow done" {
		t.Errorf("request in flight at shutdown: %q, want it completed", s)
	}
	for _, ln := range []net.Listener{a, b} {
		if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Run returned", ln.Addr())
		}
	}
}

// TestRunFailure: a listener that fails ends Run with an error naming its
// address, and the other server is closed.
func TestRunFailure(t *testing.T) {
	good, bad := listen(t), listen(t)
	badAddr := bad.Addr().String()
	bad.Close() // Serve fails at once on a closed listener
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), time.Second, Listener{Server: &http.Server{Handler: http.NotFoundHandler()}, Listener: good},
			Listener{Server: &http.Server{Handler: http.NotFoundHandler()}, Listener: bad})
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), badAddr) || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Run: %v, want an error naming %s", err, badAddr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return when a listener failed")
	}
	if c, err := net.DialTimeout("tcp", good.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Errorf("the other listener %s still accepts connections", good.Addr())
	}
}

func TestRunNothing(t *testing.T) {
	if err := Run(context.Background(), time.Second); err == nil {
		t.Error("Run with no listener: no error")
	}
}
