package mcpsession

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// RefusedError is the server saying no to events_subscribe: a tool result
// with isError set, or a JSON-RPC error answer (the real server's answer to
// an unknown context). It is not a transport failure: the server is up and
// answered, and Message is its own words.
type RefusedError struct {
	Message string
}

func (e *RefusedError) Error() string { return "events_subscribe refused: " + e.Message }

// maxQuoted bounds how much of a server's text goes into an error.
const maxQuoted = 500

// subscription is the object events_subscribe describes. The real server
// wraps it in text: a markdown header, the pretty-printed object and a
// trailing sentence.
type subscription struct {
	SubscriptionID string `json:"subscriptionId"`
	Cluster        string `json:"cluster"`
	Mode           string `json:"mode"`
	Status         string `json:"status"`
}

// parseSubscribeResult reads the subscription from an events_subscribe
// result. structuredContent wins when the server sends it; otherwise the
// first JSON object with a non-empty subscriptionId found in the text
// content is taken, whatever prose surrounds it. An isError result is a
// *RefusedError carrying the server's text.
func parseSubscribeResult(res *mcp.CallToolResult) (subscription, error) {
	if res == nil {
		return subscription{}, errors.New("events_subscribe returned no result")
	}
	text := resultText(res)
	if res.IsError {
		return subscription{}, &RefusedError{Message: quote(text)}
	}
	if res.StructuredContent != nil {
		if raw, err := json.Marshal(res.StructuredContent); err == nil {
			var sub subscription
			if json.Unmarshal(raw, &sub) == nil && sub.SubscriptionID != "" {
				return sub, nil
			}
		}
	}
	if sub, ok := findSubscription(text); ok {
		return sub, nil
	}
	return subscription{}, fmt.Errorf("events_subscribe returned no JSON object with a subscriptionId: %q", quote(text))
}

// findSubscription scans text for a JSON object that decodes with a
// non-empty subscriptionId, trying each '{' in turn so a brace in a header
// does not hide the object after it.
func findSubscription(text string) (subscription, bool) {
	for i := 0; i < len(text); i++ {
		j := strings.IndexByte(text[i:], '{')
		if j < 0 {
			break
		}
		i += j
		dec := json.NewDecoder(strings.NewReader(text[i:]))
		var sub subscription
		if err := dec.Decode(&sub); err == nil && sub.SubscriptionID != "" {
			return sub, true
		}
	}
	return subscription{}, false
}

// subscribeCallError sorts an error from the events_subscribe call: a
// JSON-RPC error answer is a refusal in the server's words; anything else
// (transport, timeout, a closed session) is returned unchanged.
func subscribeCallError(err error) error {
	var wire *jsonrpc.Error
	if errors.As(err, &wire) {
		return &RefusedError{Message: quote(wire.Message)}
	}
	return err
}

func resultText(res *mcp.CallToolResult) string {
	var b bytes.Buffer
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			if b.Len() > 0 {
				b.WriteByte('\n')
			}
			b.WriteString(t.Text)
		}
	}
	return b.String()
}

func quote(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxQuoted {
		return s[:maxQuoted] + "…"
	}
	return s
}

func isRefusal(err error) bool {
	var r *RefusedError
	return errors.As(err, &r)
}

// LegacyTransportHint goes with a refusal heard over the legacy SSE
// transport: kubernetes-mcp-server refuses subscriptions there.
const LegacyTransportHint = "kubernetes-mcp-server delivers faults only over Streamable HTTP at /mcp (transport: streamable); its legacy SSE transport refuses event subscriptions"
