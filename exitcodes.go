package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

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

// unusableStateDir classifies a state directory the runner cannot create
// or write. Missing permission, a file in its place or a read-only
// filesystem need an operator (exit 2, no restart loop); a full disk or an
// I/O error may pass (exit 1, restarted with the unit's delay).
func unusableStateDir(err error) error {
	err = fmt.Errorf("--state-dir (STATE_DIR): %w", err)
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EDQUOT) {
		return err
	}
	return configError{err}
}

// listenError classifies a failure to listen: an address that does not
// resolve or parse is configuration (exit 2); a port in use may free up
// (exit 1).
func listenError(err error) error {
	var dnsErr *net.DNSError
	var addrErr *net.AddrError
	if errors.As(err, &dnsErr) || errors.As(err, &addrErr) {
		return configError{err}
	}
	return err
}
