package admission

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/wardensec/warden/internal/testpolicy"
	"github.com/wardensec/warden/pkg/policy/imagegate"
)

// podSpec has an init container, a container and an ephemeral container.
func podSpec(init, main, ephemeral string, pullSecrets ...string) corev1.PodSpec {
	s := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "init", Image: init}},
		Containers:     []corev1.Container{{Name: "app", Image: main}},
	}
	if ephemeral != "" {
		s.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: "debug", Image: ephemeral}}}
	}
	for _, n := range pullSecrets {
		s.ImagePullSecrets = append(s.ImagePullSecrets, corev1.LocalObjectReference{Name: n})
	}
	return s
}

// workload builds an object of kind around spec and the JSON pointer of its pod spec.
func workload(kind string, spec corev1.PodSpec) (runtime.Object, metav1.GroupVersionKind, string) {
	tmpl := corev1.PodTemplateSpec{Spec: spec}
	om := metav1.ObjectMeta{Name: "w", Namespace: "prod"}
	switch kind {
	case "Pod":
		return &corev1.Pod{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: kind}, ObjectMeta: om, Spec: spec},
			metav1.GroupVersionKind{Version: "v1", Kind: kind}, "/spec"
	case "Deployment":
		return &appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: kind}, ObjectMeta: om, Spec: appsv1.DeploymentSpec{Template: tmpl}},
			metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: kind}, "/spec/template/spec"
	case "ReplicaSet":
		return &appsv1.ReplicaSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: kind}, ObjectMeta: om, Spec: appsv1.ReplicaSetSpec{Template: tmpl}},
			metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: kind}, "/spec/template/spec"
	case "StatefulSet":
		return &appsv1.StatefulSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: kind}, ObjectMeta: om, Spec: appsv1.StatefulSetSpec{Template: tmpl}},
			metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: kind}, "/spec/template/spec"
	case "DaemonSet":
		return &appsv1.DaemonSet{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: kind}, ObjectMeta: om, Spec: appsv1.DaemonSetSpec{Template: tmpl}},
			metav1.GroupVersionKind{Group: "apps", Version: "v1", Kind: kind}, "/spec/template/spec"
	case "Job":
		return &batchv1.Job{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: kind}, ObjectMeta: om, Spec: batchv1.JobSpec{Template: tmpl}},
			metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: kind}, "/spec/template/spec"
	case "CronJob":
		return &batchv1.CronJob{TypeMeta: metav1.TypeMeta{APIVersion: "batch/v1", Kind: kind}, ObjectMeta: om,
				Spec: batchv1.CronJobSpec{Schedule: "@hourly", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: tmpl}}}},
			metav1.GroupVersionKind{Group: "batch", Version: "v1", Kind: kind}, "/spec/jobTemplate/spec/template/spec"
	}
	panic("unknown kind " + kind)
}

// review serializes an AdmissionReview v1 of obj with the k8s.io/api types.
func review(t testing.TB, obj runtime.Object, gvk metav1.GroupVersionKind, ns string) []byte {
	t.Helper()
	raw, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	rev := admissionv1.AdmissionReview{
		TypeMeta: metav1.TypeMeta{APIVersion: "admission.k8s.io/v1", Kind: "AdmissionReview"},
		Request: &admissionv1.AdmissionRequest{
			UID: types.UID(fmt.Sprintf("uid-%d", time.Now().UnixNano())), Kind: gvk, Namespace: ns, Name: "w",
			Resource:  metav1.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: strings.ToLower(gvk.Kind) + "s"},
			Operation: admissionv1.Create, Object: runtime.RawExtension{Raw: raw},
		},
	}
	b, err := json.Marshal(rev)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// post sends a review and decodes the AdmissionReview answer.
func post(t testing.TB, url string, body []byte) *admissionv1.AdmissionResponse {
	t.Helper()
	res, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %s", url, res.Status)
	}
	var out admissionv1.AdmissionReview
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || out.Response == nil {
		t.Fatalf("answer is not an AdmissionReview v1 with a response: %+v", out)
	}
	return out.Response
}

type patchOpT struct{ Op, Path, Value string }

func patchOf(t testing.TB, r *admissionv1.AdmissionResponse) []patchOpT {
	t.Helper()
	if r.Patch == nil {
		return nil
	}
	if r.PatchType == nil || *r.PatchType != admissionv1.PatchTypeJSONPatch {
		t.Fatalf("patch type %v", r.PatchType)
	}
	var ops []patchOpT
	if err := json.Unmarshal(r.Patch, &ops); err != nil {
		t.Fatal(err)
	}
	return ops
}

// fakeSecrets is a SecretReader over a map.
type fakeSecrets map[string][]byte

func (f fakeSecrets) DockerConfig(_ context.Context, ns, name string) ([]byte, error) {
	if b, ok := f[ns+"/"+name]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("secret %s/%s not found", ns, name)
}

