package main

import (
	"fmt"
	"runtime/debug"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/metrics"
)

// Set by -ldflags "-X main.version=... -X main.gitCommit=... -X main.buildDate=...".
var (
	version   = ""
	gitCommit = ""
	buildDate = ""
)

type build metrics.BuildInfo

// currentBuild reports the ldflags values, falling back to what the Go
// toolchain recorded in the binary (module version, VCS revision and time).
func currentBuild() build {
	b := build{Version: version, GitCommit: gitCommit, BuildDate: buildDate}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch {
			case s.Key == "vcs.revision" && b.GitCommit == "":
				b.GitCommit = s.Value
			case s.Key == "vcs.time" && b.BuildDate == "":
				b.BuildDate = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "(devel)"
	}
	if b.GitCommit == "" {
		b.GitCommit = "unknown"
	}
	if b.BuildDate == "" {
		b.BuildDate = "unknown"
	}
	return b
}

func (b build) String() string {
	return fmt.Sprintf("kubernetes-mcp-runner %s (commit %s, built %s)", b.Version, b.GitCommit, b.BuildDate)
}
