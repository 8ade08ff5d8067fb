// k8scheck: every Kubernetes manifest under a folder (deploy/) decoded into the Kubernetes API's own Go types
// (k8s.io/api) as the API server's strict field validation does: YAML to JSON with repeated keys refused
// (sigs.k8s.io/yaml), then sigs.k8s.io/json with unknown, duplicate and wrongly-cased fields refused; then held to
// the rules of issue 28:
//
//   - every Deployment runs >= 2 replicas, spread across nodes, each container with a readiness probe on
//     GET /health/ready and a liveness probe on GET /health/live at one of its own ports, CPU and memory requests
//     and limits (request <= limit), and exactly one PodDisruptionBudget that selects its pods and lets a drain
//     go on;
//   - every pod (Deployments and Jobs) runs as non-root with seccomp RuntimeDefault, and each container with a
//     read-only root filesystem, no privilege escalation and every capability dropped; no host namespaces or
//     host paths;
//   - every secretKeyRef names a Secret defined under the folder and a key that Secret declares, every
//     configMapKeyRef a ConfigMap and key defined there; a variable whose name says KEY, PASSWORD, SECRET or
//     TOKEN never has a plain-text value nor comes from a ConfigMap (a public key excepted);
//   - no Secret carries a value (no `data`, every `stringData` value empty: `python -m infra.k8s_secrets` makes
//     them), no ConfigMap holds a credential; Secrets are not kustomize resources (kubectl apply would own them);
//   - every Service and PodDisruptionBudget selects exactly one Deployment's pods, a Service's target ports are
//     that Deployment's container ports; a kustomization lists files that exist, and every other manifest.
//
// Usage: k8scheck [-decode-only] DIR. Exit 0 when every document decodes and every rule holds, 1 with one line
// per problem ("file: Kind name: reason"), 2 on a usage or read error. -decode-only: strict decoding alone (a v1
// List item by item), for what `python -m infra.k8s_secrets` prints.
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const (
	readyPath   = "/health/ready"
	livePath    = "/health/live"
	minReplicas = 2
	nodeKey     = "kubernetes.io/hostname"
)

// kinds: the Go type of each apiVersion/kind the manifests may use; anything else is refused.
var kinds = map[string]func() any{
	"v1/Namespace":                       func() any { return &corev1.Namespace{} },
	"v1/ConfigMap":                       func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                          func() any { return &corev1.Secret{} },
	"v1/Service":                         func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                  func() any { return &corev1.ServiceAccount{} },
	"v1/PersistentVolumeClaim":           func() any { return &corev1.PersistentVolumeClaim{} },
	"apps/v1/Deployment":                 func() any { return &appsv1.Deployment{} },
	"batch/v1/Job":                       func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":      func() any { return &policyv1.PodDisruptionBudget{} },
	"networking.k8s.io/v1/NetworkPolicy": func() any { return &networkingv1.NetworkPolicy{} },
}

// Kustomization: the fields of kustomize's kustomization.yaml these manifests use (a field not here is refused,
// like an unknown field of a Kubernetes object: add it when the layout needs it).
type Kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace,omitempty"`
	Resources  []string `json:"resources,omitempty"`
	Images     []struct {
		Name    string `json:"name"`
		NewName string `json:"newName,omitempty"`
		NewTag  string `json:"newTag,omitempty"`
		Digest  string `json:"digest,omitempty"`
	} `json:"images,omitempty"`
	Labels []struct {
		Pairs            map[string]string `json:"pairs"`
		IncludeSelectors bool              `json:"includeSelectors,omitempty"`
		IncludeTemplates bool              `json:"includeTemplates,omitempty"`
	} `json:"labels,omitempty"`
}

type object struct {
	file string // relative to the checked folder
	kind string
	name string
	obj  any
}

func (o object) String() string { return fmt.Sprintf("%s: %s %s", o.file, o.kind, o.name) }

type checker struct {
	root     string
	objects  []object
	kusts    map[string]*Kustomization // file -> kustomization
	problems []string
}

// fail records one problem as one line ("file: Kind name: reason"; a multi-line error joined with spaces).
func (c *checker) fail(where fmt.Stringer, format string, args ...any) {
	reason := strings.Join(strings.Fields(fmt.Sprintf(format, args...)), " ")
	c.problems = append(c.problems, fmt.Sprintf("%s: %s", where, reason))
}

