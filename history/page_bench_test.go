package history

import (
	"context"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/ui"
)

// BenchmarkPageStoreList: one page of the list over a history of 20,000
// records, the first page and a filtered one, against reading the whole
// history as the list did before it paged (go test -bench PageStoreList
// ./history; docs/benchmarks.md).
func BenchmarkPageStoreList(b *testing.B) {
	ps := pageStore(b, 20000)
	ctx := context.Background()
	for name, f := range map[string]ui.Filter{
		"first-page":           {Limit: 51},
		"page-10":              {Limit: 51, Offset: 500},
		"warning-first-page":   {Severity: "warning", Limit: 51},
		"search-matching-none": {Query: "no-such-resource", Limit: 51},
	} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, err := ps.List(ctx, f); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("whole-history", func(b *testing.B) {
		for b.Loop() {
			if _, err := ps.Store.History(0); err != nil {
				b.Fatal(err)
			}
		}
	})
}
