package faultsource

import "testing"

// Started returns a server for cluster listening on a free loopback port,
// stopped when the test ends.
func Started(tb testing.TB, cluster string) *Server {
	tb.Helper()
	src := New(cluster)
	if err := src.Start("127.0.0.1:0"); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(src.Stop)
	return src
}
