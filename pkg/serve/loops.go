package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"time"

	"github.com/wardensec/warden/pkg/registry"
	"github.com/wardensec/warden/pkg/registry/auth"
	"github.com/wardensec/warden/pkg/registry/gc"
	"github.com/wardensec/warden/pkg/vulndb"
)

// reloadOnSIGHUP reloads the htpasswd file on each signal on hup until ctx
// ends; a file that does not load keeps the users loaded before.
func reloadOnSIGHUP(ctx context.Context, hup chan os.Signal, au *auth.Auth, file string, stderr io.Writer) {
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if err := au.ReloadHtpasswd(file); err != nil {
				fmt.Fprintf(stderr, "warden serve: SIGHUP: %v\n", err)
			} else {
				fmt.Fprintf(stderr, "warden serve: SIGHUP: reloaded %s\n", file)
			}
		}
	}
}

// watchDB re-queues every scanned image when the vulnerability database
// changes (`warden db update`): the workers re-match them from the layer cache.
func watchDB(ctx context.Context, reg *registry.Registry, dbPath string, every time.Duration, log *slog.Logger) {
	built := func() time.Time {
		db, err := vulndb.Open(dbPath)
		if err != nil {
			return time.Time{}
		}
		defer db.Close()
		return db.Built()
	}
	last := built()
	ticks(ctx, every, func() {
		b := built()
		if b.IsZero() || b.Equal(last) {
			return
		}
		last = b
		// Once across the replicas sharing the metadata database.
		n, err := reg.RescanOnce(ctx, b.UTC().Format(time.RFC3339Nano))
		log.Info("warden serve: vulnerability database changed, rescanning", "built", b, "images", n, "err", err)
	})
}

// onlineGC runs gc.Online every interval, on one replica only per interval.
func onlineGC(ctx context.Context, reg *registry.Registry, every, grace time.Duration, log *slog.Logger) {
	ticks(ctx, every, func() {
		key := fmt.Sprintf("gc:%d", time.Now().Truncate(every).Unix())
		if first, err := reg.Meta().Once(ctx, key); err != nil || !first {
			return
		}
		st, err := gc.Online(ctx, reg.Store(), reg.Meta(), gc.OnlineOptions{Grace: grace, Logger: log})
		log.Info("warden serve: online garbage collection", "deleted", st.Deleted, "bytes", st.DeletedBytes, "kept", st.Kept, "err", err)
	})
}

// ticks calls fn every interval until ctx ends.
func ticks(ctx context.Context, every time.Duration, fn func()) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}
