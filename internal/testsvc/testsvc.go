// Package testsvc starts real services for tests, never mocks: a throwaway
// PostgreSQL cluster (Debian's postgresql package: initdb + pg_ctl) and a
// SeaweedFS server with its S3 gateway (the `weed` binary .ci/weed.sh builds
// from the Go module proxy). Each is stopped by t.Cleanup. A missing service
// fails the test in CI and skips it elsewhere (internal/testutil).
package testsvc

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/wardensec/warden/internal/testutil"
)

// FreePort returns a TCP port on 127.0.0.1 nobody listens on (at the time of the call).
// It is below the kernel's ephemeral range: a server that binds its ports
// late (weed's S3 gateway binds last) lost one from that range to its own
// outgoing connections, which take their local ports there ("bind: address
// already in use", two registry tests in one CI run).
func FreePort(t testing.TB) int {
	t.Helper()
	lo := ephemeralLow()
	for range 200 {
		port := 10000 + rand.IntN(lo-10000)
		if l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			l.Close()
			return port
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// ephemeralLow is the first port of the kernel's range for outgoing
// connections (Linux's default when it cannot be read).
func ephemeralLow() int {
	lo := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				lo = n
			}
		}
	}
	return max(lo, 10001)
}

// PG is a running throwaway PostgreSQL cluster.
type PG struct {
	DSN  string // postgres://warden@127.0.0.1:PORT/warden?sslmode=disable
	Port int
	dir  string
	bin  string
	run  func(name string, args ...string) *exec.Cmd
}

func pgBin() string {
	if d := os.Getenv("WARDEN_PG_BIN"); d != "" {
		return d
	}
	ms, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(ms, func(i, j int) bool { // newest major version first
		a, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(ms[i]))))
		b, _ := strconv.Atoi(filepath.Base(filepath.Dir(filepath.Dir(ms[j]))))
		return a > b
	})
	if len(ms) > 0 {
		return filepath.Dir(ms[0])
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// Postgres starts a new cluster on 127.0.0.1 with a database "warden" owned by
// the trusted user "warden". initdb refuses to run as root, so as root the
// cluster runs as the "postgres" system user (the package creates it).
func Postgres(t testing.TB) *PG {
	t.Helper()
	bin := pgBin()
	if bin == "" {
		testutil.Missing(t, "PostgreSQL (apt-get install postgresql; or set WARDEN_PG_BIN)")
		return nil
	}
	dir, err := os.MkdirTemp("", "warden-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run := func(name string, args ...string) *exec.Cmd { return exec.Command(filepath.Join(bin, name), args...) }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			testutil.Missing(t, "the postgres system user (running as root, initdb needs another user)")
			return nil
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		run = func(name string, args ...string) *exec.Cmd {
			c := exec.Command(filepath.Join(bin, name), args...)
			c.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
			c.Dir = dir
			return c
		}
	}
	pg := &PG{dir: filepath.Join(dir, "data"), bin: bin, run: run}
	if out, err := run("initdb", "-D", pg.dir, "-U", "warden", "--auth=trust", "--locale=C", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	pg.Port = FreePort(t)
	pg.Start(t)
	t.Cleanup(func() { _ = pg.run("pg_ctl", "-D", pg.dir, "-m", "immediate", "-w", "stop").Run() })
	if out, err := run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-U", "warden", "warden").CombinedOutput(); err != nil {
		t.Fatalf("createdb: %v\n%s", err, out)
	}
	pg.DSN = fmt.Sprintf("postgres://warden@127.0.0.1:%d/warden?sslmode=disable", pg.Port)
	return pg
}

// CreateDB creates another database in the cluster and returns its DSN.
func (pg *PG) CreateDB(t testing.TB, name string) string {
	t.Helper()
	if out, err := pg.run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.Port), "-U", "warden", name).CombinedOutput(); err != nil {
		t.Fatalf("createdb %s: %v\n%s", name, err, out)
	}
	return fmt.Sprintf("postgres://warden@127.0.0.1:%d/%s?sslmode=disable", pg.Port, name)
}

