package main

// The runner's exit codes, and the restart policy the systemd unit and the
// container manifests build on them (docs/operations.md, "Exit codes"):
//
//	0  clean shutdown after SIGTERM/SIGINT               not restarted (Restart=on-failure)
//	1  a failure that may pass: a port in use, a full    restarted after RestartSec
//	   disk under --state-dir, a runtime error
//	2  configuration the runner cannot start with: bad   not restarted (RestartPreventExitStatus=2):
//	   flags or values, an agent command that cannot    an operator must change something
//	   run, an unresolvable listen address, a state
//	   directory that is locked or cannot be written
const (
	exitOK      = 0
	exitFailure = 1
	exitConfig  = 2
)
