// Package admission is a Kubernetes admission webhook (AdmissionReview
// admission.k8s.io/v1) that puts Warden's policy in front of a cluster: every
// container, init container and ephemeral container image of a Pod or of the
// pod template of a Deployment, ReplicaSet, StatefulSet, DaemonSet, Job or
// CronJob is decided by pkg/policy/imagegate (policy.Evaluate, as `warden
// check`). /validate denies with the image and each reason; /mutate pins each
// allowed image to the digest that was verified (JSONPatch "replace").
package admission

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/wardensec/warden/pkg/policy/imagegate"
)

// SecretReader reads a Secret's registry credentials (imagePullSecrets):
// the Docker config of a kubernetes.io/dockerconfigjson or dockercfg secret.
type SecretReader interface {
	DockerConfig(ctx context.Context, namespace, name string) ([]byte, error)
}

// Options configure a Server.
type Options struct {
	Gate *imagegate.Gate
	// Secrets reads imagePullSecrets; nil: the gate's own credentials only.
	Secrets SecretReader
	// WarnNamespaces are admitted with warnings instead of denied (audit).
	WarnNamespaces []string
	Logger         *slog.Logger
}

// Server is the webhook's http.Handler: POST /validate, POST /mutate, GET /healthz.
type Server struct {
	opt  Options
	warn map[string]bool
	mux  *http.ServeMux
}

// New returns a Server.
func New(opt Options) *Server {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{opt: opt, warn: map[string]bool{}, mux: http.NewServeMux()}
	for _, ns := range opt.WarnNamespaces {
		s.warn[ns] = true
	}
	s.mux.HandleFunc("POST /validate", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, false) })
	s.mux.HandleFunc("POST /mutate", func(w http.ResponseWriter, r *http.Request) { s.serve(w, r, true) })
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// MaxReview bounds a decoded AdmissionReview (the API server's own request
// limit is 3 MiB).
const MaxReview = 8 << 20

