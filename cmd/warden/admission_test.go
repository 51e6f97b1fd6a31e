package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"go.yaml.in/yaml/v3"
	admissionv1 "k8s.io/api/admission/v1"
	admregv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/wardensec/warden/internal/testimage"
	"github.com/wardensec/warden/internal/testutil"
)

// writeTLS writes a CA (ca.crt) and a serving certificate for 127.0.0.1
// signed by it (tls.crt, tls.key) into dir.
func writeTLS(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "warden test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "warden-admission.warden.svc"},
		DNSNames: []string{"warden-admission.warden.svc", "localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	writeFile(t, filepath.Join(dir, "ca.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))
	writeFile(t, filepath.Join(dir, "tls.crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, filepath.Join(dir, "tls.key"), string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

// startAdmission runs `warden admission` in-process and waits for it.
func startAdmission(t *testing.T, addr string, pool *x509.CertPool, args ...string) *http.Client {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	root := newRootCmd()
	var out lockedBuffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"admission", "--addr", addr}, args...))
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("warden admission did not stop")
		}
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 60 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case err := <-done:
			t.Fatalf("warden admission exited: %v\n%s", err, out.String())
		default:
		}
		if res, err := client.Get("https://" + addr + "/healthz"); err == nil {
			res.Body.Close()
			return client
		}
		if time.Now().After(deadline) {
			t.Fatalf("warden admission did not come up:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func admissionReview(t *testing.T, obj runtime.Object, gvk metav1.GroupVersionKind, ns string) []byte {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{UID: "0b6c1d2e", Kind: gvk, Namespace: ns, Name: "web",
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func postReview(t *testing.T, c *http.Client, url string, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	res, err := c.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var rev admissionv1.AdmissionReview
	if err := json.NewDecoder(res.Body).Decode(&rev); err != nil || rev.Response == nil {
		t.Fatalf("POST %s: %s: %v", url, res.Status, err)
	}
	if rev.Response.UID != "0b6c1d2e" {
		t.Errorf("response UID %q", rev.Response.UID)
	}
	return rev.Response
}

// admissionFixture is what the admission tests share: a `warden serve` on
// 127.0.0.1 holding a signed image, an unsigned one and a signed but
// vulnerable one (Alpine 3.19.4, CVE-2024-9143); a policy that wants
// release.pub's signature and at most MEDIUM under <reg>/prod/**; a serving
// certificate for 127.0.0.1 and its CA; and the `warden admission` arguments
// (namespace "audit" in warn mode).
type admissionFixture struct {
	reg, dir                 string
	signed, unsigned, alpine string
	pool                     *x509.CertPool
	args                     []string
}

func newAdmissionFixture(t *testing.T) *admissionFixture {
	t.Helper()
	state, _ := scanState(t, "alpine-secdb/v3.19")
	reg := startServe(t, "--root", t.TempDir(), "--no-scan")
	dir := t.TempDir()
	t.Setenv("WARDEN_PASSWORD", "pw")
	if _, stderr, code := runWardenCmd(t, "keygen", "--output-key-prefix", filepath.Join(dir, "release")); code != 0 {
		t.Fatalf("keygen: %s", stderr)
	}
	push := func(ref string, signed bool, img func() error) {
		t.Helper()
		if err := img(); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		if signed {
			if _, stderr, code := runWardenCmd(t, "sign", "--key", filepath.Join(dir, "release.key"), ref); code != 0 {
				t.Fatalf("sign %s: %s", ref, stderr)
			}
		}
	}
	write := func(ref string, content string) func() error {
		return func() error {
			rf, err := name.ParseReference(ref)
			if err != nil {
				return err
			}
			return remote.Write(rf, testimage.Image(t, nil, testimage.Layer(t, testimage.Reg("app/server", content))))
		}
	}
	signed, unsigned, alpine := reg+"/prod/app:1", reg+"/prod/unsigned:1", reg+"/prod/alpine:3.19.4"
	push(signed, true, write(signed, "\x7fELF signed"))
	push(unsigned, false, write(unsigned, "\x7fELF unsigned"))
	push(alpine, true, func() error {
		p, err := layout.FromPath(filepath.Join(testutil.RepoRoot(t), "testdata", "images", "alpine-3.19.4"))
		if err != nil {
			return err
		}
		idx, err := p.ImageIndex()
		if err != nil {
			return err
		}
		m, err := idx.IndexManifest()
		if err != nil {
			return err
		}
		img, err := idx.Image(m.Manifests[0].Digest)
		if err != nil {
			return err
		}
		rf, err := name.ParseReference(alpine)
		if err != nil {
			return err
		}
		return remote.Write(rf, img)
	})

	pool := writeTLS(t, dir)
	pol := filepath.Join(dir, "policy.yaml")
	writeFile(t, pol, "version: 1\ndefault: deny\nrules:\n  - name: prod\n    match: [\""+reg+"/prod/**\"]\n    signatures: {keys: [release.pub]}\n    vulnerabilities: {max_severity: MEDIUM}\n")
	writeFile(t, filepath.Join(dir, "admission.yaml"), "warn_namespaces: [audit]\ntimeout: 20s\ncache_ttl: 1m\n")
	return &admissionFixture{reg: reg, dir: dir, signed: signed, unsigned: unsigned, alpine: alpine, pool: pool,
		args: []string{"--tls-cert", filepath.Join(dir, "tls.crt"), "--tls-key", filepath.Join(dir, "tls.key"),
			"--policy", pol, "--config", filepath.Join(dir, "admission.yaml"), "--cache-dir", state}}
}

// TestAdmissionCommand: `warden admission` over HTTPS in front of a `warden
// serve` on 127.0.0.1: an unsigned image is denied with the reason, a signed
// one admitted and pinned to its digest by /mutate, a signed but vulnerable
// one (Alpine 3.19.4, CVE-2024-9143) denied by max_severity, and a namespace
// in warn mode admitted with a warning.
func TestAdmissionCommand(t *testing.T) {
	fx := newAdmissionFixture(t)
	signed, unsigned, alpine := fx.signed, fx.unsigned, fx.alpine
	addr := freeAddr(t)
	c := startAdmission(t, addr, fx.pool, fx.args...)

	pod := func(image string) (runtime.Object, metav1.GroupVersionKind) {
		return &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: "web"},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}}}, metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}
	}
	deploy := func(image string) (runtime.Object, metav1.GroupVersionKind) {
		return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: "web"},
				Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}}}}},
			metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	}
	base := "https://" + addr

	obj, gvk := pod(unsigned)
	r := postReview(t, c, base+"/validate", admissionReview(t, obj, gvk, "prod"))
	if r.Allowed || !strings.Contains(r.Result.Message, unsigned) || !strings.Contains(r.Result.Message, "signatures: the image is not signed") {
		t.Errorf("unsigned pod: %+v", r.Result)
	}
	obj, gvk = deploy(signed)
	r = postReview(t, c, base+"/mutate", admissionReview(t, obj, gvk, "prod"))
	var ops []struct{ Op, Path, Value string }
	if err := json.Unmarshal(r.Patch, &ops); err != nil || !r.Allowed || len(ops) != 1 ||
		ops[0].Op != "replace" || ops[0].Path != "/spec/template/spec/containers/0/image" || !strings.HasPrefix(ops[0].Value, signed+"@sha256:") {
		t.Errorf("signed deployment: allowed=%v patch=%s (%v)", r.Allowed, r.Patch, err)
	}
	obj, gvk = pod(alpine)
	r = postReview(t, c, base+"/validate", admissionReview(t, obj, gvk, "prod"))
	if r.Allowed || !strings.Contains(r.Result.Message, "CVE-2024-9143") || !strings.Contains(r.Result.Message, "vulnerabilities") {
		t.Errorf("vulnerable pod: %+v", r.Result)
	}
	t.Logf("vulnerable: %s", r.Result.Message)
	obj, gvk = pod(unsigned)
	r = postReview(t, c, base+"/validate", admissionReview(t, obj, gvk, "audit"))
	if !r.Allowed || !strings.Contains(strings.Join(r.Warnings, "\n"), "not signed") {
		t.Errorf("warn mode: allowed=%v warnings=%q", r.Allowed, r.Warnings)
	}
}