type place string

func (p place) String() string { return string(p) }

func main() {
	decodeOnly := flag.Bool("decode-only", false, "decode every document strictly (a v1 List item by item) and "+
		"check no rule: for what `python -m infra.k8s_secrets` prints, whose Secrets carry values")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: k8scheck [-decode-only] DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	c := &checker{root: flag.Arg(0), kusts: map[string]*Kustomization{}}
	files, err := c.load()
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8scheck:", err)
		os.Exit(2)
	}
	if len(c.objects) == 0 && len(c.kusts) == 0 && len(c.problems) == 0 {
		fmt.Fprintf(os.Stderr, "k8scheck: no Kubernetes manifest under %s\n", c.root)
		os.Exit(2)
	}
	if !*decodeOnly {
		c.rules()
	}
	for _, p := range c.problems {
		fmt.Println(p)
	}
	if len(c.problems) > 0 {
		fmt.Printf("k8scheck: %d problem(s) in %s\n", len(c.problems), c.root)
		os.Exit(1)
	}
	what := "decoded strictly, every rule holds"
	if *decodeOnly {
		what = "decoded strictly (no rule checked)"
	}
	fmt.Printf("k8scheck: %d objects in %d files under %s: %s\n", len(c.objects), files, c.root, what)
}

// load decodes every YAML document under the folder; returns the number of manifest files.
func (c *checker) load() (int, error) {
	var paths []string
	err := filepath.WalkDir(c.root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".yml")) {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	sort.Strings(paths)
	for _, path := range paths {
		rel, _ := filepath.Rel(c.root, path)
		raw, err := os.ReadFile(path)
		if err != nil {
			return 0, err
		}
		reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for n := 1; ; n++ {
			doc, err := reader.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return 0, fmt.Errorf("%s: %w", rel, err)
			}
			c.decode(rel, n, doc)
		}
	}
	return len(paths), nil
}

func (c *checker) decode(file string, n int, doc []byte) {
	where := place(fmt.Sprintf("%s: document %d", file, n))
	asJSON, err := yaml.YAMLToJSON(doc)
	if err != nil {
		c.fail(where, "not YAML: %v", err)
		return
	}
	if t := strings.TrimSpace(string(asJSON)); t == "null" || t == "" {
		return // only comments, or an empty document between two ---
	}
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		c.fail(where, "no apiVersion/kind: %v", err)
		return
	}
	if meta.APIVersion == "v1" && meta.Kind == "List" {
		list := &corev1.List{}
		problems, err := strict(doc, list)
		if err != nil || len(problems) > 0 {
			c.fail(where, "List: %v", errors.Join(append(problems, err)...))
			return
		}
		for _, item := range list.Items {
			c.decode(file, n, item.Raw) // JSON, a subset of YAML
		}
		return
	}
	if meta.Kind == "Kustomization" {
		k := &Kustomization{}
		problems, err := strict(doc, k)
		if err != nil {
			c.fail(where, "Kustomization: %v", err)
			return
		}
		for _, p := range problems {
			c.fail(where, "Kustomization: %v", p)
		}
		if k.APIVersion != "kustomize.config.k8s.io/v1beta1" {
			c.fail(where, "Kustomization: apiVersion %q is not kustomize.config.k8s.io/v1beta1", k.APIVersion)
		}
		c.kusts[file] = k
		return
	}
	newObject, ok := kinds[meta.APIVersion+"/"+meta.Kind]
	if !ok {
		c.fail(where, "apiVersion %q kind %q is not a kind this checker knows (add its Go type to kinds)",
			meta.APIVersion, meta.Kind)
		return
	}
	obj := newObject()
	problems, err := strict(doc, obj)
	if err != nil {
		c.fail(where, "%s: %v", meta.Kind, err)
		return
	}
	name := obj.(metav1.Object).GetName()
	if name == "" {
		c.fail(where, "%s without metadata.name", meta.Kind)
		return
	}
	for _, p := range problems {
		c.fail(object{file: file, kind: meta.Kind, name: name}, "%v", p)
	}
	c.objects = append(c.objects, object{file: file, kind: meta.Kind, name: name, obj: obj})
}