// DecodeReview reads an AdmissionReview admission.k8s.io/v1 with a request.
func DecodeReview(r io.Reader) (*admissionv1.AdmissionReview, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxReview+1))
	if err != nil {
		return nil, fmt.Errorf("reading the AdmissionReview: %w", err)
	}
	if len(b) > MaxReview {
		return nil, fmt.Errorf("the AdmissionReview is larger than %d bytes", MaxReview)
	}
	var rev admissionv1.AdmissionReview
	if err := json.Unmarshal(b, &rev); err != nil {
		return nil, fmt.Errorf("decoding the AdmissionReview: %w", err)
	}
	if rev.APIVersion != "admission.k8s.io/v1" || rev.Kind != "AdmissionReview" {
		return nil, fmt.Errorf("want an AdmissionReview of admission.k8s.io/v1, got kind %q apiVersion %q", rev.Kind, rev.APIVersion)
	}
	if rev.Request == nil {
		return nil, errors.New("the AdmissionReview has no request")
	}
	return &rev, nil
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, mutate bool) {
	rev, err := DecodeReview(r.Body)
	if err != nil {
		// No request UID to answer: a 400 makes the API server apply the
		// webhook's failurePolicy (Fail in the generated configuration).
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp := s.Review(r.Context(), rev.Request, mutate)
	out := admissionv1.AdmissionReview{TypeMeta: rev.TypeMeta, Response: resp}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// Image is one image reference in a workload and its JSON pointer.
type Image struct {
	Path  string // "/spec/template/spec/containers/0/image"
	Image string
}

// Workload is the pod spec of an admitted object and where it sits.
type Workload struct {
	Spec *PodSpec
	Base string // JSON pointer of the pod spec: "/spec", "/spec/template/spec", ...
}

// PodSpecOf finds the pod spec of an object of kind (Pod, Deployment,
// ReplicaSet, StatefulSet, DaemonSet, Job, CronJob).
func PodSpecOf(kind metav1.GroupVersionKind, raw []byte) (*Workload, error) {
	decode := func(v any) error {
		if err := json.Unmarshal(raw, v); err != nil {
			return fmt.Errorf("decoding the %s: %w", kind.Kind, err)
		}
		return nil
	}
	switch kind.Group + "/" + kind.Kind {
	case "/Pod":
		var o podWorkload
		if err := decode(&o); err != nil {
			return nil, err
		}
		return &Workload{&o.Spec, "/spec"}, nil
	case "apps/Deployment", "apps/ReplicaSet", "apps/StatefulSet", "apps/DaemonSet", "batch/Job":
		var o templated
		if err := decode(&o); err != nil {
			return nil, err
		}
		return &Workload{&o.Spec.Template.Spec, "/spec/template/spec"}, nil
	case "batch/CronJob":
		var o cronJob
		if err := decode(&o); err != nil {
			return nil, err
		}
		return &Workload{&o.Spec.JobTemplate.Spec.Template.Spec, "/spec/jobTemplate/spec/template/spec"}, nil
	}
	return nil, fmt.Errorf("kind %s/%s is not a workload Warden checks (Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob)", kind.Group, kind.Kind)
}

// Images lists every container, init container and ephemeral container image.
func (w *Workload) Images() []Image {
	var out []Image
	for i, c := range w.Spec.InitContainers {
		out = append(out, Image{w.Base + "/initContainers/" + strconv.Itoa(i) + "/image", c.Image})
	}
	for i, c := range w.Spec.Containers {
		out = append(out, Image{w.Base + "/containers/" + strconv.Itoa(i) + "/image", c.Image})
	}
	for i, c := range w.Spec.EphemeralContainers {
		out = append(out, Image{w.Base + "/ephemeralContainers/" + strconv.Itoa(i) + "/image", c.Image})
	}
	return out
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value string `json:"value"`
}

// Review answers one admission request; mutate adds the digest-pinning
// JSONPatch. It never returns nil.
func (s *Server) Review(ctx context.Context, req *admissionv1.AdmissionRequest, mutate bool) *admissionv1.AdmissionResponse {
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: false}
	deny := func(msg string) *admissionv1.AdmissionResponse {
		resp.Allowed = false
		resp.Result = &metav1.Status{Status: metav1.StatusFailure, Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden, Message: msg}
		return resp
	}
	if req.Operation == admissionv1.Delete || req.Operation == admissionv1.Connect {
		resp.Allowed = true
		return resp
	}
	if len(req.Object.Raw) == 0 || string(req.Object.Raw) == "null" {
		return deny("warden: the admission request carries no object")
	}
	wl, err := PodSpecOf(req.Kind, req.Object.Raw)
	if err != nil {
		return deny("warden: " + err.Error())
	}
	if s.opt.Gate == nil {
		return deny("warden: no policy")
	}
	kc := s.keychain(ctx, req.Namespace, wl.Spec.ImagePullSecrets)
	images := wl.Images()
	results := s.decide(ctx, images, kc)
	var denials []string
	var patch []patchOp
	for i, res := range results {
		if !res.Allow {
			denials = append(denials, images[i].Path+": "+res.Message())
			continue
		}
		for _, w := range res.Warnings() {
			resp.Warnings = append(resp.Warnings, "warden: "+images[i].Image+": "+w)
		}
		if mutate && res.Pinned != "" && res.Pinned != images[i].Image && !strings.Contains(images[i].Image, "@") {
			patch = append(patch, patchOp{Op: "replace", Path: images[i].Path, Value: res.Pinned})
		}
	}
	if len(denials) > 0 {
		if s.warn[req.Namespace] {
			for _, d := range denials {
				resp.Warnings = append(resp.Warnings, "warden (warn mode): "+d)
			}
			s.opt.Logger.Info("admitted in warn mode", "namespace", req.Namespace, "name", req.Name, "denials", denials)
		} else {
			s.opt.Logger.Info("denied", "namespace", req.Namespace, "name", req.Name, "denials", denials)
			return deny("warden: " + strings.Join(denials, "; "))
		}
	}
	resp.Allowed = true
	if len(patch) > 0 {
		b, err := json.Marshal(patch)
		if err != nil {
			return deny("warden: " + err.Error())
		}
		pt := admissionv1.PatchTypeJSONPatch
		resp.Patch, resp.PatchType = b, &pt
	}
	return resp
}

// decide decides each distinct image once, all of them at the same time (the
// common pod of one image without a goroutine).
func (s *Server) decide(ctx context.Context, images []Image, kc authn.Keychain) []imagegate.Result {
	results := make([]imagegate.Result, len(images))
	if len(images) == 0 {
		return results
	}
	same := true
	for _, im := range images[1:] {
		if im.Image != images[0].Image {
			same = false
			break
		}
	}
	if same {
		res := s.opt.Gate.Decide(ctx, images[0].Image, kc)
		for i := range results {
			results[i] = res
		}
		return results
	}
	decided := map[string]*imagegate.Result{}
	for _, im := range images {
		decided[im.Image] = nil
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for ref := range decided {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := s.opt.Gate.Decide(ctx, ref, kc)
			mu.Lock()
			decided[ref] = &res
			mu.Unlock()
		}()
	}
	wg.Wait()
	for i, im := range images {
		results[i] = *decided[im.Image]
	}
	return results
}

// keychain is the pod's imagePullSecrets; a secret that cannot be read is
// skipped (the gate's own credentials remain), and logged.
func (s *Server) keychain(ctx context.Context, ns string, secrets []LocalObjectReference) authn.Keychain {
	if s.opt.Secrets == nil || len(secrets) == 0 {
		return nil
	}
	var kcs []authn.Keychain
	for _, ref := range secrets {
		b, err := s.opt.Secrets.DockerConfig(ctx, ns, ref.Name)
		if err != nil {
			s.opt.Logger.Warn("reading an imagePullSecret", "namespace", ns, "secret", ref.Name, "err", err)
			continue
		}
		dc, err := imagegate.ParseDockerConfig("secret "+ns+"/"+ref.Name, b)
		if err != nil {
			s.opt.Logger.Warn("reading an imagePullSecret", "namespace", ns, "secret", ref.Name, "err", err)
			continue
		}
		kcs = append(kcs, dc)
	}
	if len(kcs) == 0 {
		return nil
	}
	return authn.NewMultiKeychain(kcs...)
}
