//go:build jobs

package packaging

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/kubetest"
)

// The chart installs on a real kube-apiserver v1.35 (built from the
// k8s.io/kubernetes module, as for the Job runtime's tests) with the
// incidents page, the Alertmanager intake, the notifications file, the
// NetworkPolicy and the Job runtime on: helm install with the server's
// own validation, then the runner's pod, as the Deployment would create
// it, is admitted in a namespace that enforces the restricted Pod Security
// Standard. Gateway API and Prometheus Operator objects need their CRDs
// and are left off here; their rendering is checked by the other tests.
func TestJobsChartInstallsOnARealAPIServer(t *testing.T) {
	bins, ok := kubetest.Binaries("..")
	if !ok {
		t.Skip("kube-apiserver and kube-controller-manager are not built (make jobs builds them into bin/)")
	}
	c := kubetest.Start(t, bins, "ops")
	ctx := context.Background()
	ns, err := c.Client.CoreV1().Namespaces().Get(ctx, "ops", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns.Labels = map[string]string{"pod-security.kubernetes.io/enforce": "restricted", "pod-security.kubernetes.io/enforce-version": "latest"}
	if _, err := c.Client.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct{ name, key string }{{"ui-token", "token"}, {"am-pass", "password"}, {"notify", "sinks.yaml"}} {
		if _, err := c.Client.CoreV1().Secrets("ops").Create(ctx, &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: s.name}, StringData: map[string]string{s.key: "x"},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "agents"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	set := []string{
		"ui.enabled=true", "ui.bearerTokenSecret.name=ui-token", "ui.externalURL=https://runner.example.com",
		"ui.ingress.enabled=true", "ui.ingress.className=nginx",
		"intake.enabled=true", "intake.basicAuth.username=alertmanager", "intake.basicAuth.passwordSecret.name=am-pass",
		"notifications.enabled=true", "notifications.secretName=notify", "notifications.key=sinks.yaml",
		"networkPolicy.enabled=true",
		"agent.runtime=job", "agent.job.namespace=agents", "agent.job.podTemplate.image=example.com/triage:1",
	}
	args := []string{"install", "prod", chart, "--namespace", "ops", "--kubeconfig", c.Kubeconfig}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out := string(helm(t, args...))
	if !strings.Contains(out, "STATUS: deployed") {
		t.Fatalf("helm install: %s", out)
	}

	// The runner's pod, as its ReplicaSet would create it (this control
	// plane runs no deployment controller), is admitted under restricted.
	deps, err := c.Client.AppsV1().Deployments("ops").List(ctx, metav1.ListOptions{})
	if err != nil || len(deps.Items) != 1 {
		t.Fatalf("deployments %v, %v: want the runner's one", deps, err)
	}
	pod := podOf(deps.Items[0])
	if _, err := c.Client.CoreV1().Pods("ops").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("the runner's pod is refused in a namespace enforcing restricted: %v", err)
	}
	// The namespace does enforce it: the same pod running as root is refused.
	bad := podOf(deps.Items[0])
	bad.Name += "-root"
	root, no := int64(0), false
	bad.Spec.SecurityContext.RunAsUser, bad.Spec.SecurityContext.RunAsNonRoot = &root, &no
	if _, err := c.Client.CoreV1().Pods("ops").Create(ctx, bad, metav1.CreateOptions{}); err == nil || !strings.Contains(err.Error(), "restricted") {
		t.Fatalf("a root pod in the restricted namespace: %v, want it refused by Pod Security", err)
	}
	for _, kind := range []struct {
		what string
		n    func() (int, error)
	}{
		{"services", func() (int, error) {
			l, err := c.Client.CoreV1().Services("ops").List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		}},
		{"network policies", func() (int, error) {
			l, err := c.Client.NetworkingV1().NetworkPolicies("ops").List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		}},
		{"ingresses", func() (int, error) {
			l, err := c.Client.NetworkingV1().Ingresses("ops").List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		}},
		{"roles in the agent namespace", func() (int, error) {
			l, err := c.Client.RbacV1().Roles("agents").List(ctx, metav1.ListOptions{})
			return len(l.Items), err
		}},
	} {
		if n, err := kind.n(); err != nil || n == 0 {
			t.Errorf("%s after install: %d, %v", kind.what, n, err)
		}
	}
}

// podOf is the pod a Deployment's ReplicaSet would create.
func podOf(d appsv1.Deployment) *corev1.Pod {
	tmpl := d.Spec.Template.DeepCopy()
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: d.Name + "-test", Labels: tmpl.Labels}, Spec: tmpl.Spec}
}