// strict decodes one YAML document as the API server does with strict field validation: a key repeated in a
// mapping, a field the Go type does not have, or a field written in another case (encoding/json alone would
// take readOnlyRootFileSystem for readOnlyRootFilesystem; the API server drops it) is a problem naming its path.
// Those problems come back with the object decoded all the same (what the API server would keep), so the rules
// still run on it; err is for a document that does not decode at all.
func strict(doc []byte, obj any) (problems []error, err error) {
	asJSON, err := yaml.YAMLToJSONStrict(doc)
	if err != nil {
		return nil, err
	}
	return kjson.UnmarshalStrict(asJSON, obj, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
}

func (c *checker) rules() {
	secrets := map[string]*corev1.Secret{}
	configMaps := map[string]*corev1.ConfigMap{}
	claims := map[string]bool{}
	var deployments []object
	for _, o := range c.objects {
		switch v := o.obj.(type) {
		case *corev1.Secret:
			secrets[o.name] = v
			c.secret(o, v)
		case *corev1.ConfigMap:
			configMaps[o.name] = v
			c.configMap(o, v)
		case *corev1.PersistentVolumeClaim:
			claims[o.name] = true
		case *appsv1.Deployment:
			deployments = append(deployments, o)
		}
	}
	refs := refs{secrets: secrets, configMaps: configMaps, claims: claims}
	for _, o := range c.objects {
		switch v := o.obj.(type) {
		case *appsv1.Deployment:
			c.deployment(o, v, refs)
		case *batchv1.Job:
			c.pod(o, &v.Spec.Template.Spec, refs)
		case *corev1.Service:
			c.service(o, v, deployments)
		case *policyv1.PodDisruptionBudget:
			if n := len(selected(v.Spec.Selector, deployments)); n != 1 {
				c.fail(o, "selects the pods of %d Deployments (one, exactly)", n)
			}
		}
	}
	c.disruptionBudgets(deployments)
	c.kustomizations()
}

type refs struct {
	secrets    map[string]*corev1.Secret
	configMaps map[string]*corev1.ConfigMap
	claims     map[string]bool
}

// credential: a variable or key whose name says it holds one.
func credential(name string) bool {
	upper := strings.ToUpper(name)
	for _, word := range []string{"KEY", "PASSWORD", "SECRET", "TOKEN"} {
		if strings.Contains(upper, word) {
			return true
		}
	}
	return false
}

func public(name string) bool { return strings.Contains(strings.ToUpper(name), "PUBLIC_KEY") }

func (c *checker) secret(o object, s *corev1.Secret) {
	if len(s.Data) > 0 {
		c.fail(o, "carries data: no secret value is committed (python -m infra.k8s_secrets makes them)")
	}
	for key, value := range s.StringData {
		if value != "" {
			c.fail(o, "carries a value for %s: no secret value is committed (python -m infra.k8s_secrets makes them)", key)
		}
	}
	if len(s.StringData) == 0 {
		c.fail(o, "declares no key (stringData with each key and an empty value)")
	}
}

func (c *checker) configMap(o object, m *corev1.ConfigMap) {
	for key, value := range m.Data {
		if credential(key) && !public(key) && value != "" {
			c.fail(o, "holds %s, a credential: it belongs in a Secret", key)
		}
		if at := strings.Index(value, "@"); at > 0 && strings.Contains(value[:at], "://") &&
			strings.Contains(value[strings.Index(value, "://")+3:at], ":") {
			c.fail(o, "%s is a URI with a password in it: the password belongs in a Secret", key)
		}
	}
	for key := range m.BinaryData {
		if credential(key) && !public(key) {
			c.fail(o, "holds %s, a credential: it belongs in a Secret", key)
		}
	}
}

func selected(selector *metav1.LabelSelector, deployments []object) []string {
	sel, err := metav1.LabelSelectorAsSelector(selector)
	if err != nil {
		return nil
	}
	var names []string
	for _, d := range deployments {
		if sel.Matches(labels.Set(d.obj.(*appsv1.Deployment).Spec.Template.Labels)) {
			names = append(names, d.name)
		}
	}
	return names
}

func (c *checker) deployment(o object, d *appsv1.Deployment, r refs) {
	if d.Spec.Replicas == nil || *d.Spec.Replicas < minReplicas {
		c.fail(o, "runs fewer than %d replicas (spec.replicas)", minReplicas)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil || d.Spec.Selector == nil || sel.Empty() || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		c.fail(o, "its selector does not select its own pod template's labels")
	}
	spread := false
	for _, t := range d.Spec.Template.Spec.TopologySpreadConstraints {
		if t.TopologyKey == nodeKey && t.WhenUnsatisfiable == corev1.DoNotSchedule && t.LabelSelector != nil {
			if s, err := metav1.LabelSelectorAsSelector(t.LabelSelector); err == nil &&
				s.Matches(labels.Set(d.Spec.Template.Labels)) {
				spread = true
			}
		}
	}
	if !spread {
		c.fail(o, "does not spread its replicas across nodes (a topologySpreadConstraint on %s, DoNotSchedule, "+
			"selecting its pods)", nodeKey)
	}
	for _, ct := range d.Spec.Template.Spec.Containers {
		c.probe(o, ct, ct.ReadinessProbe, "readinessProbe", readyPath)
		c.probe(o, ct, ct.LivenessProbe, "livenessProbe", livePath)
	}
	c.pod(o, &d.Spec.Template.Spec, r)
}

func (c *checker) probe(o object, ct corev1.Container, p *corev1.Probe, what, path string) {
	if p == nil || p.HTTPGet == nil {
		c.fail(o, "container %s has no %s (GET %s)", ct.Name, what, path)
		return
	}
	if p.HTTPGet.Path != path {
		c.fail(o, "container %s: %s asks %q, not %s", ct.Name, what, p.HTTPGet.Path, path)
	}
	if !hasPort(ct, p.HTTPGet.Port) {
		c.fail(o, "container %s: %s port %s is not one of its container ports", ct.Name, what, p.HTTPGet.Port.String())
	}
}

func hasPort(ct corev1.Container, port intstr.IntOrString) bool {
	for _, p := range ct.Ports {
		if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
			return true
		}
	}
	return false
}

