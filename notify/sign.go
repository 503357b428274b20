package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Headers of a webhook delivery.
//
// The signature is HMAC-SHA256, keyed with the sink's signing key, over the
// timestamp header's value, a full stop, and the raw body:
//
//	X-Runner-Signature: v1=hex(HMAC-SHA256(key, timestamp + "." + body))
//
// The timestamp is Unix seconds at the moment of sending, so each retry is
// signed afresh while the body (and its idempotency key) stays the same. A
// receiver recomputes the HMAC over the bytes it received, compares in
// constant time, rejects timestamps outside its tolerance (replays), and
// dedupes on the idempotency key (at-least-once delivery).
const (
	HeaderSignature      = "X-Runner-Signature"
	HeaderTimestamp      = "X-Runner-Timestamp"
	HeaderIdempotencyKey = "Idempotency-Key"
	HeaderSchemaVersion  = "X-Runner-Schema-Version"
	signaturePrefix      = "v1="
)

// DefaultTolerance is how far a timestamp may be from the receiver's clock.
const DefaultTolerance = 5 * time.Minute

// Verification errors.
var (
	ErrNoSignature  = errors.New("missing signature or timestamp header")
	ErrBadSignature = errors.New("signature does not match")
	ErrStale        = errors.New("timestamp outside tolerance")
)

// Sign returns the signature header value for body sent at timestamp ts
// (Unix seconds).
func Sign(key []byte, ts int64, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(key, strconv.FormatInt(ts, 10), body))
}

func mac(key []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery's signature and timestamp against key, at now,
// accepting timestamps at most tolerance away (0 means DefaultTolerance).
// Receivers written in Go can use it as is; the scheme is documented on the
// header constants.
func Verify(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	tsv, sig := h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if tsv == "" || sig == "" {
		return ErrNoSignature
	}
	ts, err := strconv.ParseInt(tsv, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not Unix seconds", ErrNoSignature, tsv)
	}
	if d := now.Sub(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: %s from now", ErrStale, d.Round(time.Second))
	}
	got, ok := strings.CutPrefix(sig, signaturePrefix)
	if !ok {
		return fmt.Errorf("%w: unknown scheme", ErrBadSignature)
	}
	gotMAC, err := hex.DecodeString(got)
	if err != nil || !hmac.Equal(gotMAC, mac(key, tsv, body)) {
		return ErrBadSignature
	}
	return nil
}
