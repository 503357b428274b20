package scrape

import "testing"

func TestSumAddsTheMatchingSamplesOfOneMetric(t *testing.T) {
	body := `# HELP x_total A counter.
# TYPE x_total counter
x_total{cluster="a",status="success"} 2
x_total{cluster="b",status="success"} 3
x_total{cluster="b",status="failure"} 5
x_total_other{cluster="b"} 100
y 7
`
	for _, c := range []struct {
		name  string
		match []string
		want  float64
	}{
		{"x_total", nil, 10},
		{"x_total", []string{`status="success"`}, 5},
		{"x_total", []string{`cluster="b"`, `status="failure"`}, 5},
		{"y", nil, 7},
		{"z", nil, 0},
	} {
		if got := Sum(body, c.name, c.match...); got != c.want {
			t.Errorf("Sum(%s, %v) = %v, want %v", c.name, c.match, got, c.want)
		}
	}
}