func (c *checker) pod(o object, spec *corev1.PodSpec, r refs) {
	podSec := spec.SecurityContext
	if podSec == nil {
		podSec = &corev1.PodSecurityContext{}
	}
	if spec.HostNetwork || spec.HostPID || spec.HostIPC {
		c.fail(o, "shares a host namespace (hostNetwork, hostPID or hostIPC)")
	}
	for _, v := range spec.Volumes {
		switch {
		case v.HostPath != nil:
			c.fail(o, "volume %s is a hostPath", v.Name)
		case v.Secret != nil && r.secrets[v.Secret.SecretName] == nil:
			c.fail(o, "volume %s: no Secret %s under the folder", v.Name, v.Secret.SecretName)
		case v.ConfigMap != nil && r.configMaps[v.ConfigMap.Name] == nil:
			c.fail(o, "volume %s: no ConfigMap %s under the folder", v.Name, v.ConfigMap.Name)
		case v.PersistentVolumeClaim != nil && !r.claims[v.PersistentVolumeClaim.ClaimName]:
			c.fail(o, "volume %s: no PersistentVolumeClaim %s under the folder", v.Name, v.PersistentVolumeClaim.ClaimName)
		}
	}
	all := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	for _, ct := range all {
		sec := ct.SecurityContext
		if sec == nil {
			sec = &corev1.SecurityContext{}
		}
		if !isTrue(sec.RunAsNonRoot) && !isTrue(podSec.RunAsNonRoot) {
			c.fail(o, "container %s may run as root (runAsNonRoot)", ct.Name)
		}
		if uid := firstInt(sec.RunAsUser, podSec.RunAsUser); uid != nil && *uid == 0 {
			c.fail(o, "container %s runs as user 0", ct.Name)
		}
		seccomp := sec.SeccompProfile
		if seccomp == nil {
			seccomp = podSec.SeccompProfile
		}
		if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
			c.fail(o, "container %s: seccompProfile is not RuntimeDefault", ct.Name)
		}
		if sec.AllowPrivilegeEscalation == nil || *sec.AllowPrivilegeEscalation {
			c.fail(o, "container %s may escalate privileges (allowPrivilegeEscalation: false)", ct.Name)
		}
		if isTrue(sec.Privileged) {
			c.fail(o, "container %s is privileged", ct.Name)
		}
		if !isTrue(sec.ReadOnlyRootFilesystem) {
			c.fail(o, "container %s can write its root filesystem (readOnlyRootFilesystem: true, and a volume "+
				"where it writes)", ct.Name)
		}
		if sec.Capabilities == nil || !dropsAll(sec.Capabilities.Drop) || len(sec.Capabilities.Add) > 0 {
			c.fail(o, "container %s keeps capabilities (drop: [ALL], add none)", ct.Name)
		}
		c.resources(o, ct)
		c.env(o, ct, r)
	}
}

