package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/app"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

// runCheckConfig validates the configuration the daemon would start with —
// flags, environment, --config file and --clusters-file — with the same
// checks the daemon runs before it opens anything, and prints the
// effective configuration with secrets redacted. Exit 0: the daemon would
// start with it; exit 2: it would not, and stderr names the culprit.
func runCheckConfig(args []string, getenv func(string) string, lookupEnv func(string) (string, bool), stdout, stderr io.Writer) int {
	cfg, err := config.Parse(args, getenv)
	if errors.Is(err, config.ErrHelp) {
		fmt.Fprint(stdout, "Usage: kubernetes-mcp-runner check-config [options]\n\nValidates the options the runner would start with and prints them, secrets redacted.\n\n")
		config.WriteHelp(stdout)
		return exitOK
	}
	if err == nil {
		err = cfg.Preflight(lookupEnv)
	}
	if err == nil {
		err = app.CheckNotifications(cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "kubernetes-mcp-runner: configuration invalid: %v\n", err)
		return exitConfig
	}
	if err := cfg.WriteEffective(stdout); err != nil {
		fmt.Fprintf(stderr, "kubernetes-mcp-runner: %v\n", err)
		return exitFailure
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "kubernetes-mcp-runner: warning: %s\n", w)
	}
	fmt.Fprintf(stderr, "kubernetes-mcp-runner: configuration OK (%d clusters)\n", len(cfg.Clusters))
	return exitOK
}
