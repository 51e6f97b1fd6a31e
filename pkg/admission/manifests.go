package admission

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// IgnoreLabel on a namespace exempts it from the webhooks.
const IgnoreLabel = "warden.wardensec.io/ignore"

// ManifestOptions configure Manifests.
type ManifestOptions struct {
	Namespace string // where the webhook runs; default "warden"
	Name      string // of every object; default "warden-admission"
	Image     string // the warden image; required
	// CABundle is the PEM of the CA that signed the webhook's serving
	// certificate (the API server checks it); required.
	CABundle []byte
	// TLSSecret holds tls.crt and tls.key; default Name+"-tls".
	TLSSecret string
	// PolicyConfigMap holds policy.yaml (and the keys it names); default "warden-policy".
	PolicyConfigMap string
	// WarnNamespaces are admitted with warnings (passed as --warn-namespace).
	WarnNamespaces []string
	// TimeoutSeconds is the API server's wait for an answer (1-30); default 15.
	TimeoutSeconds int32
	// URL, when set, makes the webhooks call this address instead of the
	// Service (a webhook outside the cluster, as in tests); no Deployment or
	// Service is printed then.
	URL string
}

// Manifests returns the YAML to deploy the webhook: ServiceAccount,
// ClusterRole and binding (get secrets, for imagePullSecrets), Deployment,
// Service, and the Validating- and MutatingWebhookConfiguration, with
// failurePolicy Fail (an unreachable webhook refuses).
func Manifests(o ManifestOptions) ([]byte, error) {
	if o.Namespace == "" {
		o.Namespace = "warden"
	}
	if o.Name == "" {
		o.Name = "warden-admission"
	}
	if o.TLSSecret == "" {
		o.TLSSecret = o.Name + "-tls"
	}
	if o.PolicyConfigMap == "" {
		o.PolicyConfigMap = "warden-policy"
	}
	if o.TimeoutSeconds == 0 {
		o.TimeoutSeconds = 15
	}
	if o.TimeoutSeconds < 1 || o.TimeoutSeconds > 30 {
		return nil, fmt.Errorf("webhook timeout %ds: Kubernetes allows 1 to 30", o.TimeoutSeconds)
	}
	if len(o.CABundle) == 0 {
		return nil, errors.New("the CA bundle of the webhook's certificate is required (--ca-cert)")
	}
	if o.Image == "" && o.URL == "" {
		return nil, errors.New("the warden image is required (--image)")
	}
	labels := map[string]string{"app.kubernetes.io/name": o.Name}
	meta := func(namespaced bool) ObjectMeta {
		m := ObjectMeta{Name: o.Name, Labels: labels}
		if namespaced {
			m.Namespace = o.Namespace
		}
		return m
	}
	var objs []any
	objs = append(objs,
		&serviceAccount{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"}, ObjectMeta: meta(true)},
		&clusterRole{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRole"}, ObjectMeta: meta(false),
			Rules: []policyRule{{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get"}}}},
		&clusterRoleBinding{TypeMeta: metav1.TypeMeta{APIVersion: "rbac.authorization.k8s.io/v1", Kind: "ClusterRoleBinding"}, ObjectMeta: meta(false),
			RoleRef:  roleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: o.Name},
			Subjects: []subject{{Kind: "ServiceAccount", Name: o.Name, Namespace: o.Namespace}}},
	)
	if o.URL == "" {
		args := []string{"admission", "--addr", ":8443", "--tls-cert", "/tls/tls.crt", "--tls-key", "/tls/tls.key",
			"--policy", "/policy/policy.yaml", "--cache-dir", "/cache"}
		for _, ns := range o.WarnNamespaces {
			args = append(args, "--warn-namespace", ns)
		}
		one, no, yes := int32(2), false, true
		uid := int64(65532)
		objs = append(objs,
			&object[deploymentSpec]{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, ObjectMeta: meta(true),
				Spec: deploymentSpec{
					Replicas: &one,
					Selector: &LabelSelector{MatchLabels: labels},
					Template: PodTemplateSpec{
						ObjectMeta: ObjectMeta{Labels: labels},
						Spec: PodSpec{
							ServiceAccountName: o.Name,
							Containers: []Container{{
								Name: "warden", Image: o.Image, Args: args,
								Ports: []ContainerPort{{Name: "https", ContainerPort: 8443}},
								ReadinessProbe: &Probe{HTTPGet: &HTTPGetAction{
									Path: "/healthz", Port: 8443, Scheme: "HTTPS"}},
								SecurityContext: &SecurityContext{RunAsNonRoot: &yes, RunAsUser: &uid,
									AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes},
								VolumeMounts: []VolumeMount{
									{Name: "tls", MountPath: "/tls", ReadOnly: true},
									{Name: "policy", MountPath: "/policy", ReadOnly: true},
									{Name: "cache", MountPath: "/cache"},
								},
							}},
							Volumes: []Volume{
								{Name: "tls", Secret: &SecretVolumeSource{SecretName: o.TLSSecret}},
								{Name: "policy", ConfigMap: &ConfigMapVolumeSource{Name: o.PolicyConfigMap}},
								{Name: "cache", EmptyDir: &struct{}{}},
							},
						},
					},
				}},
			&object[serviceSpec]{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Service"}, ObjectMeta: meta(true),
				Spec: serviceSpec{Selector: labels, Ports: []servicePort{{Name: "https", Port: 443, TargetPort: 8443}}}},
		)
	}
	client := func(path string) webhookClientConfig {
		if o.URL != "" {
			u := o.URL + path
			return webhookClientConfig{URL: &u, CABundle: o.CABundle}
		}
		p := path
		return webhookClientConfig{Service: &serviceReference{Namespace: o.Namespace, Name: o.Name, Path: &p}, CABundle: o.CABundle}
	}
	ops := []string{string(admissionv1.Create), string(admissionv1.Update)}
	rules := []ruleWithOperations{
		{Operations: ops, APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods", "pods/ephemeralcontainers"}},
		{Operations: ops, APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments", "replicasets", "statefulsets", "daemonsets"}},
		{Operations: ops, APIGroups: []string{"batch"}, APIVersions: []string{"v1"}, Resources: []string{"jobs", "cronjobs"}},
	}
	nsSel := &LabelSelector{MatchExpressions: []LabelSelectorRequirement{
		{Key: IgnoreLabel, Operator: "DoesNotExist"},
		{Key: "kubernetes.io/metadata.name", Operator: "NotIn", Values: []string{"kube-system", o.Namespace}},
	}}
	fail, none := "Fail", "None"
	timeout := o.TimeoutSeconds
	ifNeeded := "IfNeeded"
	objs = append(objs,
		&webhookConfiguration{TypeMeta: metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "MutatingWebhookConfiguration"},
			ObjectMeta: meta(false),
			Webhooks: []webhook{{Name: "mutate.warden.wardensec.io", ClientConfig: client("/mutate"), Rules: rules,
				NamespaceSelector: nsSel, FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: &timeout,
				AdmissionReviewVersions: []string{"v1"}, ReinvocationPolicy: &ifNeeded}}},
		&webhookConfiguration{TypeMeta: metav1.TypeMeta{APIVersion: "admissionregistration.k8s.io/v1", Kind: "ValidatingWebhookConfiguration"},
			ObjectMeta: meta(false),
			Webhooks: []webhook{{Name: "validate.warden.wardensec.io", ClientConfig: client("/validate"), Rules: rules,
				NamespaceSelector: nsSel, FailurePolicy: &fail, SideEffects: &none, TimeoutSeconds: &timeout,
				AdmissionReviewVersions: []string{"v1"}}}},
	)
	var out bytes.Buffer
	for i, obj := range objs {
		if i > 0 {
			out.WriteString("---\n")
		}
		b, err := toYAML(obj)
		if err != nil {
			return nil, err
		}
		out.Write(b)
	}
	return out.Bytes(), nil
}

// toYAML writes v's JSON form (the Kubernetes field names and omissions) as
// block-style YAML, keeping the field order.
func toYAML(v any) ([]byte, error) {
	j, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(j, &n); err != nil {
		return nil, err
	}
	var block func(*yaml.Node)
	block = func(n *yaml.Node) {
		n.Style &^= yaml.FlowStyle
		if n.Kind == yaml.ScalarNode && n.Style&yaml.DoubleQuotedStyle != 0 {
			n.Style &^= yaml.DoubleQuotedStyle // re-quoted by the encoder when needed
		}
		for _, c := range n.Content {
			block(c)
		}
	}
	block(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	return buf.Bytes(), enc.Close()
}
