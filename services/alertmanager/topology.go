package alertmanager

import (
	"fmt"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
)

// OwnerLabel says that an alert carrying Label names a controller of Kind.
type OwnerLabel struct {
	Label      string `yaml:"label"`
	Kind       string `yaml:"kind"`
	APIVersion string `yaml:"apiVersion"`
}

// LabelMap says which alert labels carry a fault's topology. An alert
// names its node and controllers in labels, where a server fault needs
// lookups: the labels are all the runner will learn, and it never looks
// further.
type LabelMap struct {
	Node      string `yaml:"node"`
	Pod       string `yaml:"pod"`
	Container string `yaml:"container"`
	// Chains are controller chains, each nearest first (ReplicaSet, then
	// Deployment). The first chain with a label on the alert gives the
	// owners; an alert naming two unrelated controllers is rare enough
	// that guessing between them would be inventing.
	Chains [][]OwnerLabel `yaml:"chains"`
}

// DefaultLabelMap fits kube-prometheus-stack (the kubernetes-mixin rules
// over kube-state-metrics): node, pod, container, and the controllers
// replicaset → deployment, job_name → cronjob, statefulset, daemonset.
// The Job label is job_name: job is Prometheus's scrape job.
func DefaultLabelMap() LabelMap {
	return LabelMap{
		Node:      "node",
		Pod:       "pod",
		Container: "container",
		Chains: [][]OwnerLabel{
			{{Label: "replicaset", Kind: "ReplicaSet", APIVersion: "apps/v1"}, {Label: "deployment", Kind: "Deployment", APIVersion: "apps/v1"}},
			{{Label: "job_name", Kind: "Job", APIVersion: "batch/v1"}, {Label: "cronjob", Kind: "CronJob", APIVersion: "batch/v1"}},
			{{Label: "statefulset", Kind: "StatefulSet", APIVersion: "apps/v1"}},
			{{Label: "daemonset", Kind: "DaemonSet", APIVersion: "apps/v1"}},
		},
	}
}

// Validate checks that every label named is a label name and every owner
// has a kind.
func (m LabelMap) Validate() error {
	for _, f := range []struct{ key, v string }{{"node", m.Node}, {"pod", m.Pod}, {"container", m.Container}} {
		if f.v != "" && !labelName.MatchString(f.v) {
			return fmt.Errorf("alertmanager label map: %s: %q is not a label name", f.key, f.v)
		}
	}
	for i, chain := range m.Chains {
		for j, o := range chain {
			if !labelName.MatchString(o.Label) {
				return fmt.Errorf("alertmanager label map: chains[%d][%d].label: %q is not a label name", i, j, o.Label)
			}
			if o.Kind == "" || len(o.Kind) > 128 || len(o.APIVersion) > 128 {
				return fmt.Errorf("alertmanager label map: chains[%d][%d]: want a kind such as Deployment and an apiVersion of at most 128 bytes", i, j)
			}
		}
	}
	return nil
}

// TopologyFromLabels reads an alert's node, container and owner chain from
// its labels. With a pod label the alert is about the pod, and every
// controller of the chain on it is an owner. Without one the nearest
// controller on the alert is the alert's own resource (as DefaultMapping
// picks it: a KubeDeploymentReplicasMismatch is about the Deployment) and
// only those above it are owners. A value too long to be a Kubernetes name
// is left out and said so in Failures: the topology is then partial,
// never invented.
func TopologyFromLabels(labels map[string]string, m LabelMap) fault.Topology {
	var t fault.Topology
	get := func(label string) string {
		if label == "" {
			return ""
		}
		v := labels[label]
		if len(v) > fault.MaxFieldBytes {
			t.Failures = append(t.Failures, fmt.Sprintf("label %s: value of %d bytes, over %d", label, len(v), fault.MaxFieldBytes))
			return ""
		}
		return v
	}
	t.Node = get(m.Node)
	t.Container = get(m.Container)
	onPod := get(m.Pod) != ""
	for _, chain := range m.Chains {
		var owners []fault.Owner
		for _, o := range chain {
			if name := get(o.Label); name != "" {
				owners = append(owners, fault.Owner{APIVersion: o.APIVersion, Kind: o.Kind, Name: name})
			}
		}
		if len(owners) == 0 {
			continue
		}
		if !onPod {
			owners = owners[1:]
		}
		if len(owners) > 0 {
			t.Owners = owners
		}
		break
	}
	return t
}
