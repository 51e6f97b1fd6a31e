package admission

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// The wire format, AdmissionReview admission.k8s.io/v1, is k8s.io/api's own
// (admission.go). The objects inside it and the ones `warden admission
// manifests` writes (v1, apps/v1, batch/v1, rbac.authorization.k8s.io/v1,
// admissionregistration.k8s.io/v1) are below as their JSON forms: only the
// fields Warden uses, with the API's field names. k8s.io/api's core, apps and
// batch types would add another 5 MB of binary (45.4 MB in all, over the
// 45 MB budget) for the handful of fields read here; the tests encode and
// decode with k8s.io/api itself, so the two stay compatible.

// ObjectMeta is the part of metadata Warden reads or writes.
type ObjectMeta struct {
	Name      string            `json:"name,omitempty"`
	Namespace string            `json:"namespace,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
}

// PodSpec is the part of a pod spec Warden reads (images, pull secrets) or
// writes (its own Deployment).
type PodSpec struct {
	Volumes             []Volume               `json:"volumes,omitempty"`
	InitContainers      []Container            `json:"initContainers,omitempty"`
	Containers          []Container            `json:"containers"`
	EphemeralContainers []Container            `json:"ephemeralContainers,omitempty"`
	ServiceAccountName  string                 `json:"serviceAccountName,omitempty"`
	ImagePullSecrets    []LocalObjectReference `json:"imagePullSecrets,omitempty"`
}

// Container is a container, init container or ephemeral container.
type Container struct {
	Name            string           `json:"name"`
	Image           string           `json:"image,omitempty"`
	Args            []string         `json:"args,omitempty"`
	Ports           []ContainerPort  `json:"ports,omitempty"`
	VolumeMounts    []VolumeMount    `json:"volumeMounts,omitempty"`
	ReadinessProbe  *Probe           `json:"readinessProbe,omitempty"`
	SecurityContext *SecurityContext `json:"securityContext,omitempty"`
}

// LocalObjectReference names an object in the same namespace.
type LocalObjectReference struct {
	Name string `json:"name,omitempty"`
}

// ContainerPort is a port a container listens on.
type ContainerPort struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int32  `json:"containerPort"`
}

// Probe is an HTTP GET probe.
type Probe struct {
	HTTPGet *HTTPGetAction `json:"httpGet,omitempty"`
}

// HTTPGetAction is the GET of a probe.
type HTTPGetAction struct {
	Path   string `json:"path,omitempty"`
	Port   int32  `json:"port"`
	Scheme string `json:"scheme,omitempty"`
}

// SecurityContext is a container's security context.
type SecurityContext struct {
	RunAsUser                *int64 `json:"runAsUser,omitempty"`
	RunAsNonRoot             *bool  `json:"runAsNonRoot,omitempty"`
	ReadOnlyRootFilesystem   *bool  `json:"readOnlyRootFilesystem,omitempty"`
	AllowPrivilegeEscalation *bool  `json:"allowPrivilegeEscalation,omitempty"`
}

// VolumeMount mounts a volume in a container.
type VolumeMount struct {
	Name      string `json:"name"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
	MountPath string `json:"mountPath"`
}

// Volume is a secret, config map or emptyDir volume.
type Volume struct {
	Name      string                 `json:"name"`
	Secret    *SecretVolumeSource    `json:"secret,omitempty"`
	EmptyDir  *struct{}              `json:"emptyDir,omitempty"`
	ConfigMap *ConfigMapVolumeSource `json:"configMap,omitempty"`
}

// SecretVolumeSource names the secret of a volume.
type SecretVolumeSource struct {
	SecretName string `json:"secretName,omitempty"`
}

// ConfigMapVolumeSource names the config map of a volume.
type ConfigMapVolumeSource struct {
	Name string `json:"name,omitempty"`
}

// PodTemplateSpec is the pod template of a workload.
type PodTemplateSpec struct {
	ObjectMeta ObjectMeta `json:"metadata"`
	Spec       PodSpec    `json:"spec"`
}

// LabelSelector selects by labels.
type LabelSelector struct {
	MatchLabels      map[string]string          `json:"matchLabels,omitempty"`
	MatchExpressions []LabelSelectorRequirement `json:"matchExpressions,omitempty"`
}

// LabelSelectorRequirement is one expression of a LabelSelector.
type LabelSelectorRequirement struct {
	Key      string   `json:"key"`
	Operator string   `json:"operator"`
	Values   []string `json:"values,omitempty"`
}

