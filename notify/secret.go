package notify

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Secret holds a value that must never reach a log, an error or a
// document: webhook URLs (a Slack incoming webhook URL is its own
// credential) and signing keys. Every way of printing it prints
// "[redacted]"; Reveal is the one way to read it.
type Secret struct{ v string }

// NewSecret wraps a value.
func NewSecret(v string) Secret { return Secret{v: v} }

const redacted = "[redacted]"

// Reveal returns the value, for the one place that uses it.
func (s Secret) Reveal() string { return s.v }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.v == "" }

func (s Secret) String() string                       { return redacted }
func (s Secret) GoString() string                     { return redacted }
func (s Secret) LogValue() slog.Value                 { return slog.StringValue(redacted) }
func (s Secret) MarshalText() ([]byte, error)         { return []byte(redacted), nil }
func (s Secret) Format(f fmt.State, verb rune)        { _, _ = f.Write([]byte(redacted)) }
func (s *Secret) UnmarshalText(_ []byte) error        { return errSecretInline }
func (s Secret) MarshalYAML() (any, error)            { return redacted, nil }
func (s *Secret) UnmarshalYAML(func(any) error) error { return errSecretInline }

var errSecretInline = errors.New("secrets are read from a file or an environment variable, never written inline")

// LoadSecret reads a secret from a file (its content, surrounding
// whitespace trimmed) or from an environment variable; exactly one of file
// and env must be set. Errors name the file or variable, never the value.
func LoadSecret(file, env string, lookupEnv func(string) (string, bool)) (Secret, error) {
	switch {
	case file != "" && env != "":
		return Secret{}, errors.New("set a file or an environment variable, not both")
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return Secret{}, fmt.Errorf("read secret file: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return Secret{}, fmt.Errorf("secret file %s is empty", file)
		}
		return Secret{v: v}, nil
	case env != "":
		v, ok := lookupEnv(env)
		v = strings.TrimSpace(v)
		if !ok || v == "" {
			return Secret{}, fmt.Errorf("environment variable %s is not set or empty", env)
		}
		return Secret{v: v}, nil
	}
	return Secret{}, errors.New("no file or environment variable given")
}
