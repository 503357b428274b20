package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sink sends one notification to one destination. Send returns nil once
// the receiver accepted it, a *StatusError for a non-2xx answer, an error
// wrapping ErrPermanent for what no retry can fix (a document the sink
// cannot build), and any other error for a failure to reach the receiver.
// Send must honour ctx and hold no state between calls that a retry needs.
type Sink interface {
	Name() string
	Send(ctx context.Context, n Notification) error
}

// ErrPermanent marks an error no retry can fix.
var ErrPermanent = errors.New("permanent")

// StatusError is a receiver's non-2xx answer.
type StatusError struct {
	Code int
	// RetryAfter is the receiver's Retry-After, zero when absent or invalid.
	RetryAfter time.Duration
	// Body is the start of the answer, for the log and the outbox record.
	Body string
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("receiver answered %d %s", e.Code, http.StatusText(e.Code))
	if e.Body != "" {
		s += ": " + e.Body
	}
	return s
}

// statusError reads a non-2xx response into a StatusError.
func statusError(resp *http.Response, now time.Time) *StatusError {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	return &StatusError{
		Code:       resp.StatusCode,
		RetryAfter: ParseRetryAfter(resp.Header.Get("Retry-After"), now),
		Body:       strings.TrimSpace(strings.ToValidUTF8(string(body), "")),
	}
}

// ParseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
// Zero means absent, invalid or already past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 || secs > math.MaxInt64/int64(time.Second) {
			return 0
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Outcome classifies one delivery attempt.
type Outcome int

const (
	// Delivered: the receiver accepted the notification.
	Delivered Outcome = iota
	// RetryLater: the receiver asked to be called again after a delay (429
	// or 503 with Retry-After).
	RetryLater
	// Retryable: a failure a later attempt may not meet (5xx, 408, 429
	// without a delay, network errors, timeouts).
	Retryable
	// Permanent: a failure no retry fixes (4xx other than 408 and 429, a
	// redirect not followed, a document the sink cannot build).
	Permanent
)

func (o Outcome) String() string {
	switch o {
	case Delivered:
		return "delivered"
	case RetryLater:
		return "retry_after"
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	}
	return "unknown"
}

// Result is the classified outcome of one attempt.
type Result struct {
	Outcome Outcome
	// RetryAfter is the delay the receiver asked for, with RetryLater.
	RetryAfter time.Duration
	// StatusCode is the receiver's HTTP status, 0 if none was received.
	StatusCode int
	Err        error
}

// Classify turns what Send returned into a Result. It is pure.
func Classify(err error) Result {
	if err == nil {
		return Result{Outcome: Delivered}
	}
	var se *StatusError
	if errors.As(err, &se) {
		r := Result{StatusCode: se.Code, Err: err}
		switch {
		case se.Code == http.StatusTooManyRequests || se.Code == http.StatusServiceUnavailable:
			if se.RetryAfter > 0 {
				r.Outcome, r.RetryAfter = RetryLater, se.RetryAfter
			} else {
				r.Outcome = Retryable
			}
		case se.Code == http.StatusRequestTimeout || se.Code >= 500:
			r.Outcome = Retryable
		default:
			r.Outcome = Permanent
		}
		return r
	}
	if errors.Is(err, ErrPermanent) {
		return Result{Outcome: Permanent, Err: err}
	}
	return Result{Outcome: Retryable, Err: err}
}

// Deliver makes one attempt: it sends n through sink and classifies the
// outcome. A panic in a sink is a retryable error, not a crash.
func Deliver(ctx context.Context, sink Sink, n Notification) (r Result) {
	defer func() {
		if p := recover(); p != nil {
			r = Result{Outcome: Retryable, Err: fmt.Errorf("sink %s panicked: %v", sink.Name(), p)}
		}
	}()
	return Classify(sink.Send(ctx, n))
}