func TestWorkloads(t *testing.T) {
	f := testpolicy.New(t)
	gate := imagegate.New(imagegate.Options{Policy: f.Policy, CacheTTL: time.Minute, Timeout: 5 * time.Second})
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, f.Host, base64.StdEncoding.EncodeToString([]byte(f.User+":"+f.Password)))
	srv := httptest.NewServer(New(Options{Gate: gate, WarnNamespaces: []string{"audit"},
		Secrets: fakeSecrets{"prod/regcred": []byte(cfg)}}))
	defer srv.Close()
	signedDigest := gate.Decide(context.Background(), f.Signed, nil).Digest

	for _, kind := range []string{"Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job", "CronJob"} {
		t.Run(kind, func(t *testing.T) {
			// Signed everywhere: admitted; /mutate pins every image by digest.
			obj, gvk, base := workload(kind, podSpec(f.Signed, f.Signed, f.Signed))
			if r := post(t, srv.URL+"/validate", review(t, obj, gvk, "prod")); !r.Allowed || r.Patch != nil {
				t.Errorf("signed: %+v", r)
			}
			r := post(t, srv.URL+"/mutate", review(t, obj, gvk, "prod"))
			ops := patchOf(t, r)
			if !r.Allowed || len(ops) != 3 {
				t.Fatalf("mutate signed: allowed=%v patch=%v", r.Allowed, ops)
			}
			want := map[string]bool{base + "/initContainers/0/image": true, base + "/containers/0/image": true, base + "/ephemeralContainers/0/image": true}
			for _, op := range ops {
				if op.Op != "replace" || !want[op.Path] || op.Value != f.Signed+"@"+signedDigest {
					t.Errorf("patch op %+v", op)
				}
			}

			// One unsigned image, in each position: denied, naming it and the reason.
			for i, spec := range []corev1.PodSpec{
				podSpec(f.Unsigned, f.Signed, ""),
				podSpec(f.Signed, f.Unsigned, ""),
				podSpec(f.Signed, f.Signed, f.Unsigned),
			} {
				obj, gvk, _ := workload(kind, spec)
				r := post(t, srv.URL+"/validate", review(t, obj, gvk, "prod"))
				if r.Allowed || r.Result == nil || r.Result.Code != http.StatusForbidden ||
					!strings.Contains(r.Result.Message, f.Unsigned) || !strings.Contains(r.Result.Message, "signatures: the image is not signed") {
					t.Errorf("unsigned #%d: %+v", i, r.Result)
				}
				// In a warn-mode namespace: admitted, with the reasons as warnings.
				r = post(t, srv.URL+"/validate", review(t, obj, gvk, "audit"))
				if !r.Allowed || len(r.Warnings) == 0 || !strings.Contains(strings.Join(r.Warnings, "\n"), "not signed") {
					t.Errorf("unsigned #%d in warn mode: allowed=%v warnings=%q", i, r.Allowed, r.Warnings)
				}
			}

			// A private image: denied without credentials, admitted with the pod's imagePullSecrets.
			obj, gvk, _ = workload(kind, podSpec(f.Signed, f.Private, ""))
			if r := post(t, srv.URL+"/validate", review(t, obj, gvk, "prod")); r.Allowed || !strings.Contains(r.Result.Message, "UNAUTHORIZED") {
				t.Errorf("private without secret: %+v", r.Result)
			}
			obj, gvk, _ = workload(kind, podSpec(f.Signed, f.Private, "", "regcred"))
			if r := post(t, srv.URL+"/validate", review(t, obj, gvk, "prod")); !r.Allowed {
				t.Errorf("private with imagePullSecrets: %+v", r.Result)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	f := testpolicy.New(t)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	gate := imagegate.New(imagegate.Options{Policy: f.Policy, Timeout: 300 * time.Millisecond})
	srv := httptest.NewServer(New(Options{Gate: gate}))
	defer srv.Close()

	for _, c := range []struct{ name, body, want string }{
		{"not JSON", `{"apiVersion":`, "decoding the AdmissionReview"},
		{"v1beta1", `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`, "want an AdmissionReview of admission.k8s.io/v1"},
		{"no request", `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`, "has no request"},
	} {
		res, err := http.Post(srv.URL+"/validate", "application/json", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		b.ReadFrom(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(b.String(), c.want) {
			t.Errorf("%s: %s %q; want 400 with %q", c.name, res.Status, b.String(), c.want)
		}
	}

	hangHost := strings.TrimPrefix(hang.URL, "http://")
	cm := &corev1.ConfigMap{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"}}
	pod, gvk, _ := workload("Pod", podSpec(f.Signed, "Not:A:Reference", ""))
	hung, hgvk, _ := workload("Pod", podSpec(f.Signed, hangHost+"/prod/app:1", ""))
	for _, c := range []struct {
		name string
		body []byte
		want string
	}{
		{"unknown kind", review(t, cm, metav1.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, "prod"), "kind /ConfigMap is not a workload"},
		{"bad reference", review(t, pod, gvk, "prod"), "is not an image reference"},
		{"hanging registry", review(t, hung, hgvk, "prod"), "fail closed"},
	} {
		start := time.Now()
		r := post(t, srv.URL+"/validate", c.body)
		if r.Allowed || r.Result == nil || !strings.Contains(r.Result.Message, c.want) {
			t.Errorf("%s: %+v; want a denial with %q", c.name, r.Result, c.want)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("%s took %s", c.name, el)
		}
	}
}

// FuzzDecodeReview: any bytes give a review or an error, and reviewing what
// decodes never panics; without a policy nothing is admitted but deletes.
func FuzzDecodeReview(f *testing.F) {
	pod, gvk, _ := workload("Pod", podSpec("a", "b", "c"))
	f.Add(review(f, pod, gvk, "prod"))
	dep, dgvk, _ := workload("CronJob", podSpec("a", "b", ""))
	f.Add(review(f, dep, dgvk, "prod"))
	f.Add([]byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"kind":{"kind":"Pod"},"object":{"spec":null}}}`))
	s := New(Options{})
	f.Fuzz(func(t *testing.T, b []byte) {
		rev, err := DecodeReview(bytes.NewReader(b))
		if err != nil {
			return
		}
		for _, mutate := range []bool{false, true} {
			r := s.Review(context.Background(), rev.Request, mutate)
			if r == nil || (r.Allowed && rev.Request.Operation != admissionv1.Delete && rev.Request.Operation != admissionv1.Connect) {
				t.Fatalf("admitted without a policy: %+v", r)
			}
		}
	})
}