// TestAdmissionManifests: the printed YAML decodes into the Kubernetes types
// and says what the API server needs: both webhook paths, the CA bundle,
// failurePolicy Fail, every workload resource, RBAC to get secrets.
func TestAdmissionManifests(t *testing.T) {
	dir := t.TempDir()
	writeTLS(t, dir)
	out, stderr, code := runWardenCmd(t, "admission", "manifests", "--image", "registry.example.com/warden:1",
		"--ca-cert", filepath.Join(dir, "ca.crt"), "--warn-namespace", "staging")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ca, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	kinds := map[string]int{}
	dec := yaml.NewDecoder(strings.NewReader(out))
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			break
		}
		j, _ := json.Marshal(doc)
		kind, _ := doc["kind"].(string)
		kinds[kind]++
		switch kind {
		case "ValidatingWebhookConfiguration":
			var v admregv1.ValidatingWebhookConfiguration
			if err := json.Unmarshal(j, &v); err != nil {
				t.Fatal(err)
			}
			w := v.Webhooks[0]
			if *w.ClientConfig.Service.Path != "/validate" || !bytes.Equal(w.ClientConfig.CABundle, ca) || *w.FailurePolicy != admregv1.Fail ||
				*w.SideEffects != admregv1.SideEffectClassNone || w.AdmissionReviewVersions[0] != "v1" {
				t.Errorf("validating webhook: %+v", w)
			}
			var res []string
			for _, r := range w.Rules {
				res = append(res, r.Resources...)
			}
			if got := strings.Join(res, ","); got != "pods,pods/ephemeralcontainers,deployments,replicasets,statefulsets,daemonsets,jobs,cronjobs" {
				t.Errorf("resources %s", got)
			}
		case "MutatingWebhookConfiguration":
			var m admregv1.MutatingWebhookConfiguration
			if err := json.Unmarshal(j, &m); err != nil {
				t.Fatal(err)
			}
			if *m.Webhooks[0].ClientConfig.Service.Path != "/mutate" || *m.Webhooks[0].FailurePolicy != admregv1.Fail {
				t.Errorf("mutating webhook: %+v", m.Webhooks[0])
			}
		case "Deployment":
			var d appsv1.Deployment
			if err := json.Unmarshal(j, &d); err != nil {
				t.Fatal(err)
			}
			args := strings.Join(d.Spec.Template.Spec.Containers[0].Args, " ")
			if d.Spec.Template.Spec.Containers[0].Image != "registry.example.com/warden:1" || !strings.Contains(args, "--warn-namespace staging") {
				t.Errorf("deployment: %s", args)
			}
		case "ClusterRole":
			if !strings.Contains(string(j), `"resources":["secrets"]`) {
				t.Errorf("cluster role: %s", j)
			}
		}
	}
	for _, k := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment", "Service", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"} {
		if kinds[k] != 1 {
			t.Errorf("%d %s in the manifests", kinds[k], k)
		}
	}
	if _, stderr, code := runWardenCmd(t, "admission", "manifests", "--image", "x"); code == 0 || !strings.Contains(stderr, "--ca-cert") {
		t.Errorf("without --ca-cert: exit %d %q", code, stderr)
	}
}
