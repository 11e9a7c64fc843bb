package queue

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NodeOptions describe one node of a JetStream cluster on this machine.
type NodeOptions struct {
	Name string
	// Dir is the node's own storage directory (locked).
	Dir string
	// Listen and Cluster are the client and route addresses (loopback).
	Listen, Cluster string
	// Routes are every node's route URL (nats://host:port).
	Routes []string
}

// RunNode runs one clustered JetStream node until ctx ends: three of them
// are a cluster that survives the loss of one (streams with 3 replicas).
// Tests run nodes as processes on loopback addresses; a team's real
// cluster is nats-server on its own machines.
func RunNode(ctx context.Context, no NodeOptions) error {
	host, port, err := listenAddr(no.Listen)
	if err != nil {
		return err
	}
	chost, cport, err := listenAddr(no.Cluster)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(no.Dir, 0o755); err != nil {
		return err
	}
	lf, err := os.OpenFile(filepath.Join(no.Dir, lockName), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return err
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("%w: %s", ErrLocked, no.Dir)
	}
	so := &server.Options{
		ServerName: no.Name, Host: host, Port: port, JetStream: true, StoreDir: no.Dir,
		JetStreamMaxMemory: 64 << 20, JetStreamMaxStore: 8 << 30, NoSigs: true, NoLog: true, DisableJetStreamBanner: true,
		MaxPayload: maxJobBytes,
		Cluster:    server.ClusterOpts{Name: "triage", Host: chost, Port: cport},
		Routes:     server.RoutesFromStr(strings.Join(no.Routes, ",")),
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return err
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("queue node %s did not start", no.Name)
	}
	<-ctx.Done()
	srv.Shutdown()
	srv.WaitForShutdown()
	return nil
}
