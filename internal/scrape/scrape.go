// Package scrape reads the runner's /metrics as Prometheus does, over HTTP
// in the text exposition format, for the tests of the built binary and the
// load command: one way to read a metric from the outside.
package scrape

import (
	"bufio"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Get returns the body of one scrape of url, or "" if it fails.
func Get(url string) string {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return ""
	}
	return string(b)
}

// Sum adds up the samples of the metric name in body whose labels contain
// every `key="value"` in match.
func Sum(body, name string, match ...string) float64 {
	sum := 0.0
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") && !strings.HasPrefix(line, name+" ") {
			continue
		}
		ok := true
		for _, m := range match {
			if !strings.Contains(line, m) {
				ok = false
			}
		}
		if !ok {
			continue
		}
		fields := strings.Fields(line)
		if v, err := strconv.ParseFloat(fields[len(fields)-1], 64); err == nil {
			sum += v
		}
	}
	return sum
}