// Start starts the server (again, after Stop).
func (pg *PG) Start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=200", pg.Port, filepath.Dir(pg.dir))
	if out, err := pg.run("pg_ctl", "-D", pg.dir, "-o", opts, "-l", filepath.Join(filepath.Dir(pg.dir), "log"), "-w", "start").CombinedOutput(); err != nil {
		log, _ := os.ReadFile(filepath.Join(filepath.Dir(pg.dir), "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
}

// Stop stops the server at once (as a crash would, for fault tests).
func (pg *PG) Stop(t testing.TB) {
	t.Helper()
	if out, err := pg.run("pg_ctl", "-D", pg.dir, "-m", "immediate", "-w", "stop").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// S3 is a running SeaweedFS server with its S3 gateway.
type S3 struct {
	Endpoint          string // http://127.0.0.1:PORT
	AccessKey, Secret string
	cmd               *exec.Cmd
	args              []string
	bin               string
	dir               string
}

// Weed returns the path of SeaweedFS's weed: $WARDEN_WEED, the newest build
// .ci/weed.sh cached under /var/cache/warden-ci, or weed on PATH.
func Weed(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("WARDEN_WEED"); p != "" {
		return p
	}
	cache := os.Getenv("WARDEN_CI_CACHE")
	if cache == "" {
		cache = "/var/cache/warden-ci"
	}
	if ms, _ := filepath.Glob(filepath.Join(cache, "weed-v*")); len(ms) > 0 {
		var best string
		var bt time.Time
		for _, m := range ms {
			if fi, err := os.Stat(m); err == nil && !strings.HasSuffix(m, ".tmp") && fi.ModTime().After(bt) {
				best, bt = m, fi.ModTime()
			}
		}
		if best != "" {
			return best
		}
	}
	if p, err := exec.LookPath("weed"); err == nil {
		return p
	}
	testutil.Missing(t, "SeaweedFS's weed (build it with .ci/weed.sh, or set WARDEN_WEED)")
	return ""
}

// SeaweedFS starts `weed server -s3` on 127.0.0.1 with one S3 identity.
func SeaweedFS(t testing.TB) *S3 {
	t.Helper()
	bin := Weed(t)
	if bin == "" {
		return nil
	}
	dir := t.TempDir()
	s := &S3{AccessKey: "wardentest", Secret: "wardentest-secret-key", bin: bin, dir: dir}
	cfg := fmt.Sprintf(`{"identities":[{"name":"warden","credentials":[{"accessKey":%q,"secretKey":%q}],"actions":["Admin","Read","Write","List","Tagging"]}]}`, s.AccessKey, s.Secret)
	if err := os.WriteFile(filepath.Join(dir, "s3.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	port := func() string { return strconv.Itoa(FreePort(t)) }
	s3port := port()
	s.Endpoint = "http://127.0.0.1:" + s3port
	s.args = []string{"server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-dir=" + dir,
		"-master.port=" + port(), "-master.port.grpc=" + port(),
		"-volume.port=" + port(), "-volume.port.grpc=" + port(),
		"-filer.port=" + port(), "-filer.port.grpc=" + port(),
		"-s3", "-s3.port=" + s3port, "-s3.port.grpc=" + port(), "-s3.config=" + filepath.Join(dir, "s3.json"),
		"-volume.max=0", "-master.volumeSizeLimitMB=64",
	}
	s.Start(t)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// Start starts the server (again, after Stop) and waits for its S3 port.
func (s *S3) Start(t testing.TB) {
	t.Helper()
	log, err := os.OpenFile(filepath.Join(s.dir, "weed.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	s.cmd = exec.Command(s.bin, s.args...)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting weed: %v", err)
	}
	// Ready when an object can be written and read back: that needs the whole
	// chain (S3 gateway, filer, master, a volume server with a volume).
	deadline := time.Now().Add(90 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		if lastErr = s.probe(); lastErr == nil {
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(s.dir, "weed.log"))
	s.Stop(t)
	t.Fatalf("weed server on %s not ready within 90 s (%v); its log:\n%s", s.Endpoint, lastErr, tail(b, 4000))
}

// probe writes and reads back an object in the bucket "probe".
func (s *S3) probe() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(s.AccessKey, s.Secret, ""), Region: "us-east-1", BucketLookup: minio.BucketLookupPath})
	if err != nil {
		return err
	}
	if ok, err := c.BucketExists(ctx, "probe"); err != nil {
		return err
	} else if !ok {
		if err := c.MakeBucket(ctx, "probe", minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
			return err
		}
	}
	if _, err := c.PutObject(ctx, "probe", "ready", strings.NewReader("ready"), 5, minio.PutObjectOptions{}); err != nil {
		return err
	}
	o, err := c.GetObject(ctx, "probe", "ready", minio.GetObjectOptions{})
	if err != nil {
		return err
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err == nil && string(b) != "ready" {
		err = fmt.Errorf("probe object read back as %q", b)
	}
	return err
}

// Stop kills the server (and its process group).
func (s *S3) Stop(t testing.TB) {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Env returns the AWS variables a registry process needs to reach this server.
func (s *S3) Env() []string {
	return []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey, "AWS_SECRET_ACCESS_KEY=" + s.Secret}
}

// SetEnv sets the AWS variables in this process for the test's duration.
func (s *S3) SetEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.Secret)
}

// URL returns the --storage value for bucket/prefix on this server.
func (s *S3) URL(bucket, prefix string) string {
	return "s3://" + bucket + "/" + prefix + "?endpoint=" + s.Endpoint + "&region=us-east-1"
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
