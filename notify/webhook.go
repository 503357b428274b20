package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// DefaultTimeout bounds one delivery attempt when a sink sets none.
const DefaultTimeout = 10 * time.Second

// TLSOptions configure how a sink trusts its receiver.
type TLSOptions struct {
	// CAFile is a PEM bundle trusted instead of the system roots.
	CAFile string
	// InsecureSkipVerify turns certificate checks off; for tests only.
	InsecureSkipVerify bool
}

// httpClient builds a client for one sink: its own transport (so one
// sink's stuck connections cannot starve another), the timeout, and no
// redirects (a redirect of a POST is a misconfiguration, reported as a
// permanent failure rather than followed).
func httpClient(timeout time.Duration, o TLSOptions) (*http.Client, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: o.InsecureSkipVerify} //nolint:gosec // off by default, documented as test-only
	if o.CAFile != "" {
		pem, err := os.ReadFile(o.CAFile)
		if err != nil {
			return nil, fmt.Errorf("caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caFile %s: no PEM certificate in it", o.CAFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{
		Timeout:   timeout,
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}, nil
}

// WebhookOptions configure a webhook sink.
type WebhookOptions struct {
	Name string
	// URL is where the document is posted; it may carry a token, so it is
	// a Secret.
	URL Secret
	// SigningKey signs every delivery (see Sign); empty sends unsigned.
	SigningKey Secret
	Timeout    time.Duration
	TLS        TLSOptions
	// Now is the clock of the signature timestamp; nil means time.Now.
	Now func() time.Time
	// UserAgent is sent as is, e.g. "kubernetes-mcp-runner/1.2.3".
	UserAgent string
}

// Webhook posts the notification document as JSON, signed.
type Webhook struct {
	o      WebhookOptions
	client *http.Client
}

// NewWebhook checks the options and builds the sink.
func NewWebhook(o WebhookOptions) (*Webhook, error) {
	if o.Name == "" {
		return nil, errors.New("webhook sink: no name")
	}
	if err := checkURL(o.URL); err != nil {
		return nil, fmt.Errorf("webhook sink %s: url: %w", o.Name, err)
	}
	c, err := httpClient(o.Timeout, o.TLS)
	if err != nil {
		return nil, fmt.Errorf("webhook sink %s: %w", o.Name, err)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Webhook{o: o, client: c}, nil
}

// checkURL accepts absolute http(s) URLs; errors never print the URL.
func checkURL(s Secret) error {
	u, err := url.Parse(s.Reveal())
	if err != nil || s.IsZero() {
		return errors.New("not a URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an absolute http or https URL")
	}
	return nil
}

// Name is the sink's configured name.
func (w *Webhook) Name() string { return w.o.Name }

// String names the sink without its secrets.
func (w *Webhook) String() string { return "webhook sink " + w.o.Name }

// LogValue keeps secrets out of structured logs.
func (w *Webhook) LogValue() slog.Value {
	return slog.GroupValue(slog.String("type", "webhook"), slog.String("name", w.o.Name))
}

// Send posts n.
func (w *Webhook) Send(ctx context.Context, n Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("%w: encode notification: %v", ErrPermanent, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.o.URL.Reveal(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%w: build request", ErrPermanent)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderIdempotencyKey, n.IdempotencyKey)
	req.Header.Set(HeaderSchemaVersion, strconv.Itoa(n.SchemaVersion))
	if w.o.UserAgent != "" {
		req.Header.Set("User-Agent", w.o.UserAgent)
	}
	if !w.o.SigningKey.IsZero() {
		ts := w.o.Now().Unix()
		req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
		req.Header.Set(HeaderSignature, Sign([]byte(w.o.SigningKey.Reveal()), ts, body))
	}
	return post(w.client, req, w.o.Now)
}

// post does the request and turns the answer into nil or a *StatusError.
// Transport errors are returned without the URL, which may hold a token.
func post(c *http.Client, req *http.Request, now func() time.Time) error {
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return nil
	}
	return statusError(resp, now())
}
