package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/sirupsen/logrus"
	"github.com/spf13/pflag"

	"github.com/fuzztriage/triage/queue"
	"github.com/fuzztriage/triage/remote"
	"github.com/fuzztriage/triage/triage"
)

// queueFlags are the flags of the commands that use the queue.
type queueFlags struct {
	url, listen           *string
	creds, ca, cert, key  *string
	replicas, localWorker *int
	ackWait               *int
}

// Roles of the commands that take queue flags: they differ in defaults.
const (
	roleRun    = "run"    // a run may use a queue
	roleServe  = "serve"  // the coordinator service always does
	roleWorker = "worker" // joins one
)

func addQueueFlags(fs *pflag.FlagSet, role string) *queueFlags {
	qf := &queueFlags{}
	switch role {
	case roleRun, roleServe:
		url, listen, workers := "", "", -1
		urlHelp := "hand the first runs to workers through a queue: `embedded` (a NATS JetStream server in this process, storing under <store>/queue) or nats://host:port[,nats://...] (an existing cluster); default: no queue, everything runs here"
		workersHelp := "workers in this process (default: 1 with an embedded queue that listens on nothing, else 0)"
		if role == roleServe {
			url, listen, workers = queue.Embedded, "127.0.0.1:4222", 1
			urlHelp = "the queue: `embedded` (a NATS JetStream server in this process, storing under <store>/queue) or nats://host:port[,nats://...] (an existing cluster)"
			workersHelp = "workers in this process besides those that join"
		}
		qf.url = fs.String("queue", url, urlHelp)
		qf.listen = fs.String("queue-listen", listen, "embedded queue: listen on this loopback `ADDR` (127.0.0.1:PORT; empty: nowhere) so that `triage worker --queue nats://ADDR` processes can join (implies --queue embedded)")
		qf.localWorker = fs.Int("queue-workers", workers, workersHelp)
		qf.replicas = fs.Int("queue-replicas", 1, "replicas of the queue's streams and buckets (a cluster's; 3 survives a node)")
		qf.ackWait = fs.Int("queue-ack-wait", int(queue.DefaultAckWait.Seconds()), "`SECONDS` a worker may go silent before its job goes to another (workers heartbeat a third of it apart)")
	default:
		qf.url = fs.String("queue", "", "the coordinator's queue: nats://host:port[,nats://...] (required)")
	}
	qf.creds = fs.String("queue-creds", "", "NATS credentials `FILE` (for a cluster reached over other than loopback)")
	qf.ca = fs.String("queue-ca", "", "TLS CA `FILE` of the NATS cluster")
	qf.cert = fs.String("queue-cert", "", "TLS client certificate `FILE`")
	qf.key = fs.String("queue-key", "", "TLS client key `FILE`")
	return qf
}

// enabled says whether the command uses a queue: --queue names one, or
// --queue-listen asks for an embedded one that workers can join.
func (qf *queueFlags) enabled() bool {
	return *qf.url != "" || (qf.listen != nil && *qf.listen != "")
}

func (qf *queueFlags) options(a *app, storeDir string, create bool) (queue.Options, error) {
	url := *qf.url
	if url == "" && qf.enabled() {
		url = queue.Embedded
	}
	o := queue.Options{URL: url, Creds: *qf.creds, CA: *qf.ca, Cert: *qf.cert, Key: *qf.key, Create: create, Log: a.log}
	if qf.listen != nil {
		o.Listen = *qf.listen
		if o.Listen != "" && o.URL != queue.Embedded {
			return o, usagef("--queue-listen is for --queue embedded")
		}
	}
	if qf.replicas != nil {
		if *qf.replicas < 1 {
			return o, usagef("--queue-replicas must be at least 1")
		}
		o.Replicas = *qf.replicas
	}
	if qf.ackWait != nil {
		if *qf.ackWait < 3 {
			return o, usagef("--queue-ack-wait must be at least 3 seconds")
		}
		o.AckWait = time.Duration(*qf.ackWait) * time.Second
	}
	if o.URL == queue.Embedded {
		o.Dir = filepath.Join(storeDir, "queue")
	}
	return o, nil
}

// coordinate opens the queue for a run: the coordinator that submits its
// first runs, commits their results, and runs the in-process workers.
func (qf *queueFlags) coordinate(ctx context.Context, a *app, ws *triage.Workspace, cfg *triage.Config, opts *triage.Options) (*remote.Coordinator, func(), error) {
	qo, err := qf.options(a, cfg.StoreDir(ws.Root), true)
	if err != nil {
		return nil, nil, err
	}
	q, err := queue.Open(ctx, qo)
	if err != nil {
		return nil, nil, exitError{exitFailures, err}
	}
	qctx, cancel := context.WithCancel(ctx)
	coord := remote.NewCoordinator(qctx, q, 256, a.log)
	opts.Remote = coord
	if u := q.ClientURL(); u != "" {
		a.log.WithField("url", u).Info("queue listening: join workers with `triage worker --queue " + u + " WORKSPACE`")
	}
	local := *qf.localWorker
	if local < 0 {
		local = 0
		if qo.URL == queue.Embedded && qo.Listen == "" {
			local = 1
		}
	}
	scratch := ""
	if local > 0 {
		if scratch, err = os.MkdirTemp("", "triage-worker-*"); err != nil {
			cancel()
			q.Close()
			return nil, nil, err
		}
	}
	w := &remote.Worker{Workspace: ws, Config: cfg, Stages: opts.Stages, Queue: q, Scratch: scratch, Log: a.log}
	for i := 0; i < local; i++ {
		go q.Work(qctx, queue.WorkOptions{Name: fmt.Sprintf("%s-local-%d", hostname(), i)}, w.Handle)
	}
	return coord, func() {
		n := coord.Stats.Committed.Load()
		a.log.WithFields(logrus.Fields{"committed": n, "duplicates": coord.Stats.Duplicates.Load(),
			"queue_ms":         coord.Stats.QueueMicros.Load() / 1000,
			"queue_ms_per_job": float64(coord.Stats.QueueMicros.Load()) / 1000 / float64(max(1, n))}).Info("queue results committed")
		cancel()
		q.Close()
		os.RemoveAll(scratch)
	}, nil
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "worker"
	}
	return h
}

