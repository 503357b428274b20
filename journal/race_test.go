//go:build race

package journal

// raceBuild: this test binary runs with the race detector and checkptr.
const raceBuild = true
