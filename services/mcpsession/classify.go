package mcpsession

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
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
	// maxReply bounds every other response body: the SDK reads a JSON reply
	// (initialize, ping, a tool call) whole into memory, so a server
	// answering with a gigabyte would otherwise take the runner's memory
	// with it. 0 leaves them unbounded.
	maxReply int64

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
	} else if r.maxReply > 0 {
		resp.Body = &cappedBody{ReadCloser: resp.Body, left: r.maxReply, limit: r.maxReply}
	}
	return resp, nil
}

// ErrReplyTooLarge: a server's reply to one request passed
// --mcp-max-reply-bytes; the session ends as a protocol failure.
var ErrReplyTooLarge = errors.New("MCP reply exceeds --mcp-max-reply-bytes")

// cappedBody fails a read past limit bytes instead of returning them.
type cappedBody struct {
	io.ReadCloser
	left, limit int64
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// A reply of exactly limit bytes ends here; one byte more is over.
		var one [1]byte
		if n, err := b.ReadCloser.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%w (%d bytes)", ErrReplyTooLarge, b.limit)
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
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
