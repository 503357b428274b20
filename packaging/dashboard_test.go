package packaging

import (
	"encoding/json"
	"os"
	"testing"
)

// gridPos is a panel's place on Grafana's 24-column grid.
type gridPos struct{ H, W, X, Y int }

// TestDashboardLayout: every panel fits the 24-column grid, no two panels
// cover the same cell, and a half-width panel sits beside another one in
// the same row instead of alone in a row of its own.
func TestDashboardLayout(t *testing.T) {
	for _, path := range []string{"grafana/kubernetes-mcp-runner.json", "../charts/kubernetes-mcp-runner/files/dashboard.json"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var dash struct {
			Panels []struct {
				Title   string
				GridPos gridPos
			}
		}
		if err := json.Unmarshal(data, &dash); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if len(dash.Panels) == 0 {
			t.Fatalf("%s has no panels", path)
		}
		type cell struct{ x, y int }
		owner := map[cell]string{}
		for _, p := range dash.Panels {
			g := p.GridPos
			if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
				t.Errorf("%s: panel %q at %+v is off the 24-column grid", path, p.Title, g)
				continue
			}
			for x := g.X; x < g.X+g.W; x++ {
				for y := g.Y; y < g.Y+g.H; y++ {
					if other, ok := owner[cell{x, y}]; ok {
						t.Errorf("%s: panels %q and %q overlap at column %d, row %d", path, other, p.Title, x, y)
					}
					owner[cell{x, y}] = p.Title
				}
			}
		}
		for _, p := range dash.Panels {
			g := p.GridPos
			if g.W != 12 {
				continue
			}
			paired := false
			for _, q := range dash.Panels {
				if q.Title != p.Title && q.GridPos.W == 12 && q.GridPos.Y == g.Y && q.GridPos.H == g.H && q.GridPos.X == 12-g.X {
					paired = true
				}
			}
			if !paired {
				t.Errorf("%s: half-width panel %q at %+v has no partner in its row", path, p.Title, g)
			}
		}
	}
}
