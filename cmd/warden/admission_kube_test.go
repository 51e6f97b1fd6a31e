package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wardensec/warden/internal/testsvc"
)

// TestAdmissionKubeAPIServer: a real kube-apiserver (v1.37, built by
// .ci/kube.sh on an etcd built by .ci/etcd.sh) calls `warden admission` through
// the webhook configurations `warden admission manifests --url` prints. Pods
// and Deployments are created through the API server: an unsigned image is
// denied with Warden's reason, a signed one admitted with its image pinned to
// the digest (the stored object says so), a signed but vulnerable one denied
// by max_severity, and a namespace in warn mode admits with a warning that
// the API server passes on. No kubelet: the pods stay Pending.
func TestAdmissionKubeAPIServer(t *testing.T) {
	etcd := testsvc.StartEtcd(t)
	kube := testsvc.StartKubeAPIServer(t, etcd)
	fx := newAdmissionFixture(t)
	addr := freeAddr(t)
	startAdmission(t, addr, fx.pool, fx.args...)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	do := func(method, path string, body any) *testsvc.Response {
		t.Helper()
		r, err := kube.Do(ctx, method, path, body)
		if err != nil {
			t.Fatalf("%v\nkube-apiserver log:\n%s", err, kube.Log())
		}
		return r
	}
	create := func(path string, body any) {
		t.Helper()
		if r := do("POST", path, body); r.Code != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", path, r.Code, r.Body)
		}
	}
	for _, ns := range []string{"warden", "prod", "audit"} {
		create("/api/v1/namespaces", corev1.Namespace{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Namespace"}, ObjectMeta: metav1.ObjectMeta{Name: ns}})
		// The ServiceAccount admission plugin wants the namespace's default
		// account, which kube-controller-manager (not run here) would make.
		create("/api/v1/namespaces/"+ns+"/serviceaccounts", corev1.ServiceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: metav1.ObjectMeta{Name: "default"}})
	}

	// Register the webhooks exactly as printed (the longest wait Kubernetes
	// allows: the first decision on the vulnerable image walks its layers on a
	// busy machine).
	out, stderr, code := runWardenCmd(t, "admission", "manifests", "--url", "https://"+addr, "--ca-cert", filepath.Join(fx.dir, "ca.crt"),
		"--webhook-timeout", "30")
	if code != 0 {
		t.Fatalf("admission manifests: exit %d: %s", code, stderr)
	}
	paths := map[string]string{
		"v1/ServiceAccount":                                              "/api/v1/namespaces/%s/serviceaccounts",
		"rbac.authorization.k8s.io/v1/ClusterRole":                       "/apis/rbac.authorization.k8s.io/v1/clusterroles",
		"rbac.authorization.k8s.io/v1/ClusterRoleBinding":                "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
		"admissionregistration.k8s.io/v1/MutatingWebhookConfiguration":   "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
		"admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration": "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
	}
	dec := yaml.NewDecoder(strings.NewReader(out))
	applied := 0
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); err != nil {
			break
		}
		key := fmt.Sprint(doc["apiVersion"], "/", doc["kind"])
		p, ok := paths[key]
		if !ok {
			t.Fatalf("the manifests hold a %s this test does not know how to create", key)
		}
		if strings.Contains(p, "%s") {
			p = fmt.Sprintf(p, doc["metadata"].(map[string]any)["namespace"])
		}
		create(p, doc)
		applied++
	}
	if applied != len(paths) {
		t.Fatalf("applied %d objects of the manifests, want %d:\n%s", applied, len(paths), out)
	}

	pod := func(name, image string) corev1.Pod {
		return corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"}, ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}}}
	}
	deploy := func(name, image string) appsv1.Deployment {
		labels := map[string]string{"app": name}
		return appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: image}}}}}}
	}
	pods := func(ns string) string { return "/api/v1/namespaces/" + ns + "/pods" }
	deployments := func(ns string) string { return "/apis/apps/v1/namespaces/" + ns + "/deployments" }
	status := func(r *testsvc.Response) string {
		var st metav1.Status
		if err := json.Unmarshal(r.Body, &st); err != nil || st.Kind != "Status" {
			return string(r.Body)
		}
		return st.Message
	}

	// The API server watches webhook configurations: wait until it calls ours
	// (a dry run: the webhooks declare sideEffects None, so they are called).
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := do("POST", pods("prod")+"?dryRun=All", pod("probe", fx.unsigned))
		if r.Code == http.StatusForbidden && strings.Contains(status(r), "warden") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the API server does not call the webhook 60 s after registration: %d %s\nkube-apiserver log:\n%s", r.Code, r.Body, kube.Log())
		}
		time.Sleep(250 * time.Millisecond)
	}

	t.Run("unsigned pod denied with the reason", func(t *testing.T) {
		r := do("POST", pods("prod"), pod("unsigned", fx.unsigned))
		msg := status(r)
		if r.Code != http.StatusForbidden || !strings.Contains(msg, fx.unsigned) || !strings.Contains(msg, "signatures: the image is not signed") {
			t.Errorf("%d %s", r.Code, msg)
		}
		t.Logf("kube-apiserver: %s", msg)
		if g := do("GET", pods("prod")+"/unsigned", nil); g.Code != http.StatusNotFound {
			t.Errorf("the denied pod exists: GET %d", g.Code)
		}
	})
	t.Run("unsigned deployment denied", func(t *testing.T) {
		r := do("POST", deployments("prod"), deploy("unsigned", fx.unsigned))
		if msg := status(r); r.Code != http.StatusForbidden || !strings.Contains(msg, "/spec/template/spec/containers/0/image") || !strings.Contains(msg, "not signed") {
			t.Errorf("%d %s", r.Code, msg)
		}
	})
	t.Run("signed pod admitted and pinned", func(t *testing.T) {
		r := do("POST", pods("prod"), pod("signed", fx.signed))
		if r.Code != http.StatusCreated {
			t.Fatalf("%d %s", r.Code, status(r))
		}
		g := do("GET", pods("prod")+"/signed", nil)
		var p corev1.Pod
		if err := json.Unmarshal(g.Body, &p); err != nil {
			t.Fatalf("GET: %d %s: %v", g.Code, g.Body, err)
		}
		if img := p.Spec.Containers[0].Image; !strings.HasPrefix(img, fx.signed+"@sha256:") || len(img) != len(fx.signed)+len("@sha256:")+64 {
			t.Errorf("stored pod's image %q, want %s@sha256:…", img, fx.signed)
		}
		if p.Status.Phase != corev1.PodPending && p.Status.Phase != "" {
			t.Errorf("phase %q", p.Status.Phase)
		}
	})
	t.Run("signed deployment admitted and pinned", func(t *testing.T) {
		r := do("POST", deployments("prod"), deploy("signed", fx.signed))
		var d appsv1.Deployment
		if err := json.Unmarshal(r.Body, &d); err != nil || r.Code != http.StatusCreated {
			t.Fatalf("%d %s", r.Code, status(r))
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; !strings.HasPrefix(img, fx.signed+"@sha256:") {
			t.Errorf("stored deployment's image %q, want %s@sha256:…", img, fx.signed)
		}
	})
	t.Run("vulnerable pod denied by max_severity", func(t *testing.T) {
		r := do("POST", pods("prod"), pod("alpine", fx.alpine))
		msg := status(r)
		if r.Code != http.StatusForbidden || !strings.Contains(msg, "CVE-2024-9143") || !strings.Contains(msg, "vulnerabilities") {
			t.Errorf("%d %s", r.Code, msg)
		}
		t.Logf("kube-apiserver: %s", msg)
	})
	t.Run("warn mode admits with a warning", func(t *testing.T) {
		r := do("POST", pods("audit"), pod("unsigned", fx.unsigned))
		if r.Code != http.StatusCreated || !strings.Contains(strings.Join(r.Warnings, "\n"), "not signed") {
			t.Errorf("%d warnings %q: %s", r.Code, r.Warnings, status(r))
		}
		t.Logf("warnings: %q", r.Warnings)
	})
}
