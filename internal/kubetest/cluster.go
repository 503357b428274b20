// Package kubetest runs a real control plane for the Job runtime's tests:
// etcd, kube-apiserver and kube-controller-manager (the Job, TTL and
// garbage collector controllers) built from the k8s.io/kubernetes module
// (test/kube, make jobs), and a Node that plays the kubelet for Job pods:
// it runs each pod's command as a local process with the pod's
// environment and volumes materialised in a temp dir, and writes the pod's
// status back.
package kubetest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/freeport"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testlog"
)

// Cluster is a running control plane.
type Cluster struct {
	Kubeconfig string
	Client     kubernetes.Interface
	Logs       *testlog.Buffer
}

// Binaries finds kube-apiserver and kube-controller-manager: KUBE_BIN_DIR,
// else bin/ of the module root. ok is false when they are not built.
func Binaries(root string) (dir string, ok bool) {
	dir = os.Getenv("KUBE_BIN_DIR")
	if dir == "" {
		dir = filepath.Join(root, "bin")
	}
	for _, b := range []string{"kube-apiserver", "kube-controller-manager"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return dir, false
		}
	}
	return dir, true
}

// Start runs etcd, kube-apiserver and kube-controller-manager for the test,
// creates namespace ns, and returns once the Job controller creates pods:
// a test that times how long a Job's pod takes to start must not count the
// controller manager's own start (on a loaded machine, over ten seconds).
func Start(t *testing.T, binDir, ns string) *Cluster {
	t.Helper()
	dir := t.TempDir()
	logs := &testlog.Buffer{}
	start := func(name string, args ...string) {
		cmd := exec.Command(name, args...)
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	}
	ports, err := freeport.Ports(3)
	if err != nil {
		t.Fatal(err)
	}
	etcdPort, peerPort, apiPort := ports[0], ports[1], ports[2]
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	start("etcd", "--data-dir", filepath.Join(dir, "etcd"), "--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peerPort), "--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(peerPort),
		"--initial-cluster", "default=http://127.0.0.1:"+strconv.Itoa(peerPort), "--unsafe-no-fsync")

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	saKey := write("sa.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	saPub := write("sa.pub", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
	tokens := write("tokens.csv", []byte("kubetest-admin-token,admin,admin,system:masters\n"))
	start(filepath.Join(binDir, "kube-apiserver"),
		"--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--secure-port", strconv.Itoa(apiPort),
		"--cert-dir", filepath.Join(dir, "certs"), "--token-auth-file", tokens, "--authorization-mode", "RBAC",
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", saPub,
		"--service-account-signing-key-file", saKey, "--service-cluster-ip-range", "10.0.0.0/24",
		"--enable-priority-and-fairness=false", "--disable-admission-plugins", "ServiceAccount")
	kubeconfig := write("admin.kubeconfig", []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: test, cluster: {server: "https://127.0.0.1:%d", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: kubetest-admin-token}}]
contexts: [{name: test, context: {cluster: test, user: admin}}]
current-context: test
`, apiPort)))
	start(filepath.Join(binDir, "kube-controller-manager"), "--kubeconfig", kubeconfig,
		"--controllers", "job-controller,ttl-after-finished-controller,garbage-collector-controller",
		"--use-service-account-credentials=false", "--leader-elect=false", "--secure-port", "0")

	rest, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	client, err := kubernetes.NewForConfig(rest)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, err := client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver did not come up: %v\n%s", err, logs.String())
		}
		time.Sleep(300 * time.Millisecond)
	}
	if err := awaitJobController(client, deadline); err != nil {
		t.Fatalf("kube-controller-manager: %v\n%s", err, logs.String())
	}
	return &Cluster{Kubeconfig: kubeconfig, Client: client, Logs: logs}
}

// readyNamespace holds the probe Job; no Node watches it, so its pod is
// never run.
const readyNamespace = "kubetest-ready"

// awaitJobController creates a probe Job and waits for its pod, then
// deletes both.
func awaitJobController(client kubernetes.Interface, deadline time.Time) error {
	ctx := context.Background()
	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: readyNamespace}}, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create namespace %s: %w", readyNamespace, err)
	}
	probe := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "probe"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "probe", Image: "probe"}},
		}}},
	}
	if _, err := client.BatchV1().Jobs(readyNamespace).Create(ctx, probe, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create the probe Job: %w", err)
	}
	for {
		pods, err := client.CoreV1().Pods(readyNamespace).List(ctx, metav1.ListOptions{LabelSelector: batchv1.JobNameLabel + "=probe"})
		if err == nil && len(pods.Items) > 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the Job controller created no pod for a probe Job in time (last error: %v)", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	background := metav1.DeletePropagationBackground
	return client.BatchV1().Jobs(readyNamespace).Delete(ctx, "probe", metav1.DeleteOptions{PropagationPolicy: &background})
}
