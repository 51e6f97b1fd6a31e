// Package httpserve runs HTTP servers until a context ends: the one loop that
// `warden serve` (registry and metrics listeners), `warden admission` and
// `warden docker-authz` share.
package httpserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// Listener is one server to run on an open listener; with CertFile and
// KeyFile set it serves TLS.
type Listener struct {
	Server            *http.Server
	Listener          net.Listener
	CertFile, KeyFile string
}

// Run serves every Listener until ctx ends or one of them fails. On ctx's end
// it shuts them all down, giving requests in flight up to grace, and returns
// nil; when a server fails, it closes the others and returns that server's
// error, naming its address.
func Run(ctx context.Context, grace time.Duration, ls ...Listener) error {
	if len(ls) == 0 {
		return errors.New("httpserve: nothing to serve")
	}
	type result struct {
		i   int
		err error
	}
	// A server whose goroutine has not reached Serve yet tracks no listener
	// for Close or Shutdown to close: every listener is closed here at the end.
	defer func() {
		for _, l := range ls {
			_ = l.Listener.Close()
		}
	}()
	errc := make(chan result, len(ls))
	for i, l := range ls {
		go func() {
			var err error
			if l.CertFile != "" || l.KeyFile != "" {
				err = l.Server.ServeTLS(l.Listener, l.CertFile, l.KeyFile)
			} else {
				err = l.Server.Serve(l.Listener)
			}
			errc <- result{i, err}
		}()
	}
	select {
	case r := <-errc:
		for i, l := range ls {
			if i != r.i {
				_ = l.Server.Close()
			}
		}
		return fmt.Errorf("serving on %s: %w", ls[r.i].Listener.Addr(), r.err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	errs := make(chan error, len(ls))
	for _, l := range ls {
		go func() { errs <- l.Server.Shutdown(sctx) }()
	}
	for range ls {
		if err := <-errs; err != nil {
			// Past grace: drop what is still in flight.
			for _, l := range ls {
				_ = l.Server.Close()
			}
			break
		}
	}
	return nil
}
