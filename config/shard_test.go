package config

import (
	"strconv"
	"strings"
	"testing"
)

func TestShardFromFlagsEnvAndPodName(t *testing.T) {
	cases := []struct {
		name  string
		args  []string
		env   map[string]string
		shard int
		total int
		err   string
	}{
		{name: "unsharded", shard: 0, total: 1},
		{name: "flags", args: []string{"--shard", "2", "--total-shards", "3"}, shard: 2, total: 3},
		{name: "environment", env: map[string]string{"SHARD": "1", "TOTAL_SHARDS": "4"}, shard: 1, total: 4},
		{name: "pod name", args: []string{"--total-shards", "3"}, env: map[string]string{"POD_NAME": "kubernetes-mcp-runner-2", "HOSTNAME": "x-0"}, shard: 2, total: 3},
		{name: "host name", args: []string{"--total-shards", "3"}, env: map[string]string{"HOSTNAME": "runner-1"}, shard: 1, total: 3},
		{name: "flag over pod name", args: []string{"--total-shards", "3", "--shard", "0"}, env: map[string]string{"POD_NAME": "runner-2"}, shard: 0, total: 3},
		{name: "no ordinal", args: []string{"--total-shards", "3"}, env: map[string]string{"POD_NAME": "runner"}, err: `pod name POD_NAME="runner" ends in no -<ordinal>`},
		{name: "no pod", args: []string{"--total-shards", "3"}, err: "missing --shard (SHARD)"},
		{name: "ordinal past the shards", args: []string{"--total-shards", "3"}, env: map[string]string{"POD_NAME": "runner-3"}, err: "invalid --shard (SHARD): 3 is not between 0 and --total-shards (TOTAL_SHARDS) 3"},
		{name: "bad shard", args: []string{"--shard", "-1"}, err: "invalid --shard (SHARD)"},
		{name: "bad total", args: []string{"--total-shards", "0"}, err: "invalid --total-shards (TOTAL_SHARDS)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse(append(append([]string{}, base...), tc.args...), env(tc.env))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Shard != tc.shard || c.TotalShards != tc.total {
				t.Fatalf("shard %d of %d, want %d of %d", c.Shard, c.TotalShards, tc.shard, tc.total)
			}
		})
	}
}

// TestShardOfIsStableAndSpreads: the documented hash, so a cluster keeps
// its shard across releases, and a fair spread over the shards.
func TestShardOfIsStableAndSpreads(t *testing.T) {
	// FNV-1a 32 of "prod" is 0xed3e3174 = 3980276084; mod 3 = 2.
	if got := ShardOf("prod", 3); got != 2 {
		t.Fatalf("ShardOf(prod, 3) = %d", got)
	}
	counts := make([]int, 3)
	for i := range 3000 {
		counts[ShardOf("cluster-"+strconv.Itoa(i), 3)]++
	}
	for s, n := range counts {
		if n < 800 || n > 1200 {
			t.Errorf("shard %d owns %d of 3000 clusters: the hash does not spread", s, n)
		}
	}
	c := Config{Shard: 1, TotalShards: 3}
	for i := range 30 {
		c.Clusters = append(c.Clusters, Cluster{Name: "c" + strconv.Itoa(i)})
	}
	for _, cl := range c.OwnClusters() {
		if ShardOf(cl.Name, 3) != 1 {
			t.Errorf("shard 1 holds %s of shard %d", cl.Name, ShardOf(cl.Name, 3))
		}
	}
}
