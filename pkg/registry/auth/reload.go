package auth

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// SetHtpasswd replaces the users. Cached logins of users whose hash changed
// or who are gone stop working at once.
func (a *Auth) SetHtpasswd(h *Htpasswd) error {
	if h == nil {
		return errors.New("auth: no htpasswd users")
	}
	a.users.Store(h)
	return nil
}

// ReloadHtpasswd reads file and, when it is a valid htpasswd file with at
// least one user, replaces the users. On any error — unreadable, a line cut
// short, no users at all (a file truncated before being written again) — the
// users loaded before stay, and the error says why.
func (a *Auth) ReloadHtpasswd(file string) error {
	a.reloadMu.Lock()
	defer a.reloadMu.Unlock()
	old := a.users.Load().Len()
	h, err := LoadHtpasswd(file)
	if err == nil && h.Len() == 0 {
		err = fmt.Errorf("htpasswd %s: no users", file)
	}
	if err != nil {
		a.log.Warn("auth: htpasswd not reloaded, keeping the users loaded before", "file", file, "users", old, "err", err)
		return fmt.Errorf("%w (keeping the %d users loaded before)", err, old)
	}
	if err := a.SetHtpasswd(h); err != nil {
		return err
	}
	a.log.Info("auth: htpasswd reloaded", "file", file, "users", h.Len())
	return nil
}

// WatchHtpasswd reloads file when it changes, until ctx ends: it looks at the
// file's identity, size and modification time every interval (default 2s)
// and reloads once a change has held still for one interval, so a file being
// written is read when its writer is done (and if it is still incomplete,
// ReloadHtpasswd keeps the old users).
func (a *Auth) WatchHtpasswd(ctx context.Context, file string, every time.Duration) {
	if every <= 0 {
		every = 2 * time.Second
	}
	loaded, _ := os.Stat(file)
	var pending os.FileInfo
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fi, err := os.Stat(file)
		if err != nil { // e.g. between an editor's unlink and rename
			pending = nil
			continue
		}
		if sameFile(loaded, fi) {
			pending = nil
			continue
		}
		if pending == nil || !sameFile(pending, fi) {
			pending = fi // changed: wait for it to hold still
			continue
		}
		_ = a.ReloadHtpasswd(file) // logs; a bad file keeps the old users
		loaded, pending = fi, nil
	}
}

func sameFile(a, b os.FileInfo) bool {
	return a != nil && b != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}
