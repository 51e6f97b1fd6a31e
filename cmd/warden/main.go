// Command warden scans container images for vulnerabilities, writes SBOMs,
// signs and verifies images, checks them against a policy and serves a registry.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := startProfile()
	err := newRootCmd().ExecuteContext(ctx)
	stopProfile()
	stop()
	os.Exit(exitCode(err))
}

// startProfile writes a CPU profile to $WARDEN_CPUPROFILE when it is set (for
// the speed work in bench/; go tool pprof reads it). It returns the stop function.
func startProfile() func() {
	path := os.Getenv("WARDEN_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "warden: WARDEN_CPUPROFILE:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "warden: WARDEN_CPUPROFILE:", err)
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
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

func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ee *exitErr
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "warden:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "warden:", err)
	return exitError
}
