package config

import (
	"reflect"
	"strings"
	"testing"
)

func TestClusterFlagWithContext(t *testing.T) {
	c, err := Parse([]string{"--agent-command", "/bin/true",
		"--cluster", "eu=http://mcp.example:8080/mcp#eu-prod", "--cluster", "us=http://mcp.example:8080/mcp#us-prod",
		"--cluster", "solo=http://solo.example/mcp"}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, cl := range c.Clusters {
		got = append(got, cl.Name+" "+cl.Endpoint+" "+cl.Context)
	}
	want := []string{"eu http://mcp.example:8080/mcp eu-prod", "us http://mcp.example:8080/mcp us-prod", "solo http://solo.example/mcp "}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("clusters %q, want %q", got, want)
	}
	if _, err := Parse([]string{"--agent-command", "/bin/true", "--cluster", "eu=http://a/mcp#"}, env(nil)); err == nil {
		t.Error("an empty context after '#' was accepted")
	}
}

func TestMaxSubscriptionsPerSession(t *testing.T) {
	c, err := Parse(base, env(nil))
	if err != nil || c.MaxSubscriptionsPerSession != 10 {
		t.Fatalf("default %d, %v; want 10", c.MaxSubscriptionsPerSession, err)
	}
	c, err = Parse(base, env(map[string]string{"MAX_SUBSCRIPTIONS_PER_SESSION": "3"}))
	if err != nil || c.MaxSubscriptionsPerSession != 3 {
		t.Fatalf("from the environment %d, %v; want 3", c.MaxSubscriptionsPerSession, err)
	}
	if _, err := Parse(append([]string{"--max-subscriptions-per-session", "0"}, base...), env(nil)); err == nil {
		t.Error("0 subscriptions per session accepted")
	}
}

func TestClustersFileContextAndFilters(t *testing.T) {
	cs, err := ParseClusters([]byte(`
clusters:
  - name: eu
    endpoint: http://mcp.example:8080/mcp
    context: eu-prod
    filters:
      namespaces: [payments, checkout]
      labelSelector: app=api,tier!=cache
      involvedKind: Pod
      involvedName: api-0
      involvedNamespace: payments
      reason: BackOff
      type: Warning
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Filters{Namespaces: []string{"payments", "checkout"}, LabelSelector: "app=api,tier!=cache", InvolvedKind: "Pod",
		InvolvedName: "api-0", InvolvedNamespace: "payments", Reason: "BackOff", Type: "Warning"}
	if len(cs) != 1 || cs[0].Context != "eu-prod" || !reflect.DeepEqual(cs[0].Filters, want) {
		t.Fatalf("parsed %+v", cs)
	}
	args := cs[0].Filters.Arguments()
	wantArgs := map[string]any{"namespaces": []string{"payments", "checkout"}, "labelSelector": "app=api,tier!=cache",
		"involvedKind": "Pod", "involvedName": "api-0", "involvedNamespace": "payments", "reason": "BackOff", "type": "Warning"}
	if !reflect.DeepEqual(args, wantArgs) {
		t.Errorf("arguments %v, want %v", args, wantArgs)
	}
	if n := len(Filters{}.Arguments()); n != 0 {
		t.Errorf("empty filters send %d arguments", n)
	}
}

// Bad filters stop the runner at start, naming the cluster and the key.
func TestClustersFileFilterErrors(t *testing.T) {
	for key, entry := range map[string]string{
		"filters.type":                 `type: Normal`,
		"filters.namespaces[1]":        `namespaces: [ok, "Not_A_Namespace"]`,
		"filters.involvedNamespace":    `involvedNamespace: "a b"`,
		"filters.labelSelector":        `labelSelector: "app=x,,tier=y"`,
		"filters.nosuchkey (unknown)":  `nosuchkey: x`,
		"filters.type (not an option)": `type: Error`,
	} {
		file := writeFile(t, "clusters.yaml", "clusters:\n  - name: eu\n    endpoint: http://a/mcp\n    filters:\n      "+entry+"\n")
		_, err := Parse([]string{"--agent-command", "/bin/true", "--clusters-file", file}, env(nil))
		k, _, _ := strings.Cut(key, " ")
		if k == "filters.nosuchkey" {
			k = "nosuchkey"
		}
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("%s: error %v does not name the key", key, err)
			continue
		}
		if k != "nosuchkey" && !strings.Contains(err.Error(), `cluster "eu"`) {
			t.Errorf("%s: error %v does not name the cluster", key, err)
		}
	}
}

func TestSameSubscriptionTwiceIsRefused(t *testing.T) {
	_, err := Parse([]string{"--agent-command", "/bin/true",
		"--cluster", "a=http://mcp.example/mcp", "--cluster", "b=http://mcp.example/mcp"}, env(nil))
	if err == nil || !strings.Contains(err.Error(), "triaged twice") {
		t.Errorf("two clusters on one server's default context: %v", err)
	}
	if _, err := Parse([]string{"--agent-command", "/bin/true",
		"--cluster", "a=http://mcp.example/mcp#one", "--cluster", "b=http://mcp.example/mcp#two"}, env(nil)); err != nil {
		t.Errorf("two contexts of one server refused: %v", err)
	}
}
