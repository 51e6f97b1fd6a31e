// Command authflood measures what a flood of wrong passwords does to the
// other users of `warden serve`: it starts the given warden binary with an
// htpasswd file (bcrypt cost 10, Go's default), lets one authenticated client
// (credentials verified once, then cached by the server) issue requests back
// to back, first alone and then while -c goroutines send wrong passwords for
// -d, and prints the client's latency percentiles, the attack's answers by
// status, and the server's CPU time (from /proc) in each phase; a last phase
// runs the attack without the client, for the attack's own CPU cost. The attack
// runs in a process of its own (this binary again, with -attack), so that its
// goroutines do not share a Go scheduler with the measured client.
//
//	go run ./bench/cmd/authflood -warden /tmp/warden [-c 200] [-d 10s]
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	bin := flag.String("warden", "", "warden binary to run (`warden serve`)")
	conc := flag.Int("c", 200, "concurrent wrong-password requests")
	dur := flag.Duration("d", 10*time.Second, "attack duration")
	idle := flag.Duration("idle", 3*time.Second, "measuring time before the attack")
	attack := flag.String("attack", "", "internal: run the attack against this base URL")
	flag.Parse()
	if *attack != "" {
		runAttack(*attack, *conc, *dur)
		return
	}
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "authflood: -warden BINARY is required")
		os.Exit(2)
	}
	if err := run(*bin, *conc, *dur, *idle); err != nil {
		fmt.Fprintln(os.Stderr, "authflood:", err)
		os.Exit(1)
	}
}

func run(bin string, conc int, dur, idle time.Duration) error {
	dir, err := os.MkdirTemp("", "authflood")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	hash, err := bcrypt.GenerateFromPassword([]byte("alice-pw"), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	users := filepath.Join(dir, "htpasswd")
	if err := os.WriteFile(users, []byte("alice:"+string(hash)+"\n"), 0o600); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := ln.Addr().String()
	ln.Close()
	srv := exec.Command(bin, "serve", "--addr", addr, "--root", filepath.Join(dir, "root"), "--htpasswd", users, "--no-scan")
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return err
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	base := "http://" + addr
	for start := time.Now(); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/v2/"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Since(start) > 30*time.Second {
			return fmt.Errorf("warden serve did not come up on %s", addr)
		}
	}

	client := &http.Client{Timeout: 60 * time.Second}
	get := func(pass string, c *http.Client) (int, error) {
		req, _ := http.NewRequest("GET", base+"/v2/_catalog", nil)
		req.SetBasicAuth("alice", pass)
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if code, err := get("alice-pw", client); err != nil || code != 200 {
		return fmt.Errorf("authenticated client: %d %v", code, err)
	}
	// measure runs the authenticated client until stop closes.
	measure := func(stop <-chan struct{}) (lat []time.Duration, errs int) {
		for {
			select {
			case <-stop:
				return lat, errs
			default:
			}
			t := time.Now()
			code, err := get("alice-pw", client)
			if err != nil || code != 200 {
				errs++
				continue
			}
			lat = append(lat, time.Since(t))
		}
	}

	phase := func(name string, d time.Duration, attackers int, withClient bool) error {
		cpu0, err := cpuTime(srv.Process.Pid)
		if err != nil {
			return err
		}
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var atk *exec.Cmd
		var atkOut strings.Builder
		if attackers > 0 {
			self, err := os.Executable()
			if err != nil {
				return err
			}
			atk = exec.Command(self, "-attack", base, "-c", strconv.Itoa(attackers), "-d", d.String())
			atk.Stdout, atk.Stderr = &atkOut, os.Stderr
			if err := atk.Start(); err != nil {
				return err
			}
		}
		stop := make(chan struct{})
		go func() { <-ctx.Done(); close(stop) }()
		start := time.Now()
		var lat []time.Duration
		var errs int
		if withClient {
			lat, errs = measure(stop)
		} else {
			<-stop
		}
		elapsed := time.Since(start)
		if atk != nil {
			if err := atk.Wait(); err != nil {
				return fmt.Errorf("attack process: %w", err)
			}
		}
		cpu1, err := cpuTime(srv.Process.Pid)
		if err != nil {
			return err
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		pct := func(p float64) time.Duration {
			if len(lat) == 0 {
				return 0
			}
			return lat[min(len(lat)-1, int(float64(len(lat))*p))]
		}
		cpu := cpu1 - cpu0
		fmt.Printf("%-7s %5.1fs  client: %5d ok (%d failed)  p50 %9s  p99 %9s  max %9s | attack: %s | server CPU %.2f s (%.2f cores)\n",
			name, elapsed.Seconds(), len(lat), errs, pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond),
			pct(1).Round(10*time.Microsecond), strings.TrimSpace(atkOut.String()), cpu.Seconds(), cpu.Seconds()/elapsed.Seconds())
		return nil
	}
	if err := phase("idle", idle, 0, true); err != nil {
		return err
	}
	if err := phase("attack", dur, conc, true); err != nil {
		return err
	}
	// The attack's own cost, without the client's requests in the CPU time.
	return phase("alone", dur, conc, false)
}

// runAttack keeps conc wrong-password requests in flight for d and prints
// the answers by status (requests still in flight at the end are not counted).
func runAttack(base string, conc int, d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var codes sync.Map
	var sent atomic.Int64
	var wg sync.WaitGroup
	c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conc + 1}}
	for i := 0; i < conc; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v2/_catalog", nil)
				req.SetBasicAuth("alice", "guess-"+strconv.Itoa(i)+"-"+strconv.Itoa(n))
				resp, err := c.Do(req)
				key := "error"
				if err == nil {
					resp.Body.Close()
					key = strconv.Itoa(resp.StatusCode)
				} else if ctx.Err() != nil {
					return
				}
				v, _ := codes.LoadOrStore(key, new(atomic.Int64))
				v.(*atomic.Int64).Add(1)
				sent.Add(1)
			}
		}(i)
	}
	wg.Wait()
	var by []string
	codes.Range(func(k, v any) bool {
		by = append(by, fmt.Sprintf("%s×%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	sort.Strings(by)
	fmt.Printf("%d answered %s\n", sent.Load(), strings.Join(by, " "))
}

// cpuTime is the user+system CPU time of a process (Linux /proc).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // fields from 3 on
	ut, err1 := strconv.ParseInt(f[11], 10, 64)              // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64)              // field 15
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	const hz = 100 // USER_HZ on Linux
	return time.Duration(ut+st) * time.Second / hz, nil
}
