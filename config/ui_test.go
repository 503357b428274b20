package config

import (
	"strings"
	"testing"
)

func TestUIAddressLeavesLoopbackOnlyBehindAuth(t *testing.T) {
	base := []string{"--agent-command", "/bin/true", "--cluster", "a=http://a/mcp"}
	c, err := Parse(base, env(nil))
	if err != nil || c.UIAddress != "127.0.0.1:8081" {
		t.Fatalf("default --ui-address %q, %v; want loopback 127.0.0.1:8081", c.UIAddress, err)
	}
	for _, tc := range []struct {
		args []string
		want string // empty: accepted
	}{
		{[]string{"--ui-address", ":8081"}, "--ui-address (UI_ADDRESS)"},
		{[]string{"--ui-address", "0.0.0.0:8081"}, "--ui-bearer-token-file"},
		{[]string{"--ui-address", "0.0.0.0:8081", "--ui-bearer-token-file", "/run/token"}, ""},
		{[]string{"--ui-address", ":8081", "--ui-basic-auth-file", "/run/users"}, ""},
		{[]string{"--ui-address", "[::1]:8081"}, ""},
		{[]string{"--ui-address", "localhost"}, "not host:port"},
		{[]string{"--ui-address", ""}, ""},
		{[]string{"--external-url", "runner.example.com"}, "--external-url (EXTERNAL_URL)"},
		{[]string{"--external-url", "https://runner.example.com/base?x=1"}, "--external-url"},
		{[]string{"--external-url", "https://runner.example.com/base"}, ""},
	} {
		_, err := Parse(append(append([]string{}, base...), tc.args...), env(nil))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: error %v, want one naming %s", tc.args, err, tc.want)
		}
	}
}
