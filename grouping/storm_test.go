package grouping

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io/fs"
	"slices"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/recordings"
)

// object is the part of a recorded pods_get/resources_get answer the
// topology comes from.
type object struct {
	Metadata struct {
		OwnerReferences []fault.Owner `yaml:"ownerReferences"`
	} `yaml:"metadata"`
	Spec struct {
		NodeName   string `yaml:"nodeName"`
		Containers []struct {
			Name string `yaml:"name"`
		} `yaml:"containers"`
	} `yaml:"spec"`
}

// recordedObject reads the YAML text of a recorded tool answer.
func recordedObject(t *testing.T, rec fs.FS, name string) object {
	t.Helper()
	data, err := fs.ReadFile(rec, name)
	if err != nil {
		t.Fatal(err)
	}
	var resp struct {
		Result struct {
			Content []struct {
				Text string `json:"text"`
			} `json:"content"`
		} `json:"result"`
	}
	if err := json.Unmarshal(data, &resp); err != nil || len(resp.Result.Content) != 1 {
		t.Fatalf("%s: %v (%d contents)", name, err, len(resp.Result.Content))
	}
	var o object
	if err := yaml.Unmarshal([]byte(resp.Result.Content[0].Text), &o); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return o
}

// stormTopology is what the recorded gets say about each faulted object:
// a pod's node, container and owner chain (its ReplicaSet's owner read
// from the ReplicaSet's own answer); nothing for the node and the Job,
// whose gets show no owner.
func stormTopology(t *testing.T, rec fs.FS) map[string]fault.Topology {
	t.Helper()
	rs := recordedObject(t, rec, "resources_get-replicaset.response.json")
	if job := recordedObject(t, rec, "after.resources_get-job.response.json"); len(job.Metadata.OwnerReferences) != 0 {
		t.Fatalf("job batch has owners %v in the recording", job.Metadata.OwnerReferences)
	}
	topo := map[string]fault.Topology{"Node/n1": {Node: "n1"}, "Job/batch": {}}
	for _, pod := range []string{"web-7d9f-a", "web-7d9f-b", "lonely"} {
		o := recordedObject(t, rec, "after.pods_get-"+pod+".response.json")
		tp := fault.Topology{Node: o.Spec.NodeName, Owners: slices.Clone(o.Metadata.OwnerReferences)}
		if len(o.Spec.Containers) == 1 {
			tp.Container = o.Spec.Containers[0].Name
		}
		if len(tp.Owners) == 1 && tp.Owners[0].Kind == "ReplicaSet" && tp.Owners[0].Name == "web-7d9f" {
			tp.Owners = append(tp.Owners, rs.Metadata.OwnerReferences...)
		}
		topo["Pod/"+pod] = tp
	}
	return topo
}

func TestTheRecordedStormIsThreeInvestigations(t *testing.T) {
	rec := recordings.UpstreamTools()
	topo := stormTopology(t, rec)
	if top, _ := topo["Pod/web-7d9f-b"].Top(); top.Kind != "Deployment" || top.Name != "web" || topo["Pod/web-7d9f-b"].Node != "n1" {
		t.Fatalf("web-7d9f-b's recorded topology is %+v, want node n1 and top owner Deployment web", topo["Pod/web-7d9f-b"])
	}
	if tp := topo["Pod/lonely"]; tp.Node != "n2" || len(tp.Owners) != 0 {
		t.Fatalf("lonely's recorded topology is %+v, want node n2 and no owner", tp)
	}

	data, err := fs.ReadFile(rec, "storm.stream.notifications.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var waiting []Member
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		var n struct {
			Params struct {
				Data json.RawMessage `json:"data"`
			} `json:"params"`
		}
		if err := json.Unmarshal(sc.Bytes(), &n); err != nil {
			t.Fatal(err)
		}
		// The notification carries no source; the session that hears it
		// adds it, as here, before the fault is validated.
		var withSource map[string]json.RawMessage
		if err := json.Unmarshal(n.Params.Data, &withSource); err != nil {
			t.Fatal(err)
		}
		withSource["source"] = json.RawMessage(`"mcp"`)
		raw, _ := json.Marshal(withSource)
		e, err := fault.Parse(raw)
		if err != nil {
			t.Fatalf("notification %d: %v", len(waiting)+1, err)
		}
		tp, ok := topo[e.Resource.Kind+"/"+e.Resource.Name]
		if !ok {
			t.Fatalf("no recorded topology for %s/%s", e.Resource.Kind, e.Resource.Name)
		}
		waiting = append(waiting, Member{Seq: uint64(len(waiting) + 1), Cluster: "dev", Event: e, Topology: tp, Enqueued: e.Timestamp})
	}
	if len(waiting) != 8 {
		t.Fatalf("%d faults in the recorded storm, want 8", len(waiting))
	}

	o := Options{Wait: 30 * time.Second, MaxWait: 5 * time.Minute}
	last := waiting[len(waiting)-1].Enqueued
	if early := Plan(waiting, nil, last, o); len(early.Ready) != 0 {
		t.Fatalf("%d groups ready as the storm ends, want none before Wait", len(early.Ready))
	}
	got := Plan(waiting, nil, last.Add(o.Wait), o)
	wantGroups(t, got,
		"node:n1 primary=1 members=[1 2 3 5 6]",
		"resource:Pod/default/lonely primary=7 members=[4 7]",
		"owner:Job/default/batch primary=8 members=[8]")
	node := got.Ready[0]
	if node.Primary.Event.FaultType != fault.TypeNodeUnhealthy || node.Kind != KindNode {
		t.Errorf("node group led by %s, kind %s; want the NodeUnhealthy fault, kind node", node.Primary.Event.FaultType, node.Kind)
	}
	var podFaults []string
	for _, m := range node.Members[1:] {
		podFaults = append(podFaults, m.Event.Resource.Name+" "+m.Event.FaultType)
	}
	want := []string{"web-7d9f-a PodCrash", "web-7d9f-b PodCrash", "web-7d9f-a CrashLoop", "web-7d9f-b CrashLoop"}
	if !slices.Equal(podFaults, want) {
		t.Errorf("node group's pod faults %q, want %q", podFaults, want)
	}
	if !slices.Contains(node.Keys, "owner:Deployment/default/web") {
		t.Errorf("node group keys %q lack the Deployment: a later crash of web would not find the incident", node.Keys)
	}
}
