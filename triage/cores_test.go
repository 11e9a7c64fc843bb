package triage

import (
	"context"
	"testing"
	"time"
)

// queued waits (bounded) until n acquirers of lane l are queued.
func queued(t *testing.T, c *cores, l lane, n int) {
	t.Helper()
	for i := 0; i < 5000; i++ {
		c.mu.Lock()
		got := len(c.waiting[l])
		c.mu.Unlock()
		if got == n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d acquirers of lane %d never queued", n, l)
}

// TestCoresServeFirstRunsAndShareWithBuckets: with both lanes waiting, a
// freed slot goes to bucket work while it holds fewer than half the slots,
// else to the next first run; with one slot, bucket work waits for the
// first runs; a cancelled acquirer leaves no trace.
func TestCoresServeFirstRunsAndShareWithBuckets(t *testing.T) {
	ctx := context.Background()
	c := newCores(2)
	for i := 0; i < 2; i++ {
		if err := c.acquire(ctx, laneFirstRun); err != nil {
			t.Fatal(err)
		}
	}
	got := make(chan lane, 4)
	wait := func(l lane, n int) {
		go func() {
			if c.acquire(ctx, l) == nil {
				got <- l
			}
		}()
		queued(t, c, l, n)
	}
	wait(laneFirstRun, 1)
	wait(laneBucket, 1)
	wait(laneFirstRun, 2)
	wait(laneBucket, 2)
	expect := func(want lane) {
		t.Helper()
		select {
		case l := <-got:
			if l != want {
				t.Fatalf("slot went to lane %d, want %d", l, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no slot granted, want lane %d", want)
		}
	}
	c.release(laneFirstRun)
	expect(laneBucket) // bucket work holds none of its one-slot share
	c.release(laneFirstRun)
	expect(laneFirstRun) // the share is taken: first runs go first
	c.release(laneFirstRun)
	expect(laneFirstRun)
	c.release(laneFirstRun)
	expect(laneBucket) // no first run waits: bucket work takes the slot
	if c.free != 0 || c.running[laneBucket] != 2 || c.running[laneFirstRun] != 0 {
		t.Fatalf("free %d, running %v", c.free, c.running)
	}

	one := newCores(1)
	if err := one.acquire(ctx, laneFirstRun); err != nil {
		t.Fatal(err)
	}
	got1 := make(chan lane, 2)
	for _, l := range []lane{laneBucket, laneFirstRun} {
		go func() {
			if one.acquire(ctx, l) == nil {
				got1 <- l
			}
		}()
		queued(t, one, l, 1)
	}
	one.release(laneFirstRun)
	if l := <-got1; l != laneFirstRun {
		t.Fatalf("one slot: lane %d went first, want the first run", l)
	}
	one.release(laneFirstRun)
	if l := <-got1; l != laneBucket {
		t.Fatalf("one slot: lane %d, want bucket work once no first run waits", l)
	}

	cctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- one.acquire(cctx, laneFirstRun) }()
	queued(t, one, laneFirstRun, 1)
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a cancelled acquire succeeded")
	}
	one.release(laneBucket)
	if one.free != 1 || len(one.waiting[laneFirstRun]) != 0 {
		t.Fatalf("after cancel: free %d, waiting %d", one.free, len(one.waiting[laneFirstRun]))
	}
}

// TestConfirmationClaimFollowsTheBucket: an input that claimed one bucket
// and then finds its crash in another (a later try under lldb gave the
// stack) gives the first claim up, so inputs waiting on it go on.
func TestConfirmationClaimFollowsTheBucket(t *testing.T) {
	p := &pass{reliable: map[string]string{}, confirming: map[string]chan struct{}{}, cores: newCores(1)}
	ctx := context.Background()
	var claimed string
	if _, ok := p.confirmation(ctx, "v1-stackless", &claimed); ok || claimed != "v1-stackless" {
		t.Fatalf("first ask: claimed %q", claimed)
	}
	first := p.confirming["v1-stackless"]
	if _, ok := p.confirmation(ctx, "v1-withstack", &claimed); ok || claimed != "v1-withstack" {
		t.Fatalf("second ask: claimed %q", claimed)
	}
	select {
	case <-first:
	default:
		t.Fatal("the claim on the first bucket was kept: its waiters would wait for ever")
	}
	if _, held := p.confirming["v1-stackless"]; held {
		t.Fatal("the first bucket is still being confirmed")
	}
	p.releaseClaim(claimed)
	if len(p.confirming) != 0 {
		t.Fatalf("claims left: %v", p.confirming)
	}
}
