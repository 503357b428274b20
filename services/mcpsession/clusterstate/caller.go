// Package clusterstate reads what a kubernetes-mcp-server's read-only tools
// (pods_get, resources_get, resources_list) say about a cluster, for two
// uses: the topology of a fault (its node, container and owner chain),
// which grouping keys on, and reconcile, which finds the resources that are
// in one of the server's five fault states now and builds the faults the
// server would have sent while no subscription was live.
//
// It parses the server's recorded formats (lists as a human table, gets as
// YAML) and knows nothing of sessions: a Caller is all it needs, so the
// sessions can hand it their MCP session and tests a stand-in.
package clusterstate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Caller calls one tool of the server and returns the text content of its
// answer. An answer with isError, or a JSON-RPC error, is an error. It must
// return once ctx ends: the per-call timeouts here rely on it.
type Caller interface {
	CallTool(ctx context.Context, name string, args map[string]any) (text string, err error)
}

// ErrToolError marks an answer the server gave with isError: the tool ran
// and refused (an object not found, a forbidden list).
var ErrToolError = errors.New("tool answered with an error")

// ErrOverLimit marks an answer, or a reconcile, that went over its limits.
var ErrOverLimit = errors.New("over limit")

// maxErrorText bounds how much of a refusal's text an error carries: it
// ends up in logs and lookup failures.
const maxErrorText = 256

// SessionCaller calls tools over an MCP client session. The SDK has read
// the whole answer before it returns, so the transport's own bound
// (StreamableClientTransport's MaxEventSize) is what limits the bytes held
// per answer; the limits here bound what is parsed and kept.
func SessionCaller(cs *mcp.ClientSession) Caller { return sessionCaller{cs} }

type sessionCaller struct{ cs *mcp.ClientSession }

func (s sessionCaller) CallTool(ctx context.Context, name string, args map[string]any) (string, error) {
	res, err := s.cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		return "", fmt.Errorf("call %s: %w", name, err)
	}
	var b strings.Builder
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			b.WriteString(t.Text)
		}
	}
	if res.IsError {
		return "", fmt.Errorf("%s: %w: %s", name, ErrToolError, clip(b.String(), maxErrorText))
	}
	return b.String(), nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