func isTrue(b *bool) bool { return b != nil && *b }

func firstInt(values ...*int64) *int64 {
	for _, v := range values {
		if v != nil {
			return v
		}
	}
	return nil
}

func dropsAll(caps []corev1.Capability) bool {
	for _, c := range caps {
		if c == "ALL" {
			return true
		}
	}
	return false
}

func (c *checker) resources(o object, ct corev1.Container) {
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := ct.Resources.Requests[name]
		lim, hasLim := ct.Resources.Limits[name]
		if !hasReq {
			c.fail(o, "container %s has no %s request", ct.Name, name)
		}
		if !hasLim {
			c.fail(o, "container %s has no %s limit", ct.Name, name)
		}
		if hasReq && hasLim && req.Cmp(lim) > 0 {
			c.fail(o, "container %s: %s request %s is above its limit %s", ct.Name, name, req.String(), lim.String())
		}
		if hasReq && req.Cmp(resource.Quantity{}) <= 0 {
			c.fail(o, "container %s: %s request is zero", ct.Name, name)
		}
	}
}

func (c *checker) env(o object, ct corev1.Container, r refs) {
	for _, e := range ct.Env {
		from := e.ValueFrom
		switch {
		case from == nil:
			if credential(e.Name) && e.Value != "" {
				c.fail(o, "container %s: %s has a plain-text value: a credential comes from a Secret (secretKeyRef)",
					ct.Name, e.Name)
			}
		case from.SecretKeyRef != nil:
			ref := from.SecretKeyRef
			s := r.secrets[ref.Name]
			if s == nil {
				c.fail(o, "container %s: %s comes from Secret %s, which no manifest under the folder defines",
					ct.Name, e.Name, ref.Name)
			} else if _, ok := s.StringData[ref.Key]; !ok {
				c.fail(o, "container %s: %s comes from key %s of Secret %s, which that Secret does not declare",
					ct.Name, e.Name, ref.Key, ref.Name)
			}
		case from.ConfigMapKeyRef != nil:
			ref := from.ConfigMapKeyRef
			if credential(e.Name) && !public(e.Name) {
				c.fail(o, "container %s: %s, a credential, comes from ConfigMap %s: it belongs in a Secret",
					ct.Name, e.Name, ref.Name)
			}
			m := r.configMaps[ref.Name]
			if m == nil {
				c.fail(o, "container %s: %s comes from ConfigMap %s, which no manifest under the folder defines",
					ct.Name, e.Name, ref.Name)
			} else if _, ok := m.Data[ref.Key]; !ok {
				c.fail(o, "container %s: %s comes from key %s of ConfigMap %s, which that ConfigMap does not have",
					ct.Name, e.Name, ref.Key, ref.Name)
			}
		}
	}
	for _, from := range ct.EnvFrom {
		if from.SecretRef != nil && r.secrets[from.SecretRef.Name] == nil {
			c.fail(o, "container %s: envFrom Secret %s, which no manifest under the folder defines", ct.Name,
				from.SecretRef.Name)
		}
		if from.ConfigMapRef != nil {
			m := r.configMaps[from.ConfigMapRef.Name]
			if m == nil {
				c.fail(o, "container %s: envFrom ConfigMap %s, which no manifest under the folder defines", ct.Name,
					from.ConfigMapRef.Name)
				continue
			}
			for key := range m.Data {
				if credential(key) && !public(key) {
					c.fail(o, "container %s: envFrom ConfigMap %s gives it %s, a credential", ct.Name, m.Name, key)
				}
			}
		}
	}
}

