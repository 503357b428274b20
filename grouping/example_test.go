package grouping_test

import (
	"fmt"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/fault"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/grouping"
)

// A node goes NotReady and a pod on it crashes; a pod elsewhere crashes
// too. After the wait the node and its pod are one investigation and the
// other pod is another; a repeat of the node's pod crash, arriving while
// that investigation runs, is attached to it instead of run again.
func ExamplePlan() {
	t0 := time.Date(2026, 12, 2, 7, 5, 0, 0, time.UTC)
	web := []fault.Owner{{Kind: "ReplicaSet", Name: "web-7d9f"}, {Kind: "Deployment", Name: "web"}}
	member := func(seq uint64, kind, name, faultType, severity, node string, owners []fault.Owner) grouping.Member {
		ns := "default"
		if kind == "Node" {
			ns = ""
		}
		return grouping.Member{
			Seq: seq, Cluster: "prod", Enqueued: t0.Add(time.Duration(seq) * time.Second),
			Event: fault.Event{Source: fault.SourceMCP, FaultID: fmt.Sprint(seq), FaultType: faultType, Severity: severity,
				Resource: fault.Resource{Kind: kind, Namespace: ns, Name: name}},
			Topology: fault.Topology{Node: node, Owners: owners},
		}
	}
	waiting := []grouping.Member{
		member(1, "Node", "n1", fault.TypeNodeUnhealthy, "critical", "n1", nil),
		member(2, "Pod", "web-7d9f-a", fault.TypePodCrash, "warning", "n1", web),
		member(3, "Pod", "lonely", fault.TypePodCrash, "warning", "n2", nil),
	}
	o := grouping.Options{Wait: 30 * time.Second, MaxWait: 5 * time.Minute, Cooldown: 15 * time.Minute}

	early := grouping.Plan(waiting, nil, t0.Add(10*time.Second), o)
	fmt.Println("ready:", len(early.Ready), "wake at", early.NextWake.Format(time.TimeOnly))

	plan := grouping.Plan(waiting, nil, t0.Add(time.Minute), o)
	for _, g := range plan.Ready {
		fmt.Println("run", g.Key, "about", g.Primary.Event.Resource.Name, "with", len(g.Members), "faults")
	}

	node := plan.Ready[0]
	running := grouping.Incident{ID: "inc-1", Keys: node.Keys, FaultTypes: node.FaultTypes(), MaxSeverity: node.MaxSeverity(), Running: true}
	again := member(4, "Pod", "web-7d9f-a", fault.TypePodCrash, "warning", "n1", web)
	later := grouping.Plan([]grouping.Member{again}, []grouping.Incident{running}, t0.Add(2*time.Minute), o)
	for _, r := range later.Related {
		fmt.Println("attach fault", r.Member.Seq, "to", r.Incident, "by", r.Key)
	}
	// Output:
	// ready: 0 wake at 07:05:32
	// run node:n1 about n1 with 2 faults
	// run resource:Pod/default/lonely about lonely with 1 faults
	// attach fault 4 to inc-1 by node:n1
}
