package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/fuzztriage/triage/queue"
)

// nodeEnv, when set, makes the test binary one node of a JetStream cluster
// (queue.RunNode with the JSON options it holds) instead of running tests:
// cluster tests start three such processes on loopback ports.
const nodeEnv = "TRIAGE_TEST_QUEUE_NODE"

func TestMain(m *testing.M) {
	if spec := os.Getenv(nodeEnv); spec != "" {
		var no queue.NodeOptions
		if err := json.Unmarshal([]byte(spec), &no); err != nil {
			fmt.Fprintln(os.Stderr, nodeEnv+":", err)
			os.Exit(2)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		if err := queue.RunNode(ctx, no); err != nil {
			fmt.Fprintln(os.Stderr, "queue node:", err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
