package testsvc

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wardensec/warden/internal/testutil"
)

// cached returns $env, else the newest file matching prefix+"*" under
// $WARDEN_CI_CACHE (default /var/cache/warden-ci), else name on PATH; a
// missing binary fails the test in CI and skips it elsewhere.
func cached(t testing.TB, env, prefix, name, how string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	cache := os.Getenv("WARDEN_CI_CACHE")
	if cache == "" {
		cache = "/var/cache/warden-ci"
	}
	var best string
	var bt time.Time
	ms, _ := filepath.Glob(filepath.Join(cache, prefix+"*"))
	for _, m := range ms {
		if fi, err := os.Stat(m); err == nil && !strings.HasSuffix(m, ".tmp") && fi.Mode()&0o111 != 0 && fi.ModTime().After(bt) {
			best, bt = m, fi.ModTime()
		}
	}
	if best != "" {
		return best
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	testutil.Missing(t, name+" ("+how+", or set "+env+")")
	return ""
}

// EtcdBin is $WARDEN_ETCD, the build .ci/etcd.sh cached, or etcd on PATH.
func EtcdBin(t testing.TB) string {
	return cached(t, "WARDEN_ETCD", "etcd-v", "etcd", "build it with .ci/etcd.sh")
}

// KubeAPIServerBin is $WARDEN_KUBE_APISERVER, the build .ci/kube.sh cached,
// or kube-apiserver on PATH.
func KubeAPIServerBin(t testing.TB) string {
	return cached(t, "WARDEN_KUBE_APISERVER", "kube-apiserver-v", "kube-apiserver", "build it with .ci/kube.sh")
}

// proc is a started program whose output goes to a log file; t.Cleanup kills
// its process group.
type proc struct {
	cmd *exec.Cmd
	log string
}

func start(t testing.TB, dir, logName, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{log: filepath.Join(dir, logName)}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	exited := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	return p
}

func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	return tail(b, 6000)
}

func (p *proc) exited() bool { return p.cmd.ProcessState != nil }

// Etcd is a running single-member etcd on 127.0.0.1.
type Etcd struct {
	URL string // http://127.0.0.1:PORT
}

// StartEtcd starts etcd with a temporary data directory and waits for /health.
func StartEtcd(t testing.TB) *Etcd {
	t.Helper()
	bin := EtcdBin(t)
	if bin == "" {
		return nil
	}
	dir := t.TempDir()
	client, peer := "http://127.0.0.1:"+strconv.Itoa(FreePort(t)), "http://127.0.0.1:"+strconv.Itoa(FreePort(t))
	p := start(t, dir, "etcd.log", bin, "--name", "warden-test", "--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "warden-test="+peer,
		"--unsafe-no-fsync", "--log-level", "warn")
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(client + "/health")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 && bytes.Contains(b, []byte(`"health":"true"`)) {
				return &Etcd{URL: client}
			}
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("etcd (%s) not healthy at %s: %v; its log:\n%s", bin, client, err, p.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// KubeAPIServer is a running kube-apiserver on 127.0.0.1 and a client of it
// authenticated as a member of system:masters (a client certificate).
type KubeAPIServer struct {
	URL    string // https://127.0.0.1:PORT
	Client *http.Client
	p      *proc
}

// StartKubeAPIServer starts kube-apiserver on etcd: a serving certificate and
// a client CA made here, service-account keys made here, authorization
// AlwaysAllow, and the admission plugins named (the webhook plugins are on
// by default). It waits for /readyz.
func StartKubeAPIServer(t testing.TB, etcd *Etcd) *KubeAPIServer {
	t.Helper()
	bin := KubeAPIServerBin(t)
	if bin == "" || etcd == nil {
		return nil
	}
	dir := t.TempDir()
	ca, caKey := newCA(t, "warden test kube CA")
	serving := leaf(t, ca, caKey, "kube-apiserver", []string{"localhost", "kubernetes.default.svc"}, x509.ExtKeyUsageServerAuth, nil)
	clientCert := leaf(t, ca, caKey, "warden-test-admin", nil, x509.ExtKeyUsageClientAuth, []string{"system:masters"})
	write := func(name string, blocks ...*pem.Block) string {
		var b bytes.Buffer
		for _, bl := range blocks {
			pem.Encode(&b, bl)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("ca.crt", &pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	saPub, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	port := FreePort(t)
	url := "https://127.0.0.1:" + strconv.Itoa(port)
	p := start(t, dir, "kube-apiserver.log", bin,
		"--etcd-servers", etcd.URL,
		"--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1", "--secure-port", strconv.Itoa(port),
		// the "kubernetes" Service's endpoints may not be a loopback address,
		// so nothing reconciles them (as k8s.io/kubernetes' own test server does)
		"--endpoint-reconciler-type", "none",
		"--tls-cert-file", write("serving.crt", &pem.Block{Type: "CERTIFICATE", Bytes: serving.Certificate[0]}),
		"--tls-private-key-file", write("serving.key", keyBlock(t, serving.PrivateKey)),
		"--client-ca-file", caFile,
		"--authorization-mode", "AlwaysAllow",
		"--service-account-issuer", "https://kubernetes.default.svc",
		"--service-account-key-file", write("sa.pub", &pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
		"--service-account-signing-key-file", write("sa.key", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
		"--service-cluster-ip-range", "10.96.0.0/24",
		"--enable-admission-plugins", "NamespaceLifecycle,ServiceAccount,MutatingAdmissionWebhook,ValidatingAdmissionWebhook",
		"--cert-dir", filepath.Join(dir, "certs"),
		"--enable-priority-and-fairness=false",
		"-v", "1")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	k := &KubeAPIServer{URL: url, p: p, Client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{clientCert}}}}}
	deadline := time.Now().Add(3 * time.Minute)
	var last string
	for {
		res, err := k.Client.Get(url + "/readyz")
		if err == nil {
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				return k
			}
			last = res.Status + ": " + string(b)
		} else {
			last = err.Error()
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("kube-apiserver (%s) not ready at %s: %s; its log:\n%s", bin, url, last, p.tail())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// Log is the tail of the API server's log, for failure messages.
func (k *KubeAPIServer) Log() string { return k.p.tail() }

// Response is an API server answer: the status, the body and the Warning
// headers (admission warnings come back as `299 - "text"`).
type Response struct {
	Code     int
	Body     []byte
	Warnings []string
}

// Do sends a JSON request (body may be nil) to path on the API server.
func (k *KubeAPIServer) Do(ctx context.Context, method, path string, body any) (*Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, k.URL+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	res, err := k.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	r := &Response{Code: res.StatusCode, Body: b}
	for _, w := range res.Header.Values("Warning") {
		// RFC 7234 warn-code warn-agent "warn-text": 299 - "text"
		if _, rest, ok := strings.Cut(w, ` - "`); ok {
			w = strings.TrimSuffix(rest, `"`)
			w = strings.ReplaceAll(w, `\"`, `"`)
		}
		r.Warnings = append(r.Warnings, w)
	}
	return r, nil
}

func newCA(t testing.TB, cn string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

func leaf(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey, cn string, dns []string, usage x509.ExtKeyUsage, orgs []string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: orgs},
		DNSNames: dns, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func keyBlock(t testing.TB, k any) *pem.Block {
	t.Helper()
	b, err := x509.MarshalECPrivateKey(k.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "EC PRIVATE KEY", Bytes: b}
}
