package dispatch

import (
	"context"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
)

// Runtime executes one agent run and reports how it ended, the way
// procutil does for a local process group: the process runtime (the
// default) runs spec on this host; the Kubernetes Job runtime runs the same
// command in a Job of its own and brings the workspace back. A Runtime
// returns an error only when the agent never started (the breaker does not
// hear of it); a deadline on ctx is the agent's timeout, any other end of
// ctx an interrupt.
//
// spec is the command as it runs on this host (its paths are the
// workspace's here). render (the runtime's Render type would stop
// runtimes of lower layers from implementing it) gives the arguments and environment for the
// same incident with other fields, for a runtime whose agent sees its
// workspace, event file and kubeconfig at other paths.
type Runtime interface {
	Run(ctx context.Context, spec procutil.Spec, f incident.Fields, render func(incident.Fields) (args, env []string, err error)) (procutil.Result, error)
}

// ProcessRuntime runs the agent as a local process group (procutil.Run).
type ProcessRuntime struct{}

// Run runs spec on this host.
func (ProcessRuntime) Run(ctx context.Context, spec procutil.Spec, _ incident.Fields, _ func(incident.Fields) ([]string, []string, error)) (procutil.Result, error) {
	return procutil.Run(ctx, spec)
}

func (d *Dispatcher) runtime() Runtime {
	if d.o.Runtime == nil {
		return ProcessRuntime{}
	}
	return d.o.Runtime
}

// render is the Render of this dispatcher's templates and allow-list.
func (d *Dispatcher) render(f incident.Fields) (args, env []string, err error) {
	if args, err = d.args.render(f); err != nil {
		return nil, nil, err
	}
	return args, procutil.Environ(d.o.Agent.EnvAllow, d.o.LookupEnv, f.Env()), nil
}
