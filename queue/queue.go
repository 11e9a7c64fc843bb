// Package queue hands triage's jobs to workers and brings their results
// back through NATS JetStream: a server embedded in this process (the
// default, storing under the triage store) or an existing NATS cluster.
// Open gives the same Queue for both; nothing outside this package knows
// which one it talks to.
//
// What it keeps (see the names below): a work-queue stream of jobs with
// explicit acks, de-duplicated by job id on publish; a work-queue stream of
// results; an object store of blobs (artifacts, results) addressed by
// digest or job id; a key-value bucket of small state (which job's result
// was committed, which jobs were poisoned). Delivery is at-least-once;
// Results commits each job's result exactly once through a create-if-absent
// marker.
package queue

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/sirupsen/logrus"
)

// Embedded is the --queue value that runs the server in this process.
const Embedded = "embedded"

// Names of what the queue keeps in JetStream.
const (
	jobsStream     = "TRIAGE_JOBS"
	jobsSubject    = "triage.jobs" // + "." + job kind
	resultsStream  = "TRIAGE_RESULTS"
	resultsSubject = "triage.results"
	workersName    = "workers"
	committerName  = "committer"
	stateBucket    = "triage_state"
	blobsBucket    = "triage_blobs"
	// lockName is the lock file in the embedded server's directory:
	// nats-server does not lock its store, and two servers on one
	// directory corrupt it.
	lockName = "nats.lock"
)

// Defaults of Options.
const (
	DefaultAckWait    = 30 * time.Second
	DefaultMaxDeliver = 5
	// maxJobBytes is NATS's default message limit: jobs and results
	// messages stay small; anything bigger goes in the object store.
	maxJobBytes = 1 << 20
	// dupWindow is how long a job id is remembered on publish: a
	// re-submitted job within it is dropped (a restarted coordinator
	// re-submits what it had submitted).
	dupWindow = 24 * time.Hour
)

// Options say which queue to open.
type Options struct {
	// URL is Embedded (or "") for a server in this process, else a
	// comma-separated list of nats:// (or tls://) URLs of a cluster.
	URL string
	// Dir is the embedded server's storage directory (the store's
	// queue/); locked while the queue is open.
	Dir string
	// Listen is the embedded server's client address (host:port on a
	// loopback address) so that local workers can join; "" listens on
	// nothing (in-process connections only).
	Listen string
	// Creds is a NATS credentials file; CA, Cert and Key are TLS files,
	// for a cluster reached over other than loopback.
	Creds, CA, Cert, Key string
	// Replicas of the streams and buckets (a cluster's; default 1).
	Replicas int
	// AckWait is how long a worker may hold a job without a heartbeat
	// before it is handed to another (default DefaultAckWait);
	// MaxDeliver is how many deliveries a job gets before it is
	// poisoned (default DefaultMaxDeliver). Set by whoever creates the
	// streams; workers use what the consumer says.
	AckWait    time.Duration
	MaxDeliver int
	// Create makes the streams, consumers and buckets when missing (the
	// coordinator); workers wait for them to exist instead.
	Create bool
	Log    logrus.FieldLogger
}

// Queue is an open queue.
type Queue struct {
	opt   Options
	srv   *server.Server
	lock  *os.File
	nc    *nats.Conn
	js    jetstream.JetStream
	jobs  jetstream.Stream
	res   jetstream.Stream
	state jetstream.KeyValue
	blobs jetstream.ObjectStore
	log   logrus.FieldLogger
}

// ErrLocked is returned when another process holds the embedded server's
// directory.
var ErrLocked = errors.New("the queue's directory is in use by another triage process")

// Open opens the queue opt names, starting the embedded server when asked
// to, and makes (Create) or finds its streams and buckets.
func Open(ctx context.Context, opt Options) (*Queue, error) {
	if opt.AckWait <= 0 {
		opt.AckWait = DefaultAckWait
	}
	if opt.MaxDeliver <= 0 {
		opt.MaxDeliver = DefaultMaxDeliver
	}
	if opt.Replicas <= 0 {
		opt.Replicas = 1
	}
	q := &Queue{opt: opt, log: opt.Log}
	if q.log == nil {
		l := logrus.New()
		l.SetOutput(os.Stderr)
		l.SetLevel(logrus.WarnLevel)
		q.log = l
	}
	var err error
	if opt.URL == "" || opt.URL == Embedded {
		err = q.startEmbedded()
	} else {
		err = q.connect(opt.URL)
	}
	if err == nil {
		err = q.bind(ctx)
	}
	if err != nil {
		q.Close()
		return nil, err
	}
	return q, nil
}

func (q *Queue) startEmbedded() error {
	if q.opt.Dir == "" {
		// nats-server would fall back to a temp directory shared by
		// every server on the machine.
		return errors.New("queue: the embedded server needs a directory")
	}
	// The server writes under Dir: never through a link to elsewhere.
	if fi, err := os.Lstat(q.opt.Dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("queue: %s is not a directory (a link is refused: the queue stays inside the store)", q.opt.Dir)
	}
	if err := os.MkdirAll(q.opt.Dir, 0o755); err != nil {
		return err
	}
	lf, err := os.OpenFile(filepath.Join(q.opt.Dir, lockName), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o644)
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		return fmt.Errorf("%w: %s", ErrLocked, q.opt.Dir)
	}
	q.lock = lf
	so := &server.Options{
		ServerName:             "triage",
		JetStream:              true,
		StoreDir:               q.opt.Dir,
		JetStreamMaxMemory:     64 << 20,
		JetStreamMaxStore:      64 << 30,
		NoSigs:                 true,
		NoLog:                  true,
		DisableJetStreamBanner: true,
		MaxPayload:             maxJobBytes,
	}
	if q.opt.Listen == "" {
		so.DontListen = true
	} else {
		host, port, err := listenAddr(q.opt.Listen)
		if err != nil {
			return err
		}
		so.Host, so.Port = host, port
	}
	srv, err := server.NewServer(so)
	if err != nil {
		return fmt.Errorf("queue: embedded server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		srv.Shutdown()
		return fmt.Errorf("queue: the embedded server did not start (listening on %q)", q.opt.Listen)
	}
	q.srv = srv
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("triage"))
	if err != nil {
		return fmt.Errorf("queue: %w", err)
	}
	q.nc = nc
	return nil
}

