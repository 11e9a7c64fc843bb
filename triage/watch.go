package triage

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/fuzztriage/triage/store"
	"github.com/sirupsen/logrus"
)

// WatchOptions configure the watching service.
type WatchOptions struct {
	Options
	// OnPass hears about each finished pass (for the CLI's summary lines).
	OnPass func(*store.RunRecord, error)
}

// Watch is the long-running service: it holds the store's lock, triages
// what is new at start, then triages again whenever artifact directories
// change (inotify through fsnotify, or polling where inotify is not
// available or watch.force_poll is set). A failing build or a bad artifact
// is recorded in that pass's run record and the service goes on; failed
// inputs are retried with a growing delay. It returns when ctx is done
// (SIGINT/SIGTERM in the CLI): an in-flight pass is abandoned (its finished
// records are complete; unfinished inputs stay new) and the lock released.
func Watch(ctx context.Context, root string, opts WatchOptions) error {
	ws, err := Discover(root)
	if err != nil {
		return err
	}
	p, err := NewPipeline(ws, opts.Options)
	if err != nil {
		return err
	}
	p.skipIdle = true
	if err := p.Open(); err != nil {
		return err
	}
	defer p.Close()
	log := p.log
	poll := p.cfg.Watch.Poll.D()

	trigger := make(chan struct{}, 1)
	kick := func() {
		select {
		case trigger <- struct{}{}:
		default:
		}
	}

	var fsw *fsnotify.Watcher
	mode := "poll"
	if !p.cfg.Watch.ForcePoll {
		if w, err := fsnotify.NewWatcher(); err == nil {
			fsw = w
			mode = "inotify"
			defer fsw.Close()
		} else {
			log.WithError(err).Warn("inotify unavailable; polling")
		}
	}
	addWatches := func() {
		if fsw == nil {
			return
		}
		have := map[string]bool{}
		for _, d := range fsw.WatchList() {
			have[d] = true
		}
		for _, d := range watchDirs(p.ws) {
			if !have[d] {
				if err := fsw.Add(d); err != nil {
					log.WithError(err).WithField("dir", d).Warn("cannot watch")
				}
			}
		}
	}
	addWatches()
	log.WithFields(logrus.Fields{"workspace": ws.Root, "mode": mode, "store": p.st.Dir, "targets": len(ws.Targets)}).Info("watch started")

	// Events arrive in bursts while libFuzzer writes; passes start once the
	// directories have been quiet for one poll interval.
	events := make(chan struct{}, 1)
	if fsw != nil {
		go func() {
			for {
				select {
				case ev, ok := <-fsw.Events:
					if !ok {
						return
					}
					if ev.Op&(fsnotify.Create|fsnotify.Write|fsnotify.Rename|fsnotify.Chmod) != 0 {
						select {
						case events <- struct{}{}:
						default:
						}
					}
				case err, ok := <-fsw.Errors:
					if !ok {
						return
					}
					log.WithError(err).Warn("watch error; rescanning")
					kick()
				}
			}
		}()
	}

	// The fingerprint poll is the whole mechanism when polling, and a
	// safety net (every 10 intervals) under inotify.
	lastPrint := fingerprint(p.ws)
	pollEvery := poll
	if fsw != nil {
		pollEvery = 10 * poll
	}
	pollTick := time.NewTicker(pollEvery)
	defer pollTick.Stop()

	retryDelay := time.Duration(0)
	var retry <-chan time.Time
	kick() // the first pass triages what is already there
	for {
		select {
		case <-ctx.Done():
			log.Info("watch stopping")
			return nil
		case <-events:
			if !settle(ctx, events, poll) {
				continue
			}
			kick()
		case <-pollTick.C:
			if fp := fingerprint(p.ws); fp != lastPrint {
				lastPrint = fp
				kick()
			}
		case <-retry:
			retry = nil
			kick()
		case <-trigger:
			// Targets may have appeared since the last pass.
			if nws, err := Load(root, p.cfg); err == nil {
				p.ws = nws
			}
			addWatches()
			lastPrint = fingerprint(p.ws)
			rec, err := p.Pass(ctx)
			if ctx.Err() != nil {
				log.Info("watch stopping; the pass in flight was abandoned")
				return nil
			}
			if opts.OnPass != nil {
				opts.OnPass(rec, err)
			}
			if err != nil {
				log.WithError(err).Error("pass failed")
			}
			if err != nil || (rec != nil && rec.Artifacts.Failed > 0) {
				// Something could not be triaged (a failing build, say):
				// try again later, backing off to 64 intervals.
				if retryDelay == 0 {
					retryDelay = 4 * poll
				} else if retryDelay < 64*poll {
					retryDelay *= 2
				}
				retry = time.After(retryDelay)
				log.WithField("retry_in", retryDelay.String()).Info("inputs left untriaged; will retry")
			} else {
				retryDelay = 0
			}
		}
	}
}

// settle waits until no event has arrived for quiet; false when ctx ended.
func settle(ctx context.Context, events <-chan struct{}, quiet time.Duration) bool {
	t := time.NewTimer(quiet)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-events:
			if !t.Stop() {
				<-t.C
			}
			t.Reset(quiet)
		case <-t.C:
			return true
		}
	}
}

// watchDirs are the directories to watch: each target's artifact dir, or
// the nearest existing parent of it inside the fuzz dir (so a directory
// libFuzzer's user creates later is noticed).
func watchDirs(ws *Workspace) []string {
	set := map[string]bool{}
	for _, t := range ws.Targets {
		for _, d := range []string{t.ArtifactDir(), filepath.Dir(t.ArtifactDir()), t.FuzzDir} {
			if st, err := os.Stat(d); err == nil && st.IsDir() {
				set[d] = true
				break
			}
		}
	}
	var out []string
	for d := range set {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// fingerprint summarizes the artifact directories (names, sizes, mtimes).
func fingerprint(ws *Workspace) string {
	h := fnv.New64a()
	for _, t := range ws.Targets {
		entries, err := os.ReadDir(t.ArtifactDir())
		if err != nil {
			continue
		}
		for _, e := range entries {
			info, err := e.Info()
			if err != nil {
				continue
			}
			fmt.Fprintf(h, "%s/%s %d %d\n", t.Name, e.Name(), info.Size(), info.ModTime().UnixNano())
		}
	}
	return fmt.Sprintf("%x", h.Sum64())
}