func init() {
	register(&command{
		name:     "serve",
		summary:  "the coordinator service: watch for new artifacts and hand their runs to workers",
		usage:    "[WORKSPACE]",
		group:    "pipeline",
		complete: completeWorkspaceArg,
		help: `
'triage watch' with a queue: it holds the store's lock, triages what is new at
start and then what arrives, handing every input's first reproduction to
workers through a NATS JetStream queue and committing each result into the
store exactly once; bucketing, minimization, the dev build and the lldb
sessions run here, and the store stays the one source of truth for report,
diff, export and html. By default the queue is embedded (a server in this
process, storing under <store>/queue) and listens on 127.0.0.1:4222, where
'triage worker --queue nats://127.0.0.1:4222' processes join; one worker
runs in this process too. --queue nats://... uses an existing cluster
instead. Restarted on the same store after a crash it finishes what was
handed out (results waiting in the queue are committed, jobs are not
submitted twice).

Exit codes: 0 stopped by a signal; 2 usage error; 3 could not start (the
store or the queue's directory is locked, the queue is unreachable).

Examples:
  triage serve ~/openvmm
  triage serve --queue-listen 127.0.0.1:4300 --queue-workers 0 --log-format json .
  triage serve --queue nats://a:4222,nats://b:4222,nats://c:4222 --queue-replicas 3 --queue-creds ci.creds .
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			pf := addPipelineFlags(fs, true)
			qf := addQueueFlags(fs, roleServe)
			return func(ctx context.Context, a *app, args []string) error {
				if !qf.enabled() {
					return usagef("serve needs a queue: --queue embedded or nats://...")
				}
				return watchService(ctx, a, args, pf, qf)
			}
		},
	})
	register(&command{
		name:     "worker",
		summary:  "run a coordinator's jobs: reproduce inputs and fuzz targets handed out through the queue",
		usage:    "[WORKSPACE]",
		group:    "pipeline",
		complete: completeWorkspaceArg,
		help: `
Joins the queue of a coordinator (` + "`triage run --queue`, `triage serve`, `triage fuzz --queue`" + `)
and runs its jobs on this machine. Every job names a fuzz target and the
SHA1 of the release binary it must run: WORKSPACE's release binary of the
target (built beforehand; a worker whose binary has another digest refuses
the job, and another worker takes it). A triage job names an input (fetched
from the queue's object store): the worker reproduces it with the same code
a local run uses and sends the result back. A fuzz job names cores, a
duration, flags and a starting corpus: the worker runs the campaign runner
in a scratch directory and sends back its figures, the last part of its
output, the new corpus inputs and the artifacts. Long jobs are heartbeated;
a worker that dies mid-job has its job handed to another after
--queue-ack-wait. Runs until interrupted, or until --jobs jobs were
answered.

Exit codes:
  0  stopped (interrupted, or --jobs answered)
  2  usage error
  3  the queue could not be reached

Examples:
  triage run --queue embedded --queue-listen 127.0.0.1:4222 --queue-workers 0 ~/openvmm &
  triage worker --queue nats://127.0.0.1:4222 ~/openvmm
  triage worker --queue nats://coordinator.lan:4222 --queue-ca ca.pem --queue-cert me.pem --queue-key me.key .
  triage worker --queue nats://a:4222,nats://b:4222 --queue-creds ci.creds .
`,
		setup: func(fs *pflag.FlagSet) runFunc {
			qf := addQueueFlags(fs, roleWorker)
			jobs := fs.Int("jobs", 0, "stop after this many jobs were answered (default: run until interrupted)")
			name := fs.String("name", "", "the worker's name in the queue's records (default: host name and process id)")
			return func(ctx context.Context, a *app, args []string) error {
				if !qf.enabled() || *qf.url == queue.Embedded {
					return usagef("worker needs --queue nats://host:port (the coordinator's --queue-listen address, or the cluster)")
				}
				root, err := a.workspaceRoot(args)
				if err != nil {
					return err
				}
				ws, err := triage.Discover(root)
				if err != nil {
					return usagef("%v", err)
				}
				cfg, err := a.config(ws.Root)
				if err != nil {
					return err
				}
				ws.Configure(cfg)
				qo, err := qf.options(a, "", false)
				if err != nil {
					return err
				}
				q, err := queue.Open(ctx, qo)
				if err != nil {
					return exitError{exitFailures, err}
				}
				defer q.Close()
				scratch, err := os.MkdirTemp("", "triage-worker-*")
				if err != nil {
					return exitError{exitFailures, err}
				}
				defer os.RemoveAll(scratch)
				n := *name
				if n == "" {
					n = fmt.Sprintf("%s-%d", hostname(), os.Getpid())
				}
				w := &remote.Worker{Workspace: ws, Config: cfg, Stages: triage.DefaultStages(), Queue: q, Scratch: scratch, Log: a.log}
				a.log.WithField("worker", n).Info("worker started")
				return q.Work(ctx, queue.WorkOptions{Name: n, Jobs: *jobs}, w.Handle)
			}
		},
	})
}
