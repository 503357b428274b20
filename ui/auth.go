package ui

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// AuthOptions protect the page when it is exposed beyond loopback. Either
// or both may be set; a request passing either is let through. The files
// are read once, at start: restart the runner to rotate them.
type AuthOptions struct {
	// BearerTokenFile holds one token; clients send
	// "Authorization: Bearer <token>".
	BearerTokenFile string
	// BasicAuthFile holds "user:password" lines (blank lines and lines
	// starting with # are ignored), for browsers.
	BasicAuthFile string
	// Realm is shown by browsers asking for basic credentials.
	Realm string
}

// digest is what is kept of a secret: comparing fixed-size hashes in
// constant time leaks neither the content nor the length.
type digest [sha256.Size]byte

type credential struct{ user, pass digest }

// Auth returns middleware that lets through only authenticated requests.
// With neither file set it returns an error: an exposed page without
// authentication is a choice the caller makes by not using Auth.
func Auth(o AuthOptions) (func(http.Handler) http.Handler, error) {
	var tokens []digest
	var creds []credential
	if o.BearerTokenFile != "" {
		b, err := os.ReadFile(o.BearerTokenFile)
		if err != nil {
			return nil, fmt.Errorf("bearer token file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if len(tok) < 16 {
			return nil, fmt.Errorf("bearer token file %s: token shorter than 16 characters", o.BearerTokenFile)
		}
		tokens = append(tokens, sha256.Sum256([]byte(tok)))
	}
	if o.BasicAuthFile != "" {
		b, err := os.ReadFile(o.BasicAuthFile)
		if err != nil {
			return nil, fmt.Errorf("basic auth file: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			user, pass, ok := strings.Cut(line, ":")
			if !ok || user == "" || pass == "" {
				return nil, fmt.Errorf("basic auth file %s: line %d: want user:password", o.BasicAuthFile, n)
			}
			creds = append(creds, credential{sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))})
		}
		if len(creds) == 0 {
			return nil, fmt.Errorf("basic auth file %s: no user:password line", o.BasicAuthFile)
		}
	}
	if len(tokens) == 0 && len(creds) == 0 {
		return nil, errors.New("auth: set a bearer token file or a basic auth file")
	}
	realm := o.Realm
	if realm == "" {
		realm = "incidents"
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if allowed(r, tokens, creds) {
				next.ServeHTTP(w, r)
				return
			}
			if len(creds) > 0 {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q, charset=\"UTF-8\"", realm))
			} else {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf("Bearer realm=%q", realm))
			}
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		})
	}, nil
}

// allowed checks every configured credential, so the time taken does not
// say which one came close.
func allowed(r *http.Request, tokens []digest, creds []credential) bool {
	ok := 0
	if tok, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); found && len(tokens) > 0 {
		d := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		for _, t := range tokens {
			ok |= subtle.ConstantTimeCompare(d[:], t[:])
		}
	}
	if user, pass, found := r.BasicAuth(); found && len(creds) > 0 {
		u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
		for _, c := range creds {
			ok |= subtle.ConstantTimeCompare(u[:], c.user[:]) & subtle.ConstantTimeCompare(p[:], c.pass[:])
		}
	}
	return ok == 1
}
