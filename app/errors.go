package app

import (
	"errors"
	"fmt"
	"net"
	"syscall"
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
	return ConfigError{err}
}

// listenError classifies a failure to listen: an address that does not
// resolve or parse is configuration (exit 2); a port in use may free up
// (exit 1).
func listenError(err error) error {
	var dnsErr *net.DNSError
	var addrErr *net.AddrError
	if errors.As(err, &dnsErr) || errors.As(err, &addrErr) {
		return ConfigError{err}
	}
	return err
}
