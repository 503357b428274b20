// Package tcpproxy is a loopback TCP proxy that tests control, to simulate
// a network drop between the runner and a server: Cut closes every
// connection and refuses or blackholes new ones until Restore.
package tcpproxy

import (
	"errors"
	"net"
	"sync"
)

// Mode of the proxy while cut.
type Mode int

const (
	// Refuse closes new connections at once (a reset link).
	Refuse Mode = iota
	// Blackhole accepts new connections and never forwards a byte (a
	// silent drop, as when a firewall discards packets).
	Blackhole
	// Freeze keeps every connection open, old and new, and stops
	// forwarding: a partition neither side is told about.
	Freeze
)

// Proxy forwards a local listener to a target address.
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	mode  Mode
	conns map[net.Conn]struct{}
	// thaw is closed when a Freeze ends.
	thaw chan struct{}
	wg   sync.WaitGroup
}

// Start listens on 127.0.0.1:0 and forwards to target.
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}, thaw: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut drops every open connection and handles new ones per mode.
func (p *Proxy) Cut(mode Mode) {
	p.mu.Lock()
	p.cut, p.mode = true, mode
	if mode == Freeze {
		p.mu.Unlock()
		return
	}
	conns := p.conns
	p.conns = map[net.Conn]struct{}{}
	p.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// Restore forwards new connections again.
func (p *Proxy) Restore() {
	p.mu.Lock()
	p.cut = false
	close(p.thaw)
	p.thaw = make(chan struct{})
	p.mu.Unlock()
}

// gate blocks while the proxy is frozen; false means stop forwarding.
func (p *Proxy) gate(closed <-chan struct{}) bool {
	for {
		p.mu.Lock()
		frozen := p.cut && p.mode == Freeze
		thaw := p.thaw
		p.mu.Unlock()
		if !frozen {
			return true
		}
		select {
		case <-thaw:
		case <-closed:
			return false
		}
	}
}

// pipe copies src to dst, holding data while frozen.
func (p *Proxy) pipe(dst, src net.Conn, closed <-chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate(closed) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// Close stops the proxy and every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Cut(Refuse)
	p.wg.Wait()
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut && p.mode == Refuse {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue
		}
		if !p.track(c) {
			c.Close()
			continue
		}
		p.mu.Lock()
		blackhole := p.cut && p.mode == Blackhole
		p.mu.Unlock()
		if blackhole {
			continue // held open, never forwarded, closed on Restore+Cut or Close
		}
		p.wg.Add(1)
		go p.forward(c)
	}
}

func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	up, err := net.Dial("tcp", p.target)
	if err != nil || !p.track(up) {
		c.Close()
		if up != nil {
			up.Close()
		}
		return
	}
	done := make(chan struct{}, 2)
	closed := make(chan struct{})
	go func() { p.pipe(up, c, closed); up.Close(); done <- struct{}{} }()
	go func() { p.pipe(c, up, closed); c.Close(); done <- struct{}{} }()
	<-done
	close(closed)
	up.Close()
	c.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, up)
	p.mu.Unlock()
}
