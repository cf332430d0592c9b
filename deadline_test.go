package otr_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/otrgo/otr"
)

// expiry is what one Account.Expire call returned, and when.
type expiry struct {
	at  time.Time
	res otr.Result
}

// driver is a host that calls Expire only when NextDeadline says.
type driver struct {
	t    *testing.T
	clk  *clock
	acct *otr.Account
	log  []expiry
}

// until advances the clock to target, calling Expire at every deadline on
// the way.
func (d *driver) until(target time.Time) {
	d.t.Helper()
	for {
		next, ok := d.acct.NextDeadline()
		if !ok || next.After(target) {
			break
		}
		if next.After(d.clk.now()) {
			d.clk.set(next)
		}
		res, err := d.acct.Expire()
		if err != nil {
			d.t.Fatalf("Expire at %v: %v", d.clk.now(), err)
		}
		d.log = append(d.log, expiry{d.clk.now(), res})
		if n2, ok2 := d.acct.NextDeadline(); ok2 && !n2.After(next) {
			d.t.Fatalf("NextDeadline %v did not move past %v after Expire", n2, next)
		}
	}
	d.clk.set(target)
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// TestDeadlinesDriveEveryDuty: through a long conversation, a host that
// calls Expire only when NextDeadline says sees every timed duty done on
// time: stale fragments dropped, old OTRv4 skipped keys deleted, a query
// retried for queued text, an idle session ended, the client profile
// renewed.
func TestDeadlinesDriveEveryDuty(t *testing.T) {
	start := time.Unix(1_750_000_000, 0)
	clk := &clock{t: start}
	opts := &otr.Options{
		Now: clk.now, ExpireAfter: time.Hour, MaxSkippedAge: 5 * time.Minute,
		FragmentTimeout: time.Minute, QueryRetryInterval: 20 * time.Second,
	}
	alice := newPeer(t, "alice", "bob", 0, 601, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 602, &otr.Options{Now: clk.now}, 300)
	d := &driver{t: t, clk: clk, acct: alice.acct}
	secure(t, alice, bob)
	profile0, _ := alice.host.ClientProfile()

	// A fragmented message whose last piece never comes in time.
	res, err := bob.sess.Send(0, strings.Repeat("long message ", 60))
	if err != nil || len(res.Send) < 3 {
		t.Fatalf("fragments: %d, %v", len(res.Send), err)
	}
	pieces := res.Send
	pump(t, bob, alice, pieces[:len(pieces)-1])
	// Two messages, the first held back: its key is stored as skipped.
	r1, _ := bob.sess.Send(0, "first")
	r2, _ := bob.sess.Send(0, "second")
	pump(t, bob, alice, r2.Send)
	// Text for carol, who never answers: queued, one query.
	carol := alice.acct.Session("carol")
	carol.SetPolicy(otr.DefaultPolicy | otr.RequireEncryption)
	qres, err := carol.Send(0, "waiting")
	if err != nil || countQueries(qres.Send) != 1 {
		t.Fatalf("carol: %v %v", qres.Send, err)
	}

	d.until(start.Add(3 * time.Minute))
	// The query was retried every 20 s; the fragments went after 1-2 min.
	retries := 0
	for _, e := range d.log {
		for _, m := range e.res.Send {
			if m.Contact == "carol" && strings.HasPrefix(m.Text, "?OTRv") {
				retries++
				if at := e.at.Sub(start); at != 20*time.Second && at != 60*time.Second && at != 140*time.Second {
					t.Errorf("query retried at +%v", at)
				}
			}
		}
	}
	// Backing off: +20 s, +40 s (60), +80 s (140).
	if retries != 3 {
		t.Errorf("%d query retries in 3 minutes, want 3 (20 s, doubling)", retries)
	}
	n := len(alice.events)
	pump(t, bob, alice, pieces[len(pieces)-1:])
	if len(messages(otr.Result{Events: alice.events[n:]})) != 0 {
		t.Error("a fragmented message completed after its pieces went stale")
	}

	// The skipped key is deleted 5 minutes after it was stored.
	d.until(start.Add(6 * time.Minute))
	n = len(alice.events)
	pump(t, bob, alice, r1.Send)
	if len(messages(otr.Result{Events: alice.events[n:]})) != 0 {
		t.Error("a message read with a skipped key older than MaxSkippedAge")
	}

	// Idle for an hour: ended by Expire exactly then.
	send(t, alice, bob, "last words")
	lastActive := clk.now()
	d.until(lastActive.Add(2 * time.Hour))
	ended := false
	for _, e := range d.log {
		for _, ev := range e.res.Events {
			if ee, ok := ev.(otr.EndedEvent); ok && ee.Expired {
				ended = true
				if !e.at.Equal(lastActive.Add(time.Hour)) {
					t.Errorf("session ended at %v, want %v", e.at, lastActive.Add(time.Hour))
				}
			}
		}
	}
	if !ended || alice.sess.Status(bob.acct.InstanceTag()) != otr.Plaintext {
		t.Error("idle session not ended")
	}

	// The client profile is renewed 3 days before its 14 days run out.
	renewal := start.Add(11 * 24 * time.Hour)
	d.until(renewal.Add(-time.Second))
	if p, _ := alice.host.ClientProfile(); !bytes.Equal(p, profile0) {
		t.Fatal("client profile renewed early")
	}
	d.until(renewal)
	if p, _ := alice.host.ClientProfile(); bytes.Equal(p, profile0) {
		t.Fatal("client profile not renewed on time")
	}
}
