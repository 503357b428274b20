package dispatch

import (
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
)

// recordRunning stores the agent's process group with its in-flight record
// as soon as it started, so a runner restarted after a crash finds it.
func (d *Dispatcher) recordRunning(f incident.Fields, pgid int) {
	if d.o.Recorder == nil {
		return
	}
	if err := d.o.Recorder.Running(f.IncidentID, pgid, procutil.BootID()); err != nil {
		d.logger.Error("Could not record the agent's process group in the state store",
			"cluster", f.Cluster, "incident_id", f.IncidentID, "pgid", pgid, "error", err.Error())
	}
}

// reportLeftovers logs and counts the agent's processes that outlived it:
// members of its group still present after SIGKILL (nothing reaped them),
// and processes that left the group and were found by the incident's
// marker. procutil has already sent each of them SIGKILL.
func (d *Dispatcher) reportLeftovers(f incident.Fields, res procutil.Result) {
	n := len(res.Escaped)
	if res.Leftover {
		n++
	}
	if n == 0 {
		return
	}
	d.o.Metrics.AgentLeftoverProcesses.WithLabelValues(f.Cluster).Add(float64(n))
	d.logger.Warn("Agent processes outlived their incident; killed them",
		"cluster", f.Cluster, "incident_id", f.IncidentID, "pgid", res.PID,
		"escaped_pids", res.Escaped, "group_left_over", res.Leftover)
}
