package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Failed logins cost a full bcrypt each, so they are bounded twice: a limiter
// per client address and per user name answers 429 with Retry-After once a
// key has failed too often (backoff doubling up to a ceiling), and the bcrypt
// comparisons themselves run on a small fixed number of slots with a bounded
// queue, so that however many wrong passwords arrive, the other cores keep
// serving callers whose credentials are already verified (cached) or who hold
// tokens.

// Defaults of Config's limiter and pool fields.
const (
	defaultFreeFailures = 5
	defaultBackoff      = time.Second
	defaultMaxBackoff   = 5 * time.Minute
	failureWindow       = 15 * time.Minute // failures older than this are forgotten
	maxLimiterKeys      = 100_000
)

type failures struct {
	n     int
	last  time.Time // last failure
	until time.Time // blocked until
}

// limiter counts failed logins by key ("ip:…", "user:…").
type limiter struct {
	free       int
	base, max  time.Duration
	now        func() time.Time
	mu         sync.Mutex
	m          map[string]*failures
	maxEntries int
}

func newLimiter(free int, base, max time.Duration) *limiter {
	if free <= 0 {
		free = defaultFreeFailures
	}
	if base <= 0 {
		base = defaultBackoff
	}
	if max <= 0 {
		max = defaultMaxBackoff
	}
	if max < base {
		max = base
	}
	return &limiter{free: free, base: base, max: max, now: time.Now, m: map[string]*failures{}, maxEntries: maxLimiterKeys}
}

// wait is how long the keys are still blocked (0: not blocked).
func (l *limiter) wait(keys ...string) time.Duration {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	var w time.Duration
	for _, k := range keys {
		if f := l.m[k]; f != nil && f.until.After(now) && f.until.Sub(now) > w {
			w = f.until.Sub(now)
		}
	}
	return w
}

// fail records a failed login for each key: past the free failures, each
// one blocks the key for base, 2·base, 4·base … up to max.
func (l *limiter) fail(keys ...string) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		f := l.m[k]
		if f == nil {
			if len(l.m) >= l.maxEntries {
				l.prune(now)
				if len(l.m) >= l.maxEntries {
					continue // full of blocked keys: the hashing slots still bound the cost
				}
			}
			f = &failures{}
			l.m[k] = f
		}
		if now.Sub(f.last) > failureWindow {
			f.n = 0
		}
		f.n++
		f.last = now
		if over := f.n - l.free; over > 0 {
			d := l.max
			if over <= 30 && l.base<<(over-1) < l.max {
				d = l.base << (over - 1)
			}
			f.until = now.Add(d)
		}
	}
}

// reset forgets the keys' failures (after a successful login).
func (l *limiter) reset(keys ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, k := range keys {
		delete(l.m, k)
	}
}

// prune drops keys that are neither blocked nor recently failed; when that
// is not enough, every key that is not blocked.
func (l *limiter) prune(now time.Time) {
	for k, f := range l.m {
		if !f.until.After(now) && now.Sub(f.last) > failureWindow {
			delete(l.m, k)
		}
	}
	if len(l.m) < l.maxEntries {
		return
	}
	for k, f := range l.m {
		if !f.until.After(now) {
			delete(l.m, k)
		}
	}
}

// clientKey is the limiter key of a request's peer: its IP address, an IPv6
// address by its /64 (one host usually holds the whole prefix). Forwarding
// headers are not trusted.
func clientKey(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return "ip:" + host
	}
	if ip4 := ip.To4(); ip4 != nil {
		return "ip:" + ip4.String()
	}
	return "ip:" + ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// userKey is the limiter key of a user name; long names (up to the header
// size limit, chosen by whoever sends them) are kept as their hash.
func userKey(user string) string {
	if len(user) <= 64 {
		return "user:" + user
	}
	sum := sha256.Sum256([]byte(user))
	return "user#" + hex.EncodeToString(sum[:])
}

// hashPool bounds concurrent bcrypt comparisons to a fixed number of slots;
// at most queue callers wait for one, the rest are turned away at once.
type hashPool struct {
	slots   chan struct{}
	queue   int64
	waiting atomic.Int64
}

func newHashPool(workers, queue int) *hashPool {
	if workers <= 0 {
		workers = 1
	}
	if queue <= 0 {
		queue = 16 * workers
	}
	return &hashPool{slots: make(chan struct{}, workers), queue: int64(queue)}
}

var errPoolFull = &poolError{"too many logins are being checked; try again shortly"}

type poolError struct{ msg string }

func (e *poolError) Error() string { return e.msg }

// do runs fn in a slot; errPoolFull when the queue is full, ctx.Err() when
// the caller gives up while waiting.
func (p *hashPool) do(ctx context.Context, fn func()) error {
	select {
	case p.slots <- struct{}{}:
	default:
		if p.waiting.Add(1) > p.queue {
			p.waiting.Add(-1)
			return errPoolFull
		}
		select {
		case p.slots <- struct{}{}:
			p.waiting.Add(-1)
		case <-ctx.Done():
			p.waiting.Add(-1)
			return ctx.Err()
		}
	}
	defer func() { <-p.slots }()
	fn()
	return nil
}
