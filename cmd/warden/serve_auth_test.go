//go:build unix

package main

import (
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// TestServeHtpasswdReload: a user added to the htpasswd file of a running
// `warden serve` can log in at once after SIGHUP, and a user added without
// one once the file watcher has seen the change hold still.
func TestServeHtpasswdReload(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "htpasswd")
	users := func(names ...string) {
		t.Helper()
		var b strings.Builder
		for _, u := range names {
			h, _ := bcrypt.GenerateFromPassword([]byte(u+"-pw"), bcrypt.MinCost)
			b.WriteString(u + ":" + string(h) + "\n")
		}
		writeFile(t, file+".tmp", b.String())
		if err := os.Rename(file+".tmp", file); err != nil {
			t.Fatal(err)
		}
	}
	users("alice")
	addr := startServe(t, "--root", t.TempDir(), "--htpasswd", file, "--no-scan")
	login := func(user string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+"/v2/", nil)
		req.SetBasicAuth(user, user+"-pw")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if login("alice") != 200 || login("bob") != 401 {
		t.Fatal("before the change")
	}
	// Our own subscription too: were the server's missing, SIGHUP would end the test binary.
	mine := make(chan os.Signal, 1)
	signal.Notify(mine, syscall.SIGHUP)
	defer signal.Stop(mine)
	users("alice", "bob")
	start := time.Now()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for login("bob") != 200 {
		if time.Since(start) > 1500*time.Millisecond { // the watcher needs 2 s of stillness at least
			t.Fatal("bob cannot log in 1.5 s after SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	users("alice", "bob", "carol") // no signal: the watcher (2 s polls, a change must hold still for one)
	// Few attempts: each failed login counts towards the failed-login limiter.
	time.Sleep(4500 * time.Millisecond)
	for deadline := time.Now().Add(15 * time.Second); login("carol") != 200; time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatal("carol cannot log in 15 s after being added")
		}
	}
	if login("alice") != 200 {
		t.Error("alice lost")
	}
}
