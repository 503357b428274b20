package kubetest

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// Node plays the kubelet for the pods of one namespace: it runs each
// Pending pod's init containers and first container as local processes,
// with emptyDir and Secret volumes as temp dirs and every mount path in
// the command, arguments and environment mapped to them, and writes the
// pod's phase and container status back. A deleted pod's process group
// gets SIGTERM, then SIGKILL.
type Node struct {
	Client    kubernetes.Interface
	Namespace string
	// Images maps a path inside an image (a container's command[0]) to a
	// local program.
	Images map[string]string
	// Refuse, when set, is asked for each pod: a non-empty reason leaves it
	// Pending with its container waiting for that reason (ErrImagePull).
	Refuse func(corev1.Pod) string

	mu      sync.Mutex
	seen    map[types.UID]bool
	started []string
}

// Started lists the pods whose containers the node ran, in order.
func (n *Node) Started() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.started...)
}

// Run plays the node until the test ends.
func (n *Node) Run(t *testing.T) {
	n.seen = map[types.UID]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			pods, err := n.Client.CoreV1().Pods(n.Namespace).List(ctx, metav1.ListOptions{})
			if err == nil {
				for _, p := range pods.Items {
					if p.Status.Phase != corev1.PodPending && p.Status.Phase != "" || n.seen[p.UID] || p.DeletionTimestamp != nil {
						continue
					}
					n.seen[p.UID] = true
					wg.Add(1)
					go func() { defer wg.Done(); n.runPod(ctx, t, p) }()
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
}

func (n *Node) runPod(ctx context.Context, t *testing.T, p corev1.Pod) {
	c := p.Spec.Containers[0]
	if n.Refuse != nil {
		if reason := n.Refuse(p); reason != "" {
			n.status(ctx, p.Name, map[string]any{"phase": "Pending", "containerStatuses": []any{map[string]any{
				"name": c.Name, "image": c.Image, "imageID": "", "ready": false, "restartCount": 0,
				"state": map[string]any{"waiting": map[string]any{"reason": reason, "message": "refused by the test node"}}}}})
			return
		}
	}
	root, err := os.MkdirTemp("", "kubetest-pod-")
	if err != nil {
		t.Error(err)
		return
	}
	defer os.RemoveAll(root)
	vols, err := n.volumes(ctx, p, root)
	if err != nil {
		t.Errorf("pod %s volumes: %v", p.Name, err)
		return
	}
	for _, ic := range p.Spec.InitContainers {
		if code, _ := n.run(ctx, p, ic, vols); code != 0 {
			n.terminate(ctx, p, c, code)
			return
		}
	}
	n.mu.Lock()
	n.started = append(n.started, p.Name)
	n.mu.Unlock()
	n.status(ctx, p.Name, map[string]any{"phase": "Running", "startTime": time.Now().UTC().Format(time.RFC3339), "containerStatuses": []any{map[string]any{
		"name": c.Name, "image": c.Image, "imageID": "", "ready": true, "restartCount": 0, "started": true,
		"state": map[string]any{"running": map[string]any{"startedAt": time.Now().UTC().Format(time.RFC3339)}}}}})
	code, deleted := n.run(ctx, p, c, vols)
	if !deleted {
		n.terminate(ctx, p, c, code)
	}
}

func (n *Node) terminate(ctx context.Context, p corev1.Pod, c corev1.Container, code int) {
	phase := "Succeeded"
	if code != 0 {
		phase = "Failed"
	}
	now := time.Now().UTC().Format(time.RFC3339)
	n.status(ctx, p.Name, map[string]any{"phase": phase, "containerStatuses": []any{map[string]any{
		"name": c.Name, "image": c.Image, "imageID": "", "ready": false, "restartCount": 0,
		"state": map[string]any{"terminated": map[string]any{"exitCode": code, "reason": "Completed", "startedAt": now, "finishedAt": now}}}}})
}

func (n *Node) status(ctx context.Context, name string, status map[string]any) {
	patch, _ := json.Marshal(map[string]any{"status": status})
	_, _ = n.Client.CoreV1().Pods(n.Namespace).Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
}

// volumes materialises the pod's emptyDir and Secret volumes; it returns
// mount path → local dir for the container's mounts.
func (n *Node) volumes(ctx context.Context, p corev1.Pod, root string) (map[string]string, error) {
	dirs := map[string]string{}
	for _, v := range p.Spec.Volumes {
		d := filepath.Join(root, v.Name)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
		dirs[v.Name] = d
		if v.Secret == nil {
			continue
		}
		s, err := n.Client.CoreV1().Secrets(n.Namespace).Get(ctx, v.Secret.SecretName, metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		for _, it := range v.Secret.Items {
			if err := os.WriteFile(filepath.Join(d, it.Path), s.Data[it.Key], 0o400); err != nil {
				return nil, err
			}
		}
	}
	return dirs, nil
}

// run runs one container to its end; deleted says the pod was deleted
// (and the process killed) first.
func (n *Node) run(ctx context.Context, p corev1.Pod, c corev1.Container, vols map[string]string) (int, bool) {
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = vols[m.Name]
	}
	mapPath := func(s string) string {
		for mp, local := range mounts {
			s = strings.ReplaceAll(s, mp, local)
		}
		return s
	}
	argv := append(append([]string{}, c.Command...), c.Args...)
	if local, ok := n.Images[argv[0]]; ok {
		argv[0] = local
	}
	for i := range argv {
		argv[i] = mapPath(argv[i])
	}
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, e := range c.Env {
		v := e.Value
		if r := e.ValueFrom; r != nil && r.SecretKeyRef != nil {
			s, err := n.Client.CoreV1().Secrets(n.Namespace).Get(ctx, r.SecretKeyRef.Name, metav1.GetOptions{})
			if err != nil {
				return 1, false
			}
			v = string(s.Data[r.SecretKeyRef.Key])
		}
		env = append(env, e.Name+"="+mapPath(v))
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = env, mapPath(c.WorkingDir)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return 127, false
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return exit.ExitCode(), false
			}
			return 0, false
		case <-ctx.Done():
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
			return 137, true
		case <-tick.C:
			cur, err := n.Client.CoreV1().Pods(n.Namespace).Get(ctx, p.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) || (err == nil && (cur.DeletionTimestamp != nil || cur.UID != p.UID)) {
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
				select {
				case <-done:
				case <-time.After(5 * time.Second):
					_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
					<-done
				}
				_ = n.Client.CoreV1().Pods(n.Namespace).Delete(context.Background(), p.Name, *metav1.NewDeleteOptions(0))
				return 137, true
			}
		}
	}
}
