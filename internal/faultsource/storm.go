package faultsource

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/recordings"
)

// RecordedStorm is the storm recorded from the real server
// (internal/recordings/upstream-tools, storm.*): the cluster as its gets
// answered after the storm, and the 8 faults' notification data as they
// arrived. Emit each with EmitRaw, in order, to replay it.
func RecordedStorm() (ClusterState, []map[string]any, error) {
	rec := recordings.UpstreamTools()
	var st ClusterState
	var n1 corev1.Node
	if err := recordedObject(rec, "resources_get-node.response.json", &n1); err != nil {
		return st, nil, err
	}
	n2 := corev1.Node{}
	n2.Name = "n2"
	n2.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	st.Nodes = []corev1.Node{n1, n2}
	var rs appsv1.ReplicaSet
	var dep appsv1.Deployment
	var job batchv1.Job
	for file, v := range map[string]any{
		"resources_get-replicaset.response.json":       &rs,
		"after.resources_get-deployment.response.json": &dep,
		"after.resources_get-job.response.json":        &job,
	} {
		if err := recordedObject(rec, file, v); err != nil {
			return st, nil, err
		}
	}
	st.ReplicaSets, st.Deployments, st.Jobs = []appsv1.ReplicaSet{rs}, []appsv1.Deployment{dep}, []batchv1.Job{job}
	for _, p := range []string{"lonely", "web-7d9f-a", "web-7d9f-b"} {
		var pod corev1.Pod
		if err := recordedObject(rec, "after.pods_get-"+p+".response.json", &pod); err != nil {
			return st, nil, err
		}
		st.Pods = append(st.Pods, pod)
	}

	data, err := fs.ReadFile(rec, "storm.stream.notifications.jsonl")
	if err != nil {
		return st, nil, err
	}
	var faults []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var n struct {
			Params struct {
				Data map[string]any `json:"data"`
			} `json:"params"`
		}
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			return st, nil, fmt.Errorf("storm notification %d: %w", len(faults)+1, err)
		}
		faults = append(faults, n.Params.Data)
	}
	return st, faults, sc.Err()
}

// recordedObject decodes the YAML text of a recorded tool answer into v.
func recordedObject(rec fs.FS, name string, v any) error {
	data, err := fs.ReadFile(rec, name)
	if err != nil {
		return err
	}
	var resp struct {
		Result struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &resp); err != nil || len(resp.Result.Content) != 1 {
		return fmt.Errorf("recorded answer %s: %v (%d contents)", name, err, len(resp.Result.Content))
	}
	if err := yaml.Unmarshal([]byte(resp.Result.Content[0].Text), v); err != nil {
		return fmt.Errorf("recorded answer %s: %w", name, err)
	}
	return nil
}

// NodeStorm builds a cluster where node "node-bad" goes NotReady while
// deployments Deployments × pods Pods scheduled on it crash (PodCrash then
// CrashLoop each), and pod "elsewhere" on node "node-good" crashes on its
// own: the state the tools answer about, and the faults in the order the
// server would send them (the node first). Fault ids are the server's:
// the first 8 bytes of SHA-256 of "cluster:faultType:uid:container".
func NodeStorm(cluster string, deployments, pods int, at time.Time) (ClusterState, []fault.Event) {
	var st ClusterState
	ready := func(name string, ok bool) corev1.Node {
		n := corev1.Node{}
		n.Name, n.UID = name, types.UID(uid("node", name))
		status := corev1.ConditionTrue
		if !ok {
			status = corev1.ConditionFalse
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "KubeletNotReady"}}
		return n
	}
	st.Nodes = []corev1.Node{ready("node-bad", false), ready("node-good", true)}
	ctrl := true
	owner := func(apiVersion, kind, name string) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid(kind, name)), Controller: &ctrl}}
	}
	pod := func(name, node string, owners []metav1.OwnerReference) corev1.Pod {
		p := corev1.Pod{}
		p.Name, p.Namespace, p.UID, p.OwnerReferences = name, "default", types.UID(uid("pod", name)), owners
		p.Spec.NodeName = node
		p.Spec.Containers = []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}
		p.Status.Phase = corev1.PodRunning
		p.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: "app", RestartCount: 3,
			State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}}
		return p
	}
	ev := func(faultType, severity, apiVersion, kind, ns, name, uid, container, detail string) fault.Event {
		sum := sha256.Sum256([]byte(cluster + ":" + faultType + ":" + uid + ":" + container))
		ctx, _ := json.Marshal(detail)
		return fault.Event{Cluster: cluster, FaultID: hex.EncodeToString(sum[:8]), FaultType: faultType, Severity: severity,
			Resource: fault.Resource{APIVersion: apiVersion, Kind: kind, Name: name, Namespace: ns, UID: uid}, Context: ctx, Timestamp: at}
	}
	faults := []fault.Event{ev(fault.TypeNodeUnhealthy, "critical", "v1", "Node", "", "node-bad", string(st.Nodes[0].UID), "",
		"Node became unhealthy: Ready=False, reason: KubeletNotReady")}
	crash := func(p corev1.Pod) {
		faults = append(faults,
			ev(fault.TypePodCrash, "warning", "v1", "Pod", p.Namespace, p.Name, string(p.UID), "app", "Container crashed with exit code 137"),
			ev(fault.TypeCrashLoop, "warning", "v1", "Pod", p.Namespace, p.Name, string(p.UID), "app", "Container entered CrashLoopBackOff state"))
	}
	for d := range deployments {
		name := fmt.Sprintf("svc-%d", d)
		dep := appsv1.Deployment{}
		dep.Name, dep.Namespace, dep.UID = name, "default", types.UID(uid("Deployment", name))
		rs := appsv1.ReplicaSet{}
		rs.Name, rs.Namespace, rs.UID = name+"-5f7c", "default", types.UID(uid("ReplicaSet", name+"-5f7c"))
		rs.OwnerReferences = owner("apps/v1", "Deployment", name)
		st.Deployments, st.ReplicaSets = append(st.Deployments, dep), append(st.ReplicaSets, rs)
		for i := range pods {
			p := pod(fmt.Sprintf("%s-%d", rs.Name, i), "node-bad", owner("apps/v1", "ReplicaSet", rs.Name))
			st.Pods = append(st.Pods, p)
			crash(p)
		}
	}
	other := pod("elsewhere", "node-good", nil)
	st.Pods = append(st.Pods, other)
	crash(other)
	return st, faults
}

// uid is a stable made-up uid for an object of the storm.
func uid(kind, name string) string {
	sum := sha256.Sum256([]byte(kind + "/" + name))
	h := hex.EncodeToString(sum[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// EmitNodeStorm makes the stand-in's cluster a NodeStorm and sends its
// faults at once, for the demo: the runner groups them into one incident
// for the node and one for the pod elsewhere.
func (s *Server) EmitNodeStorm(deployments, pods int) int {
	st, faults := NodeStorm(s.o.DefaultContext, deployments, pods, s.now())
	s.SetState(st)
	for _, ev := range faults {
		s.Emit(ev)
	}
	return len(faults)
}
