// Command warden scans container images for vulnerabilities, writes SBOMs,
// signs and verifies images, checks them against a policy and serves a registry.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile()
	err := newRootCmd().ExecuteContext(ctx)
	stopProfile()
	stop()
	os.Exit(exitCode(os.Stderr, err))
}

// startProfile writes a CPU profile to $WARDEN_CPUPROFILE, an execution
// trace to $WARDEN_TRACE and a heap profile at exit to $WARDEN_MEMPROFILE
// when they are set (for the speed work in bench/; go
// tool pprof and go tool trace read them). It returns the stop function.
func startProfile() func() {
	var stops []func()
	for _, p := range []struct {
		env   string
		start func(io.Writer) error
		stop  func()
	}{
		{"WARDEN_CPUPROFILE", pprof.StartCPUProfile, pprof.StopCPUProfile},
		{"WARDEN_TRACE", trace.Start, trace.Stop},
	} {
		path := os.Getenv(p.env)
		if path == "" {
			continue
		}
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "warden: %s: %v\n", p.env, err)
			continue
		}
		if err := p.start(f); err != nil {
			fmt.Fprintf(os.Stderr, "warden: %s: %v\n", p.env, err)
			f.Close()
			continue
		}
		stops = append(stops, func() { p.stop(); f.Close() })
	}
	if path := os.Getenv("WARDEN_MEMPROFILE"); path != "" {
		// the heap as the command ends: what it still holds (pprof's inuse_space)
		stops = append(stops, func() {
			f, err := os.Create(path)
			if err != nil {
				fmt.Fprintf(os.Stderr, "warden: WARDEN_MEMPROFILE: %v\n", err)
				return
			}
			defer f.Close()
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				fmt.Fprintf(os.Stderr, "warden: WARDEN_MEMPROFILE: %v\n", err)
			}
		})
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// Exit codes (documented in docs/exit-codes.md).
const (
	exitOK           = 0
	exitError        = 1  // bad arguments, unreadable input, missing database, unreachable registry
	exitFail         = 3  // scan --fail-on threshold reached; check: policy denied
	exitUnsigned     = 10 // verify: the image has no signature at all
	exitBadSignature = 11 // verify: signatures exist but none is valid for the given keys
)

// exitErr carries an exit code with an error; a nil err with a code means "print nothing".
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}
func (e *exitErr) Unwrap() error { return e.err }

// withCode wraps err (which may be nil) with an exit code.
func withCode(code int, err error) error { return &exitErr{code: code, err: err} }

// exitCode prints err to w as "warden: <message>" (docs/exit-codes.md)
// unless it is an exitErr without an error, and returns the exit code.
func exitCode(w io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitErr
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(w, "warden:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(w, "warden:", err)
	return exitError
}
