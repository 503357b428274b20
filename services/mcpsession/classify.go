package mcpsession

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
)

// Reasons for a failed or lost session; the label values of
// sse_connection_errors_total and sse_reconnections_total.
const (
	ReasonConnectionRefused = "connection_refused"
	ReasonDNS               = "dns"
	ReasonTimeout           = "timeout"
	ReasonTLS               = "tls"
	ReasonHTTP4xx           = "http_4xx"
	ReasonHTTP5xx           = "http_5xx"
	ReasonProtocol          = "protocol"
	ReasonSubscribeFailed   = "subscribe_failed"
	ReasonSubscribeRefused  = "subscribe_refused"
	ReasonStreamClosed      = "stream_closed"
	ReasonKeepaliveTimeout  = "keepalive_timeout"
	ReasonSubscriptionError = "subscription_error"
	ReasonOther             = "other"
)

// recorder is the session's http.RoundTripper: it adds the bearer token to
// requests for the endpoint's own scheme and host (never to another host a
// redirect names), puts a streamFilter in front of the event stream, and
// remembers the last transport error and the last non-2xx status, because
// the MCP SDK reports those as formatted text, and reasons must not be read
// off error strings.
type recorder struct {
	next  http.RoundTripper
	token string
	// origin is the endpoint's scheme and host, the only one given token.
	origin string
	// stream, when set, wraps the body of each event stream opened with GET.
	stream func(io.ReadCloser) io.ReadCloser

	mu      sync.Mutex
	lastErr error
	status  int
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.token != "" && origin(req.URL) == r.origin {
		req = req.Clone(req.Context())
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	resp, err := r.next.RoundTrip(req)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.lastErr = err
		return nil, err
	}
	if resp.StatusCode >= 400 {
		r.status = resp.StatusCode
	}
	if r.stream != nil && req.Method == http.MethodGet && resp.StatusCode == http.StatusOK &&
		strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		resp.Body = r.stream(resp.Body)
	}
	return resp, nil
}

func (r *recorder) observed() (error, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastErr, r.status
}

// classify maps a connection failure to a reason. The transport error and
// HTTP status the recorder saw take precedence over the SDK's error.
func classify(err error, rec *recorder) string {
	if rec != nil {
		transportErr, status := rec.observed()
		if transportErr != nil {
			if r := classifyNetwork(transportErr); r != ReasonOther {
				return r
			}
		}
		switch {
		case status >= 500:
			return ReasonHTTP5xx
		case status >= 400:
			return ReasonHTTP4xx
		}
	}
	if err == nil {
		return ReasonStreamClosed
	}
	return classifyNetwork(err)
}

func classifyNetwork(err error) string {
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuthority x509.UnknownAuthorityError
	var hostnameErr x509.HostnameError
	var recordErr tls.RecordHeaderError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		return ReasonDNS
	case errors.Is(err, syscall.ECONNREFUSED):
		return ReasonConnectionRefused
	case errors.As(err, &certErr), errors.As(err, &unknownAuthority), errors.As(err, &hostnameErr), errors.As(err, &recordErr):
		return ReasonTLS
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT):
		return ReasonTimeout
	case errors.As(err, &netErr) && netErr.Timeout():
		return ReasonTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ReasonStreamClosed
	}
	return ReasonOther
}