// object is a manifest object: type, metadata and a spec (or none).
type object[S any] struct {
	metav1.TypeMeta `json:",inline"`
	ObjectMeta      ObjectMeta `json:"metadata"`
	Spec            S          `json:"spec"`
}

// podWorkload is a Pod; templated is a Deployment, ReplicaSet, StatefulSet,
// DaemonSet or Job (spec.template); cronJob a CronJob.
type (
	podWorkload = object[PodSpec]
	templated   = object[struct {
		Template PodTemplateSpec `json:"template"`
	}]
	cronJob = object[struct {
		JobTemplate struct {
			Spec struct {
				Template PodTemplateSpec `json:"template"`
			} `json:"spec"`
		} `json:"jobTemplate"`
	}]
)

// deploymentSpec is apps/v1 DeploymentSpec.
type deploymentSpec struct {
	Replicas *int32          `json:"replicas,omitempty"`
	Selector *LabelSelector  `json:"selector"`
	Template PodTemplateSpec `json:"template"`
}

// serviceSpec is v1 ServiceSpec.
type serviceSpec struct {
	Ports    []servicePort     `json:"ports,omitempty"`
	Selector map[string]string `json:"selector,omitempty"`
}

type servicePort struct {
	Name       string `json:"name,omitempty"`
	Port       int32  `json:"port"`
	TargetPort int32  `json:"targetPort,omitempty"`
}

// serviceAccount is v1 ServiceAccount.
type serviceAccount struct {
	metav1.TypeMeta `json:",inline"`
	ObjectMeta      ObjectMeta `json:"metadata"`
}

// clusterRole is rbac.authorization.k8s.io/v1 ClusterRole.
type clusterRole struct {
	metav1.TypeMeta `json:",inline"`
	ObjectMeta      ObjectMeta   `json:"metadata"`
	Rules           []policyRule `json:"rules"`
}

type policyRule struct {
	Verbs     []string `json:"verbs"`
	APIGroups []string `json:"apiGroups,omitempty"`
	Resources []string `json:"resources,omitempty"`
}

// clusterRoleBinding is rbac.authorization.k8s.io/v1 ClusterRoleBinding.
type clusterRoleBinding struct {
	metav1.TypeMeta `json:",inline"`
	ObjectMeta      ObjectMeta `json:"metadata"`
	Subjects        []subject  `json:"subjects,omitempty"`
	RoleRef         roleRef    `json:"roleRef"`
}

type subject struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace,omitempty"`
}

type roleRef struct {
	APIGroup string `json:"apiGroup"`
	Kind     string `json:"kind"`
	Name     string `json:"name"`
}

// webhookConfiguration is admissionregistration.k8s.io/v1
// Validating- or MutatingWebhookConfiguration.
type webhookConfiguration struct {
	metav1.TypeMeta `json:",inline"`
	ObjectMeta      ObjectMeta `json:"metadata"`
	Webhooks        []webhook  `json:"webhooks,omitempty"`
}

type webhook struct {
	Name                    string               `json:"name"`
	ClientConfig            webhookClientConfig  `json:"clientConfig"`
	Rules                   []ruleWithOperations `json:"rules,omitempty"`
	FailurePolicy           *string              `json:"failurePolicy,omitempty"`
	NamespaceSelector       *LabelSelector       `json:"namespaceSelector,omitempty"`
	SideEffects             *string              `json:"sideEffects"`
	TimeoutSeconds          *int32               `json:"timeoutSeconds,omitempty"`
	AdmissionReviewVersions []string             `json:"admissionReviewVersions"`
	ReinvocationPolicy      *string              `json:"reinvocationPolicy,omitempty"`
}

type webhookClientConfig struct {
	URL      *string           `json:"url,omitempty"`
	Service  *serviceReference `json:"service,omitempty"`
	CABundle []byte            `json:"caBundle,omitempty"`
}

type serviceReference struct {
	Namespace string  `json:"namespace"`
	Name      string  `json:"name"`
	Path      *string `json:"path,omitempty"`
}

type ruleWithOperations struct {
	Operations  []string `json:"operations,omitempty"`
	APIGroups   []string `json:"apiGroups,omitempty"`
	APIVersions []string `json:"apiVersions,omitempty"`
	Resources   []string `json:"resources,omitempty"`
}

// secret is the part of a v1 Secret that holds registry credentials.
type secret struct {
	Type string            `json:"type,omitempty"`
	Data map[string][]byte `json:"data,omitempty"`
}

// Keys of a registry credentials secret.
const (
	dockerConfigJSONKey = ".dockerconfigjson"
	dockerConfigKey     = ".dockercfg"
)
