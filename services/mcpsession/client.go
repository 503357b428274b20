package mcpsession

import (
	"context"
	"log/slog"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// sharedClient is the one mcp.Client of a set's sessions. A client holds
// its options, handlers and a copy of the table of methods it may send
// (some kilobytes); one per session was a few kilobytes of every idle
// cluster. The SDK lets one client connect many sessions: notifications
// name the session they came on, and owners maps it back to ours.
type sharedClient struct {
	client *mcp.Client

	mu     sync.RWMutex
	owners map[*mcp.ClientSession]*Session
}

func newSharedClient(version string) *sharedClient {
	c := &sharedClient{owners: make(map[*mcp.ClientSession]*Session)}
	// Other notifications than faults (subscription errors, ordinary
	// logs) are few and come through the SDK, which calls the handler
	// from the session's reader. Faults are taken off the stream before
	// (stream.go) and never reach it.
	c.client = mcp.NewClient(&mcp.Implementation{Name: "kubernetes-mcp-runner", Version: version}, &mcp.ClientOptions{
		Capabilities: &mcp.ClientCapabilities{},
		Logger:       slog.New(slog.DiscardHandler),
		LoggingMessageHandler: func(_ context.Context, req *mcp.LoggingMessageRequest) {
			c.mu.RLock()
			s := c.owners[req.Session]
			c.mu.RUnlock()
			// A message before connect returned has no owner yet; the
			// server sends nothing of ours before setLevel, which follows.
			if s != nil {
				s.handleMessage(req.Params)
			}
		},
	})
	return c
}

// connect opens a session of owner over t.
func (c *sharedClient) connect(ctx context.Context, t mcp.Transport, owner *Session) (*mcp.ClientSession, error) {
	cs, err := c.client.Connect(ctx, t, &mcp.ClientSessionOptions{ProtocolVersion: ProtocolVersion})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.owners[cs] = owner
	c.mu.Unlock()
	return cs, nil
}

// close ends cs and forgets its owner.
func (c *sharedClient) close(cs *mcp.ClientSession) {
	_ = cs.Close()
	c.mu.Lock()
	delete(c.owners, cs)
	c.mu.Unlock()
}
