package alertmanager

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Auth says which credentials a notification must carry, as Alertmanager's
// http_config sends them: a bearer token (authorization.credentials_file)
// or basic auth (basic_auth.username and password_file). When both are
// configured either is accepted. At least one is required. Files are read
// once, when the endpoint is built, and surrounding white space is
// trimmed, as Alertmanager does with its own credential files.
type Auth struct {
	BearerTokenFile       string
	BasicAuthUsername     string
	BasicAuthPasswordFile string
}

const realm = `realm="kubernetes-mcp-runner"`

// authenticator compares SHA-256 digests of the credentials in constant
// time, so neither their content nor their length leaks through timing.
type authenticator struct {
	bearer    *[sha256.Size]byte
	basicUser *[sha256.Size]byte
	basicPass *[sha256.Size]byte
	// challenge holds the WWW-Authenticate values of a 401.
	challenge []string
}

func readSecret(path, what string) (*[sha256.Size]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("alertmanager intake: %s: %w", what, err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil, fmt.Errorf("alertmanager intake: %s %s is empty", what, path)
	}
	sum := sha256.Sum256([]byte(s))
	return &sum, nil
}

func newAuthenticator(a Auth) (*authenticator, error) {
	au := &authenticator{}
	var ch []string
	if a.BearerTokenFile != "" {
		t, err := readSecret(a.BearerTokenFile, "bearer token file")
		if err != nil {
			return nil, err
		}
		au.bearer = t
		ch = append(ch, "Bearer "+realm)
	}
	switch {
	case a.BasicAuthUsername != "" && a.BasicAuthPasswordFile != "":
		p, err := readSecret(a.BasicAuthPasswordFile, "basic auth password file")
		if err != nil {
			return nil, err
		}
		u := sha256.Sum256([]byte(a.BasicAuthUsername))
		au.basicUser, au.basicPass = &u, p
		ch = append(ch, "Basic "+realm+`, charset="UTF-8"`)
	case a.BasicAuthUsername != "" || a.BasicAuthPasswordFile != "":
		return nil, errors.New("alertmanager intake: basic auth needs both a username and a password file")
	}
	if len(ch) == 0 {
		return nil, errors.New("alertmanager intake: configure a bearer token file or basic auth; the endpoint does not accept unauthenticated notifications")
	}
	au.challenge = ch
	return au, nil
}

func equal(given string, want *[sha256.Size]byte) bool {
	sum := sha256.Sum256([]byte(given))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

func (a *authenticator) ok(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, cred, _ := strings.Cut(h, " ")
	switch {
	case a.bearer != nil && strings.EqualFold(scheme, "Bearer"):
		return equal(strings.TrimSpace(cred), a.bearer)
	case a.basicUser != nil && strings.EqualFold(scheme, "Basic"):
		u, p, ok := r.BasicAuth()
		if !ok {
			return false
		}
		// Both compared, always: no early exit on a wrong user name.
		userOK := equal(u, a.basicUser)
		passOK := equal(p, a.basicPass)
		return userOK && passOK
	}
	return false
}
