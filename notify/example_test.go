package notify_test

import (
	"fmt"
	"net/http"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/notify"
)

// A receiver checks each delivery before trusting it: the signature over
// the timestamp and the raw body, and the timestamp's age.
func ExampleVerify() {
	key := []byte("shared signing key")
	body := []byte(`{"schemaVersion":1,"idempotencyKey":"incident-0f3a","kind":"incident"}`)
	sent := time.Unix(1767225600, 0)

	h := http.Header{}
	h.Set(notify.HeaderTimestamp, fmt.Sprint(sent.Unix()))
	h.Set(notify.HeaderSignature, notify.Sign(key, sent.Unix(), body))

	fmt.Println(notify.Verify(key, h, body, sent.Add(30*time.Second), 5*time.Minute))
	fmt.Println(notify.Verify(key, h, body, sent.Add(time.Hour), 5*time.Minute))
	fmt.Println(notify.Verify([]byte("other key"), h, body, sent, 5*time.Minute))
	// Output:
	// <nil>
	// timestamp outside tolerance: 1h0m0s from now
	// signature does not match
}

func ExampleRouter() {
	r := notify.Router{
		Routes: []notify.Route{
			{Match: notify.Match{Severities: []string{"critical"}}, Sinks: []string{"pager"}, Continue: true},
			{Match: notify.Match{Kinds: []string{"incident"}}, Sinks: []string{"team-slack"}},
		},
		Default: []string{"audit"},
	}
	n, _ := notify.NewBreakerNotice("open", time.Unix(0, 0), time.Unix(0, 0), notify.DocOptions{})
	fmt.Println(r.Sinks(n))
	// Output: [pager]
}
