package config

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"
)

// Sharding splits the configured clusters over replicas the way
// kube-state-metrics does: every replica reads the same configuration and
// keeps the clusters whose shard is its own. The shard of a cluster is
//
//	FNV-1a 32-bit hash of the cluster name (its bytes, as configured) mod total shards
//
// which depends on nothing but the name and the number of shards, so every
// replica agrees without talking to the others, and a cluster keeps its
// shard across restarts and configuration changes that leave the number of
// shards alone.

// ShardOf is the shard that owns the cluster named name among total shards.
func ShardOf(name string, total int) int {
	if total <= 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	return int(h.Sum32() % uint32(total))
}

// Owns reports whether this runner's shard owns the cluster named name.
func (c Config) Owns(name string) bool {
	return ShardOf(name, c.TotalShards) == c.Shard
}

// OwnClusters lists the configured clusters this runner's shard owns, in
// configuration order. Without sharding that is every cluster.
func (c Config) OwnClusters() []Cluster {
	if c.TotalShards <= 1 {
		return c.Clusters
	}
	var own []Cluster
	for _, cl := range c.Clusters {
		if c.Owns(cl.Name) {
			own = append(own, cl)
		}
	}
	return own
}

// ordinal is the trailing -N of a StatefulSet pod's name.
var ordinal = regexp.MustCompile(`-(\d+)$`)

// shardFromPodName takes the shard from a StatefulSet pod's name, given in
// POD_NAME (the downward API) or else HOSTNAME (a StatefulSet pod's host
// name is its pod name): kubernetes-mcp-runner-2 runs shard 2.
func shardFromPodName(getenv func(string) string) (int, error) {
	for _, env := range []string{"POD_NAME", "HOSTNAME"} {
		name := getenv(env)
		if name == "" {
			continue
		}
		m := ordinal.FindStringSubmatch(name)
		if m == nil {
			return 0, fmt.Errorf("missing --shard (SHARD): --total-shards is more than 1 and the pod name %s=%q ends in no -<ordinal> to take the shard from", env, name)
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			return 0, fmt.Errorf("%s=%q: ordinal %w", env, name, err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("missing --shard (SHARD): --total-shards is more than 1 and neither POD_NAME nor HOSTNAME names a StatefulSet pod to take the shard from")
}

// validateShard checks the shard against the number of shards.
func (c Config) validateShard() error {
	if c.TotalShards < 1 {
		return fmt.Errorf("invalid --total-shards (TOTAL_SHARDS): %d must be at least 1", c.TotalShards)
	}
	if c.Shard < 0 || c.Shard >= c.TotalShards {
		return fmt.Errorf("invalid --shard (SHARD): %d is not between 0 and --total-shards (TOTAL_SHARDS) %d minus 1", c.Shard, c.TotalShards)
	}
	return nil
}

// shardValue is --shard; set records that it was given, so that Parse
// takes the shard from the pod name only when it was not.
type shardValue struct {
	n   *int
	set *bool
}

func (v shardValue) String() string {
	if v.set == nil || !*v.set {
		return ""
	}
	return strconv.Itoa(*v.n)
}

func (v shardValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return fmt.Errorf("%q is not a shard number (0, 1, ...)", s)
	}
	*v.n, *v.set = n, true
	return nil
}

// totalShardsValue is --total-shards: one or more.
type totalShardsValue struct{ n *int }

func (v totalShardsValue) String() string {
	if v.n == nil {
		return "1"
	}
	return strconv.Itoa(*v.n)
}

func (v totalShardsValue) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return fmt.Errorf("%q is not a number of shards (1 or more)", s)
	}
	*v.n = n
	return nil
}
