package config

import (
	"fmt"
	"net"
	"net/url"
)

// validateUI checks the notification and incidents page options: the page
// shows what agents found in the clusters, so it binds beyond loopback only
// behind a bearer token or basic auth.
func (c Config) validateUI() error {
	if c.ExternalURL != "" {
		u, err := url.Parse(c.ExternalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("invalid --external-url (EXTERNAL_URL): %q is not an absolute http(s) URL without query or fragment", c.ExternalURL)
		}
	}
	if c.UIAddress == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(c.UIAddress)
	if err != nil || port == "" {
		return fmt.Errorf("invalid --ui-address (UI_ADDRESS): %q is not host:port", c.UIAddress)
	}
	if c.UIBearerTokenFile == "" && c.UIBasicAuthFile == "" && !isLoopback(host) {
		return fmt.Errorf("invalid --ui-address (UI_ADDRESS): %q is not loopback; the incidents page shows what agents found in the clusters, so set --ui-bearer-token-file (UI_BEARER_TOKEN_FILE) or --ui-basic-auth-file (UI_BASIC_AUTH_FILE) to serve it further", c.UIAddress)
	}
	return nil
}
