// Package freeport finds loopback TCP ports free for a child process to
// listen on.
package freeport

import "net"

// Ports returns n distinct ports of 127.0.0.1 free now. Each is held until
// all are found: a port closed and asked for again can come back at once,
// and a runner given one port for two servers refuses to start.
func Ports(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports[i] = ln.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}
