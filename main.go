// Command kubernetes-mcp-runner keeps an MCP session open to the
// kubernetes-mcp-server of every configured cluster, queues the faults they
// report, and runs an investigation agent for each. This is the binary:
// the mode switch, build info and exit codes; the daemon is package app
// (its tree is sketched there), each other mode a file here.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/app"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/sampleagent"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/logging"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
)

func main() {
	// The agents' limits helper is this binary (procutil.HelperMain): it
	// returns unless asked to act as one.
	procutil.HelperMain(os.Args[1:])
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `kubernetes-mcp-runner: runs an investigation agent for each fault that
kubernetes-mcp-server reports, across many clusters.

Usage:
  kubernetes-mcp-runner [options]       run the daemon
  kubernetes-mcp-runner check-config [options]
                                        validate the options and print them, secrets redacted (exit 0 or 2)
  kubernetes-mcp-runner demo [--help]   run with simulated clusters and the sample agent
  kubernetes-mcp-runner incidents [--help]
                                        list finished incidents (--json, --limit, --cluster, --status, --since, --state-dir, --url)
  kubernetes-mcp-runner sample-agent    the bundled sample agent (run by the demo)
  kubernetes-mcp-runner job-entrypoint  the command of an agent pod (--agent-runtime job)
  kubernetes-mcp-runner help [MODE]     this help, or a mode's (demo, incidents, check-config)
  kubernetes-mcp-runner --version       print version, commit and build date

`

// run is main without the process: it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "demo":
			return runDemo(args[1:], stdout, stderr)
		case "check-config":
			return runCheckConfig(args[1:], os.Getenv, os.LookupEnv, stdout, stderr)
		case "incidents":
			return runIncidents(args[1:], os.Getenv, stdout, stderr)
		case "job-entrypoint":
			return runJobEntrypoint(args[1:], stderr)
		case "sample-agent":
			return sampleagent.Main(args[1:], os.Getenv, stdout, stderr)
		case "help":
			if len(args) > 1 && args[1] != "help" {
				return run([]string{args[1], "--help"}, stdout, stderr)
			}
			fmt.Fprint(stdout, usage)
			config.WriteHelp(stdout)
			return exitOK
		case "-version", "--version", "version":
			fmt.Fprintln(stdout, currentBuild().String())
			return exitOK
		}
	}
	cfg, err := config.Parse(args, os.Getenv)
	if errors.Is(err, config.ErrHelp) {
		fmt.Fprint(stdout, usage)
		config.WriteHelp(stdout)
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "kubernetes-mcp-runner: %v\n", err)
		return exitConfig
	}
	logger := logging.New(stderr, cfg.LogFormat, cfg.SlogLevel())
	if err := app.Run(context.Background(), cfg, app.Deps{
		Logger:    logger,
		Signals:   []os.Signal{syscall.SIGTERM, syscall.SIGINT},
		Notify:    app.SystemdNotify,
		Subreaper: true,
		Harden:    true,
		Build:     metrics.BuildInfo(currentBuild()),
		Reload: func() (config.Config, error) {
			next, err := config.Parse(args, os.Getenv)
			if err == nil {
				err = next.Preflight(os.LookupEnv)
			}
			return next, err
		},
	}); err != nil {
		var cfgErr app.ConfigError
		if errors.As(err, &cfgErr) {
			fmt.Fprintf(stderr, "kubernetes-mcp-runner: %v\n", err)
			return exitConfig
		}
		logger.Error("Runner failed", "error", err.Error())
		return exitFailure
	}
	return exitOK
}