func (c *checker) service(o object, s *corev1.Service, deployments []object) {
	if len(s.Spec.Selector) == 0 {
		c.fail(o, "has no selector")
		return
	}
	names := selected(&metav1.LabelSelector{MatchLabels: s.Spec.Selector}, deployments)
	if len(names) != 1 {
		c.fail(o, "selects the pods of %d Deployments (one, exactly)", len(names))
		return
	}
	var d *appsv1.Deployment
	for _, dep := range deployments {
		if dep.name == names[0] {
			d = dep.obj.(*appsv1.Deployment)
		}
	}
	for _, port := range s.Spec.Ports {
		target := port.TargetPort
		if target.Type == intstr.Int && target.IntVal == 0 {
			target = intstr.FromInt32(port.Port) // unset: the Service's own port
		}
		found := false
		for _, ct := range d.Spec.Template.Spec.Containers {
			found = found || hasPort(ct, target)
		}
		if !found {
			c.fail(o, "port %d targets %s, which no container of Deployment %s exposes", port.Port, target.String(),
				names[0])
		}
	}
}

// disruptionBudgets: each Deployment has exactly one PDB, which lets one pod go at a time and keeps one.
func (c *checker) disruptionBudgets(deployments []object) {
	for _, d := range deployments {
		dep := d.obj.(*appsv1.Deployment)
		var budgets []*policyv1.PodDisruptionBudget
		for _, o := range c.objects {
			if pdb, ok := o.obj.(*policyv1.PodDisruptionBudget); ok {
				if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil &&
					sel.Matches(labels.Set(dep.Spec.Template.Labels)) {
					budgets = append(budgets, pdb)
				}
			}
		}
		if len(budgets) != 1 {
			c.fail(d, "is selected by %d PodDisruptionBudgets (one, exactly)", len(budgets))
			continue
		}
		spec := budgets[0].Spec
		replicas := int32(1)
		if dep.Spec.Replicas != nil {
			replicas = *dep.Spec.Replicas
		}
		switch {
		case spec.MinAvailable == nil && spec.MaxUnavailable == nil:
			c.fail(d, "its PodDisruptionBudget %s sets neither minAvailable nor maxUnavailable", budgets[0].Name)
		case spec.MinAvailable != nil:
			keep, err := intstr.GetScaledValueFromIntOrPercent(spec.MinAvailable, int(replicas), true)
			if err != nil || keep < 1 || keep >= int(replicas) {
				c.fail(d, "its PodDisruptionBudget %s keeps minAvailable %s of %d replicas: at least 1, and fewer "+
					"than all (a drain must be able to evict one)", budgets[0].Name, spec.MinAvailable.String(), replicas)
			}
		}
	}
}

// kustomizations: every listed resource exists and is decoded; every other manifest is a declaration of what
// `python -m infra.k8s_secrets` makes (Secrets, ConfigMaps without values), never applied by kustomize.
func (c *checker) kustomizations() {
	listed := map[string]bool{}
	for file, k := range c.kusts {
		dir := filepath.Dir(file)
		for _, res := range k.Resources {
			path := filepath.Clean(filepath.Join(dir, res))
			info, err := os.Stat(filepath.Join(c.root, path))
			if err != nil || info.IsDir() {
				c.fail(place(file), "resource %s is not a file under the folder", res)
				continue
			}
			listed[path] = true
		}
		for _, o := range c.objects {
			if ns := o.obj.(metav1.Object).GetNamespace(); ns != "" && k.Namespace != "" && ns != k.Namespace {
				c.fail(o, "is in namespace %s, the kustomization's is %s", ns, k.Namespace)
			}
		}
	}
	if len(c.kusts) == 0 {
		return
	}
	for _, o := range c.objects {
		_, isSecret := o.obj.(*corev1.Secret)
		m, isConfigMap := o.obj.(*corev1.ConfigMap)
		switch {
		case listed[o.file] && isSecret:
			c.fail(o, "is a kustomize resource: kubectl apply would own it and empty it after python -m "+
				"infra.k8s_secrets filled it; declare it in a file no kustomization lists")
		case !listed[o.file] && !isSecret && !(isConfigMap && empty(m)):
			c.fail(o, "is in a file no kustomization lists: kubectl apply -k would never apply it")
		}
	}
}

func empty(m *corev1.ConfigMap) bool {
	for _, v := range m.Data {
		if v != "" {
			return false
		}
	}
	return len(m.BinaryData) == 0
}