// listenAddr checks --queue-listen: the embedded server has no users, so
// it listens on loopback addresses only. Port 0 picks a free port (NATS
// itself would read 0 as 4222).
func listenAddr(s string) (string, int, error) {
	host, ps, err := net.SplitHostPort(s)
	if err != nil {
		return "", 0, fmt.Errorf("--queue-listen %q: %w", s, err)
	}
	ip := net.ParseIP(host)
	if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", 0, fmt.Errorf("--queue-listen %q: not a loopback address (the embedded server has no users or TLS; point machines at a NATS cluster with --queue nats://... instead)", s)
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("--queue-listen %q: bad port", s)
	}
	if port == 0 {
		port = -1
	}
	return host, port, nil
}

func (q *Queue) connect(url string) error {
	for _, u := range strings.Split(url, ",") {
		if !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
			return fmt.Errorf("--queue %q: want %q or nats://host:port[,nats://...]", url, Embedded)
		}
	}
	opts := []nats.Option{nats.Name("triage"), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.Timeout(10 * time.Second)}
	if q.opt.Creds != "" {
		opts = append(opts, nats.UserCredentials(q.opt.Creds))
	}
	if q.opt.CA != "" {
		opts = append(opts, nats.RootCAs(q.opt.CA))
	}
	if q.opt.Cert != "" || q.opt.Key != "" {
		opts = append(opts, nats.ClientCert(q.opt.Cert, q.opt.Key))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return fmt.Errorf("queue %s: %w", url, err)
	}
	q.nc = nc
	return nil
}

// bind makes or finds the streams, consumers and buckets.
func (q *Queue) bind(ctx context.Context) error {
	js, err := jetstream.New(q.nc)
	if err != nil {
		return err
	}
	q.js = js
	// A worker may start before the coordinator made the streams, and a
	// cluster's JetStream is usable only once it elected its leader: wait
	// for them, boundedly.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if q.opt.Create {
			err = q.create(ctx)
		} else {
			err = q.find(ctx)
		}
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func (q *Queue) create(ctx context.Context) error {
	var err error
	q.jobs, err = q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: jobsStream, Subjects: []string{jobsSubject + ".>"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Replicas: q.opt.Replicas, Duplicates: dupWindow, MaxMsgSize: maxJobBytes,
	})
	if err != nil {
		return fmt.Errorf("queue: jobs stream: %w", err)
	}
	if _, err := q.jobs.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: workersName, AckPolicy: jetstream.AckExplicitPolicy, AckWait: q.opt.AckWait,
		MaxDeliver: q.opt.MaxDeliver, MaxAckPending: 10000,
	}); err != nil {
		return fmt.Errorf("queue: workers consumer: %w", err)
	}
	q.res, err = q.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: resultsStream, Subjects: []string{resultsSubject + ".>"}, Retention: jetstream.WorkQueuePolicy,
		Storage: jetstream.FileStorage, Replicas: q.opt.Replicas, Duplicates: dupWindow, MaxMsgSize: maxJobBytes,
	})
	if err != nil {
		return fmt.Errorf("queue: results stream: %w", err)
	}
	if _, err := q.res.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable: committerName, AckPolicy: jetstream.AckExplicitPolicy, AckWait: q.opt.AckWait,
		MaxDeliver: -1, MaxAckPending: 10000,
	}); err != nil {
		return fmt.Errorf("queue: committer consumer: %w", err)
	}
	q.state, err = q.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: stateBucket, Replicas: q.opt.Replicas, Storage: jetstream.FileStorage})
	if err != nil {
		return fmt.Errorf("queue: state bucket: %w", err)
	}
	q.blobs, err = q.js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: blobsBucket, Replicas: q.opt.Replicas, Storage: jetstream.FileStorage})
	if err != nil {
		return fmt.Errorf("queue: blobs bucket: %w", err)
	}
	return nil
}

func (q *Queue) find(ctx context.Context) error {
	var err error
	if q.jobs, err = q.js.Stream(ctx, jobsStream); err != nil {
		return fmt.Errorf("queue: no jobs stream (is a coordinator running?): %w", err)
	}
	if q.res, err = q.js.Stream(ctx, resultsStream); err != nil {
		return fmt.Errorf("queue: no results stream: %w", err)
	}
	if q.state, err = q.js.KeyValue(ctx, stateBucket); err != nil {
		return fmt.Errorf("queue: no state bucket: %w", err)
	}
	if q.blobs, err = q.js.ObjectStore(ctx, blobsBucket); err != nil {
		return fmt.Errorf("queue: no blobs bucket: %w", err)
	}
	return nil
}

// ClientURL is the address local workers join with (embedded and
// listening), else "".
func (q *Queue) ClientURL() string {
	if q.srv == nil || q.opt.Listen == "" {
		return ""
	}
	return q.srv.ClientURL()
}

// Close disconnects and stops the embedded server.
func (q *Queue) Close() {
	if q.nc != nil {
		q.nc.Close()
	}
	if q.srv != nil {
		q.srv.Shutdown()
		q.srv.WaitForShutdown()
	}
	if q.lock != nil {
		q.lock.Close()
	}
}
