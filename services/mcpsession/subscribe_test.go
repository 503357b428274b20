package mcpsession

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func textResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

func TestSubscribeResultIsTakenFromProse(t *testing.T) {
	for name, text := range map[string]string{
		"header, object, sentence": "# Event Subscription Created\n\n{\n  \"cluster\": \"\",\n  \"subscriptionId\": \"sub-1\"\n}\n\nYou will receive event notifications via the logging/message protocol.",
		"bare object":              `{"subscriptionId":"sub-1"}`,
		"brace in the header":      "# {draft} created\n{\"subscriptionId\":\"sub-1\"} done {",
	} {
		sub, err := parseSubscribeResult(textResult(text))
		if err != nil || sub.SubscriptionID != "sub-1" {
			t.Errorf("%s: got %+v, %v; want sub-1", name, sub, err)
		}
	}
}

func TestSubscribeResultPrefersStructuredContent(t *testing.T) {
	res := textResult("# Event Subscription Created\n\n{\"subscriptionId\":\"from-text\"}")
	res.StructuredContent = map[string]any{"subscriptionId": "from-structure"}
	sub, err := parseSubscribeResult(res)
	if err != nil || sub.SubscriptionID != "from-structure" {
		t.Fatalf("got %+v, %v; want from-structure", sub, err)
	}
}

func TestSubscribeResultWithoutIDQuotesTheText(t *testing.T) {
	for _, text := range []string{"# Created\n\nnothing here", `{"subscriptionId":""}`, `{"id":"x"}`, ""} {
		_, err := parseSubscribeResult(textResult(text))
		if err == nil || isRefusal(err) {
			t.Errorf("%q: got %v, want a parse error", text, err)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", strings.TrimSpace(text))) {
			t.Errorf("%q: error %q does not quote the text", text, err)
		}
	}
}

func TestSubscribeRefusals(t *testing.T) {
	res := textResult("invalid subscription filters: faults mode cannot filter for Normal events")
	res.IsError = true
	_, err := parseSubscribeResult(res)
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Message != "invalid subscription filters: faults mode cannot filter for Normal events" {
		t.Errorf("isError result: got %v, want a refusal with the server's text", err)
	}
	wire := fmt.Errorf("calling %q: %w", "tools/call", &jsonrpc.Error{Code: 0, Message: `context "nope" does not exist`})
	if err := subscribeCallError(wire); !errors.As(err, &refused) || refused.Message != `context "nope" does not exist` {
		t.Errorf("JSON-RPC error: got %v, want a refusal with the server's message", err)
	}
	if err := subscribeCallError(syscall.ECONNRESET); isRefusal(err) {
		t.Errorf("a transport error was taken for a refusal: %v", err)
	}
}
