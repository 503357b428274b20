package clusterstate

import (
	"crypto/sha256"
	"encoding/hex"
)

// FaultID is the server's id of a fault: the hex of the first 8 bytes of
// SHA-256("<cluster>:<faultType>:<resource uid>:<container name>"). cluster
// is the server's own name for its cluster: "" when it runs single-cluster,
// the kubeconfig context's name when it runs multi-cluster; container is ""
// for faults about anything but a container.
func FaultID(cluster, faultType, uid, container string) string {
	sum := sha256.Sum256([]byte(cluster + ":" + faultType + ":" + uid + ":" + container))
	return hex.EncodeToString(sum[:8])
}
