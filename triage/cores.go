package triage

import (
	"context"
	"sync"
)

// lane is a class of a pass's work, in the order it is served.
type lane int

const (
	// laneFirstRun is an artifact's reproduction: every new input must run
	// once, so these runs are the pass's floor and go first.
	laneFirstRun lane = iota
	// laneBucket is per-bucket work (minimization, dev reproduction, lldb
	// sessions), started while other artifacts are still reproduced.
	laneBucket
	lanes
)

// cores hands out the pass's -j slots. First runs are served first, but
// per-bucket work may hold up to bucketShare slots while first runs wait:
// a bucket's steps form a chain (minimize, then lldb; dev, then its
// session), and a chain started only after the last first run would be
// the run's tail. With no first run waiting, bucket work takes every free
// slot, so no slot is idle while work is queued.
type cores struct {
	mu          sync.Mutex
	free        int
	bucketShare int
	running     [lanes]int
	waiting     [lanes][]chan struct{}
}

// newCores makes n slots. With one slot there is no share to give: bucket
// work waits for the first runs.
func newCores(n int) *cores {
	if n < 1 {
		n = 1
	}
	return &cores{free: n, bucketShare: n / 2}
}

// acquire waits for a slot for work of lane l; it fails only when ctx ends.
func (c *cores) acquire(ctx context.Context, l lane) error {
	c.mu.Lock()
	ch := make(chan struct{})
	c.waiting[l] = append(c.waiting[l], ch)
	c.grant()
	c.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	select {
	case <-ch:
		// Granted meanwhile: give it back.
		c.running[l]--
		c.free++
		c.grant()
	default:
		for i, w := range c.waiting[l] {
			if w == ch {
				c.waiting[l] = append(c.waiting[l][:i], c.waiting[l][i+1:]...)
				break
			}
		}
	}
	return context.Cause(ctx)
}

// release gives back a slot acquired for lane l.
func (c *cores) release(l lane) {
	c.mu.Lock()
	c.running[l]--
	c.free++
	c.grant()
	c.mu.Unlock()
}

// grant hands free slots to waiters; c.mu is held.
func (c *cores) grant() {
	for c.free > 0 {
		l := c.next()
		if l < 0 {
			return
		}
		ch := c.waiting[l][0]
		c.waiting[l] = c.waiting[l][1:]
		c.running[l]++
		c.free--
		close(ch)
	}
}

// next is the lane the next free slot goes to, or -1 when nobody waits.
func (c *cores) next() lane {
	first, bucket := len(c.waiting[laneFirstRun]) > 0, len(c.waiting[laneBucket]) > 0
	switch {
	case bucket && (!first || c.running[laneBucket] < c.bucketShare):
		return laneBucket
	case first:
		return laneFirstRun
	}
	return -1
}

// run runs f in a slot of lane l (not at all when ctx ends first).
func (c *cores) run(ctx context.Context, l lane, f func()) {
	if c.acquire(ctx, l) != nil {
		return
	}
	defer c.release(l)
	f()
}

// hold counts a slot as taken without waiting for it (a cancelled waiter
// whose caller will release one anyway).
func (c *cores) hold(l lane) {
	c.mu.Lock()
	c.running[l]++
	c.free--
	c.mu.Unlock()
}
