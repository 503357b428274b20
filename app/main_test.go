package app

import (
	"os"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/testagent"
)

// TestMain lets this test binary double as an investigation agent
// (os.Args[1] == testagent.Arg) for the in-process test of the wiring.
func TestMain(m *testing.M) {
	testagent.Run()
	os.Exit(m.Run())
}
