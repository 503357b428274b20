package alertmanager

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// PayloadVersion is the only webhook payload version understood.
const PayloadVersion = "4"

// Alert statuses in a notification.
const (
	StatusFiring   = "firing"
	StatusResolved = "resolved"
)

// Notification is the body Alertmanager's webhook_config posts (payload
// version 4). Fields the runner does not use are kept so that a decoded
// notification can be logged or recorded whole.
type Notification struct {
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   int               `json:"truncatedAlerts"`
	Status            string            `json:"status"`
	Receiver          string            `json:"receiver"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Alerts            []Alert           `json:"alerts"`
}

// Alert is one alert of a notification.
type Alert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// ErrVersion is wrapped by Decode when the payload is not version 4.
var ErrVersion = errors.New("unsupported webhook payload version")

// Decode reads one notification. Unknown fields are ignored, so later
// Alertmanager releases that add fields still decode; a missing or
// different version is refused with ErrVersion, since its meaning is not
// known.
func Decode(r io.Reader) (Notification, error) {
	var n Notification
	dec := json.NewDecoder(r)
	if err := dec.Decode(&n); err != nil {
		return Notification{}, fmt.Errorf("decode notification: %w", err)
	}
	// Only white space may follow. Reading on also surfaces a body limit
	// hit in the trailing bytes.
	switch _, err := dec.Token(); {
	case err == io.EOF:
	case err != nil:
		return Notification{}, fmt.Errorf("decode notification: after the JSON object: %w", err)
	default:
		return Notification{}, errors.New("decode notification: data after the JSON object")
	}
	if n.Version != PayloadVersion {
		return Notification{}, fmt.Errorf("%w %.16q (want %q)", ErrVersion, n.Version, PayloadVersion)
	}
	return n, nil
}

// DecodeBytes is Decode over a byte slice.
func DecodeBytes(b []byte) (Notification, error) { return Decode(bytes.NewReader(b)) }
