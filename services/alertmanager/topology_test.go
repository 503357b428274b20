package alertmanager_test

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/services/alertmanager"
)

func TestTopologyFromKubePrometheusStackLabels(t *testing.T) {
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   fault.Topology
	}{{
		name:   "a node alert names the node itself",
		labels: map[string]string{"alertname": "KubeNodeNotReady", "node": "n1", "job": "kube-state-metrics"},
		want:   fault.Topology{Node: "n1"},
	}, {
		name: "a pod alert with its controllers and node, nearest owner first",
		labels: map[string]string{"alertname": "PodDown", "namespace": "shop", "pod": "api-7d9c-x", "container": "api",
			"node": "n1", "replicaset": "api-7d9c", "deployment": "api"},
		want: fault.Topology{Node: "n1", Container: "api", Owners: []fault.Owner{
			{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "api-7d9c"}, {APIVersion: "apps/v1", Kind: "Deployment", Name: "api"}}},
	}, {
		name:   "a Deployment alert is about the Deployment, which is not its own owner",
		labels: map[string]string{"alertname": "KubeDeploymentReplicasMismatch", "namespace": "shop", "deployment": "api"},
		want:   fault.Topology{},
	}, {
		name:   "a Job alert's owner is its CronJob; job is the scrape job",
		labels: map[string]string{"alertname": "KubeJobFailed", "namespace": "ops", "job_name": "backup-29", "cronjob": "backup", "job": "kube-state-metrics"},
		want:   fault.Topology{Owners: []fault.Owner{{APIVersion: "batch/v1", Kind: "CronJob", Name: "backup"}}},
	}, {
		name:   "a pod of a StatefulSet",
		labels: map[string]string{"pod": "db-0", "statefulset": "db", "container": "postgres"},
		want:   fault.Topology{Container: "postgres", Owners: []fault.Owner{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: "db"}}},
	}, {
		name:   "a name too long for Kubernetes is left out and said so",
		labels: map[string]string{"pod": "p", "node": strings.Repeat("n", fault.MaxFieldBytes+1)},
		want:   fault.Topology{Failures: []string{"label node: value of 1025 bytes, over 1024"}},
	}} {
		t.Run(c.name, func(t *testing.T) {
			if got := alertmanager.TopologyFromLabels(c.labels, alertmanager.DefaultLabelMap()); !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// The recorded kube-prometheus-stack alert names its pod and container
// and nothing above them: the topology says no more than that.
func TestTopologyOfTheRecordedCrashLoopAlert(t *testing.T) {
	data, err := os.ReadFile("testdata/grouped.json")
	if err != nil {
		t.Fatal(err)
	}
	n, err := alertmanager.DecodeBytes(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Alerts) != 2 {
		t.Fatalf("%d alerts in the recording, want 2", len(n.Alerts))
	}
	for _, a := range n.Alerts {
		got := alertmanager.TopologyFromLabels(a.Labels, alertmanager.DefaultLabelMap())
		if want := (fault.Topology{Container: "api"}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %+v, want %+v", a.Labels["pod"], got, want)
		}
	}
}

func TestTopologyLabelsAreConfigurable(t *testing.T) {
	m := alertmanager.LabelMap{
		Node: "kubernetes_node", Pod: "kubernetes_pod_name",
		Chains: [][]alertmanager.OwnerLabel{{{Label: "app_kubernetes_io_instance", Kind: "Rollout", APIVersion: "argoproj.io/v1alpha1"}}},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	got := alertmanager.TopologyFromLabels(map[string]string{
		"kubernetes_node": "n7", "kubernetes_pod_name": "shop-1", "app_kubernetes_io_instance": "shop",
		"node": "ignored", "deployment": "ignored", "container": "ignored",
	}, m)
	want := fault.Topology{Node: "n7", Owners: []fault.Owner{{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "shop"}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestLabelMapValidateNamesTheWrongField(t *testing.T) {
	if err := alertmanager.DefaultLabelMap().Validate(); err != nil {
		t.Fatalf("default label map: %v", err)
	}
	bad := alertmanager.DefaultLabelMap()
	bad.Chains[1][1].Label = "cron-job"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "chains[1][1].label") {
		t.Errorf("err = %v, want one naming chains[1][1].label", err)
	}
	bad = alertmanager.DefaultLabelMap()
	bad.Node = "1node"
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "node:") {
		t.Errorf("err = %v, want one naming node", err)
	}
}
