package mcpsession

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

// transports hands out the http.Transports of a set's sessions: one per CA
// bundle, shared by every session that trusts it, so thousands of sessions
// share one pool of idle connections, one TLS session cache and one set of
// dial settings instead of holding one each.
type transports struct {
	idleTimeout time.Duration

	mu   sync.Mutex
	byCA map[string]*caTransport // CA file path ("" for the system roots)

	// The one MCP client of the sessions that share these transports
	// (client.go), made at the first connect.
	clientOnce sync.Once
	mcpClient  *sharedClient
	// gate bounds the handshakes of these sessions that run at once.
	gate *connectGate
}

// client returns the sessions' shared MCP client, announcing version.
func (ts *transports) client(version string) *sharedClient {
	ts.clientOnce.Do(func() { ts.mcpClient = newSharedClient(version) })
	return ts.mcpClient
}

type caTransport struct {
	sum [sha256.Size]byte
	t   *http.Transport
}

// newTransports returns a cache whose transports close idle connections
// after idleTimeout. Keepalive pings travel on POST requests: closing the
// connection a ping used before the next ping is due keeps an idle session
// at one connection, its event stream.
func newTransports(idleTimeout time.Duration, connectConcurrency int) *transports {
	if idleTimeout <= 0 {
		idleTimeout = 90 * time.Second
	}
	return &transports{idleTimeout: idleTimeout, byCA: make(map[string]*caTransport), gate: newConnectGate(connectConcurrency)}
}

// get returns the transport for caFile. The file is read on every call, so
// a rotated CA bundle is used from the next connect on.
func (ts *transports) get(caFile string) (*http.Transport, error) {
	var pemBytes []byte
	if caFile != "" {
		var err error
		if pemBytes, err = os.ReadFile(caFile); err != nil {
			return nil, fmt.Errorf("read caFile: %w", err)
		}
	}
	sum := sha256.Sum256(pemBytes)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ct, ok := ts.byCA[caFile]; ok && ct.sum == sum {
		return ct.t, nil
	}
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		MaxIdleConnsPerHost:   8,
		IdleConnTimeout:       ts.idleTimeout,
		// Each idle session keeps one connection, its event stream, with
		// these buffers (4 KiB each by default). Requests are small (a
		// ping, a subscribe) and the stream is read through buffers of
		// its own (stream.go, the SDK's), so smaller ones cost only a few
		// more reads in a flood.
		ReadBufferSize:  2048,
		WriteBufferSize: 1024,
	}
	if caFile != "" {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			return nil, fmt.Errorf("caFile %s holds no PEM certificates", caFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	if old, ok := ts.byCA[caFile]; ok {
		old.t.CloseIdleConnections()
	}
	ts.byCA[caFile] = &caTransport{sum: sum, t: t}
	return t, nil
}

// origin is a URL's scheme and host: the only place a cluster's bearer
// token is sent.
func origin(u *url.URL) string { return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) }

// ErrRedirectOffOrigin refuses a redirect that would leave the configured
// endpoint's scheme and host.
var ErrRedirectOffOrigin = errors.New("redirect leaves the configured endpoint's scheme and host")

// checkRedirect follows redirects only within the endpoint's own scheme and
// host: another host, or https to http, would receive the cluster's
// credentials or downgrade the connection.
func checkRedirect(endpoint string) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		want, err := url.Parse(endpoint)
		if err != nil {
			return err
		}
		if origin(req.URL) != origin(want) {
			return fmt.Errorf("%w: %s to %s", ErrRedirectOffOrigin, config.RedactURL(origin(want)), config.RedactURL(req.URL.Redacted()))
		}
		return nil
	}
}

// redactor hides the endpoint's password in text about it (errors of the
// SDK and the HTTP client quote the URL).
func redactor(endpoint string) func(string) string {
	u, err := url.Parse(endpoint)
	if err != nil || u.User == nil {
		return func(s string) string { return s }
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		return func(s string) string { return s }
	}
	return func(s string) string {
		s = strings.ReplaceAll(s, endpoint, config.RedactURL(endpoint))
		s = strings.ReplaceAll(s, pw, "xxxxx")
		if esc := url.PathEscape(pw); esc != pw {
			s = strings.ReplaceAll(s, esc, "xxxxx")
		}
		if esc := url.QueryEscape(pw); esc != pw {
			s = strings.ReplaceAll(s, esc, "xxxxx")
		}
		return s
	}
}
