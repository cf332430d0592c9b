package otr_test

import (
	"errors"
	"io"
	"testing"
	"time"

	"github.com/otrgo/otr"
)

// countingReader counts the random bytes read: a proxy for the key
// generation a message made us do.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// newCountedPeer is newPeer with a randomness counter.
func newCountedPeer(t testing.TB, name, contact string, key int, seed uint64, opts *otr.Options) (*peer, *countingReader) {
	t.Helper()
	o := otr.Options{}
	if opts != nil {
		o = *opts
	}
	rng := &countingReader{r: seeded(seed)}
	o.Rand = rng
	if o.Policy == 0 {
		o.Policy = otr.DefaultPolicy
	}
	host := &otr.MemoryHost{}
	a, err := otr.NewAccount(name, keys(t, key), host, &o)
	if err != nil {
		t.Fatal(err)
	}
	return &peer{policy: o.Policy, host: host, name: name, acct: a, sess: a.Session(contact)}, rng
}

// Finding 1: cheap messages cost no key generation. A flood of queries is
// answered with the same Identity message; a replayed Identity of a
// finished exchange is ignored; a copy of one still waiting gets the same
// Auth-R again.
func TestCheapMessagesMakeNoKeys(t *testing.T) {
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	opts := &otr.Options{Now: clk.now}
	bob, rng := newCountedPeer(t, "bob", "alice", 1, 301, opts)
	alice := newPeer(t, "alice", "bob", 0, 302, opts, 0)

	t.Run("queries", func(t *testing.T) {
		var first string
		before := 0
		for i := range 10 {
			if i == 1 {
				before = rng.n
			}
			res, err := bob.sess.Receive("?OTRv4?")
			if err != nil || len(res.Send) != 1 {
				t.Fatalf("query %d: %v %v", i, res.Send, err)
			}
			if i == 0 {
				first = res.Send[0].Text
			} else if res.Send[0].Text != first {
				t.Fatalf("query %d answered with another Identity message", i)
			}
		}
		if rng.n != before {
			t.Fatalf("9 repeated queries read %d random bytes, want 0", rng.n-before)
		}
		// The real exchange completes from the resent Identity.
		pump(t, bob, alice, []otr.Message{{Text: first}})
		if bob.sess.Status(0) != otr.Encrypted {
			t.Fatalf("bob %v", bob.sess.Status(0))
		}
	})

	t.Run("replayed Identity", func(t *testing.T) {
		mallory := newPeer(t, "alice", "bob", 2, 303, opts, 0)
		res, err := mallory.sess.Receive("?OTRv4?")
		if err != nil {
			t.Fatal(err)
		}
		id := res.Send[0].Text
		// First copy: answered (a new exchange). Second: the same Auth-R,
		// no new keys.
		r1, err := bob.sess.Receive(id)
		if err != nil || len(r1.Send) != 1 {
			t.Fatalf("first Identity: %v %v", r1.Send, err)
		}
		n := rng.n
		r2, err := bob.sess.Receive(id)
		if err != nil || len(r2.Send) != 1 || r2.Send[0].Text != r1.Send[0].Text || rng.n != n {
			t.Fatalf("copy while waiting: %v, same reply %v, %d random bytes", err, len(r2.Send) == 1 && r2.Send[0].Text == r1.Send[0].Text, rng.n-n)
		}
		// The exchange completes; copies after that are ignored.
		pump(t, bob, mallory, r1.Send)
		for range 3 {
			n := rng.n
			r, err := bob.sess.Receive(id)
			if err != nil || len(r.Send) != 0 || len(r.Events) != 0 || rng.n != n {
				t.Fatalf("copy after the exchange: %v, %d sent, %v, %d random bytes", err, len(r.Send), r.Events, rng.n-n)
			}
		}
		if bob.sess.Status(alice.acct.InstanceTag()) != otr.Encrypted {
			t.Fatal("bob's session with alice lost")
		}
	})
}

// The key-exchange budget: a flood of Identity messages from random tags
// (100 a second) is refused once the budget is spent, reported once per
// period, never charged for a key exchange we started, and never touches
// the encrypted conversation.
func TestKeyExchangeBudgetDuringFlood(t *testing.T) {
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	opts := &otr.Options{Now: clk.now}
	bob, rng := newCountedPeer(t, "bob", "carol", 1, 311, opts)
	carol := newPeer(t, "carol", "bob", 0, 312, opts, 0)
	// mallory writes as carol from 10 instance tags (she signs a profile
	// for each), with fresh keys in every Identity message: each is a
	// valid start.
	var mallories []*peer
	for i := range 10 {
		mallories = append(mallories, newPeerTag(t, "carol", "bob", 2, uint64(320+i), &otr.Options{Now: clk.now}, 0))
	}
	next := 0
	fresh := func() string {
		m := mallories[next%len(mallories)]
		next++
		if _, err := m.sess.End(0); err != nil {
			t.Fatal(err)
		}
		res, err := m.sess.Receive("?OTRv4?")
		if err != nil {
			t.Fatal(err)
		}
		return res.Send[0].Text
	}
	flood := func(k int) (refused, throttledEvents int) {
		for range k {
			clk.advance(10 * time.Millisecond)
			res, err := bob.sess.Receive(fresh())
			if errors.Is(err, otr.ErrThrottled) {
				refused++
			}
			throttledEvents += len(eventsOf[otr.ThrottledEvent](res.Events))
		}
		return refused, throttledEvents
	}
	// 8 starts pass (the burst), the other 32 of this second are refused
	// without key generation; one ThrottledEvent.
	refused, _ := flood(8)
	if refused != 0 {
		t.Fatalf("%d refused within the burst", refused)
	}
	n := rng.n
	refused, events := flood(32)
	if refused != 32 || events != 1 || rng.n != n {
		t.Fatalf("after the burst: %d refused, %d ThrottledEvents, %d random bytes; want 32, 1, 0", refused, events, rng.n-n)
	}
	// A DAKE we start (carol asks, bob sends the Identity) completes
	// during the flood.
	res, err := carol.sess.Start()
	if err != nil {
		t.Fatal(err)
	}
	query := res.Send
	res, err = bob.sess.Receive(query[0].Text)
	if err != nil {
		t.Fatal(err)
	}
	// (A start that crosses bob's own Identity and loses is answered with
	// bob's Identity again: no keys either way.)
	n = rng.n
	if r, e := flood(20); rng.n != n || r < 15 || e != 0 {
		t.Fatalf("flood during the DAKE: %d refused, %d events, %d random bytes", r, e, rng.n-n)
	}
	pump(t, bob, carol, res.Send)
	if bob.sess.Status(carol.acct.InstanceTag()) != otr.Encrypted || carol.sess.Status(0) != otr.Encrypted {
		t.Fatalf("the real DAKE did not complete: bob %v, carol %v (bob's errors %v)", bob.sess.Status(carol.acct.InstanceTag()), carol.sess.Status(0), bob.errs)
	}
	// The conversation works while the flood goes on; the flood's
	// instances never became bob's default.
	flood(20)
	wantReaches(t, bob, carol, nil, "hello carol")
	send(t, carol, bob, "hello bob")
	if got := bob.lastMessage(t).Text; got != "hello bob" {
		t.Fatalf("bob got %q", got)
	}
	// The budget refills: one start per refill interval.
	clk.advance(15 * time.Second)
	if r, _ := flood(2); r != 1 {
		t.Fatalf("after one refill interval: %d of 2 refused, want 1", r)
	}
	// Reported again after a period.
	clk.advance(2 * time.Minute)
	if _, e := flood(10); e != 1 {
		t.Fatalf("second period: %d ThrottledEvents, want 1", e)
	}
}

// Starts that never finish cannot fill the instance cap: at the cap, an
// instance that never authenticated gives way to a new one.
func TestInstanceCapEvictsUnauthenticated(t *testing.T) {
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	opts := &otr.Options{Now: clk.now, MaxInstances: 4}
	bob := newPeer(t, "bob", "carol", 1, 331, opts, 0)
	carol := newPeer(t, "carol", "bob", 0, 332, opts, 0)
	for i := range 6 {
		m := newPeerTag(t, "carol", "bob", 2, uint64(340+i), &otr.Options{Now: clk.now}, 0)
		res, err := m.sess.Receive("?OTRv4?")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := bob.sess.Receive(res.Send[0].Text); err != nil {
			t.Fatalf("start %d: %v", i, err)
		}
	}
	if n := len(bob.sess.Instances()); n != 4 {
		t.Fatalf("%d instances, want the cap 4", n)
	}
	secure(t, carol, bob)
	if bob.sess.Status(carol.acct.InstanceTag()) != otr.Encrypted {
		t.Fatal("carol locked out by unfinished starts")
	}
}

// The same for OTR3: a query flood resends our unanswered D-H Commit, a
// replayed D-H Commit gets the same D-H Key while its exchange waits and
// is ignored after it, and the instance cap refuses before any key is
// made.
func TestCheapMessagesMakeNoKeysV3(t *testing.T) {
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	v3 := otr.DefaultPolicy &^ otr.AllowV4
	opts := &otr.Options{Now: clk.now, Policy: v3, MaxInstances: 2}
	bob, rng := newCountedPeer(t, "bob", "alice", 1, 351, opts)

	t.Run("queries", func(t *testing.T) {
		var first string
		n := 0
		for i := range 10 {
			res, err := bob.sess.Receive("?OTRv3?")
			if err != nil || len(res.Send) != 1 {
				t.Fatalf("query %d: %v %v", i, res.Send, err)
			}
			if i == 0 {
				first, n = res.Send[0].Text, rng.n
			} else if res.Send[0].Text != first {
				t.Fatalf("query %d answered with another D-H Commit", i)
			}
		}
		if rng.n != n {
			t.Fatalf("9 repeated queries read %d random bytes", rng.n-n)
		}
	})

	var fill []*peer
	t.Run("replayed D-H Commit", func(t *testing.T) {
		m := newPeerTag(t, "alice", "bob", 2, 352, &otr.Options{Now: clk.now, Policy: v3}, 0)
		fill = append(fill, m)
		res, err := m.sess.Receive("?OTRv3?")
		if err != nil {
			t.Fatal(err)
		}
		commit := res.Send[0].Text
		r1, err := bob.sess.Receive(commit)
		if err != nil || len(r1.Send) != 1 {
			t.Fatalf("first D-H Commit: %v %v", r1.Send, err)
		}
		n := rng.n
		r2, err := bob.sess.Receive(commit)
		if err != nil || len(r2.Send) != 1 || r2.Send[0].Text != r1.Send[0].Text || rng.n != n {
			t.Fatalf("copy while waiting: %v, %d random bytes", err, rng.n-n)
		}
		pump(t, bob, m, r1.Send)
		if bob.sess.Status(m.acct.InstanceTag()) != otr.Encrypted {
			t.Fatal("exchange did not complete")
		}
		for range 3 {
			n := rng.n
			r, err := bob.sess.Receive(commit)
			if err != nil || len(r.Send) != 0 || rng.n != n {
				t.Fatalf("copy after the exchange: %v, %d sent, %d random bytes", err, len(r.Send), rng.n-n)
			}
		}
	})

	t.Run("instance cap first", func(t *testing.T) {
		m := newPeerTag(t, "alice", "bob", 2, 353, &otr.Options{Now: clk.now, Policy: v3}, 0)
		res, err := m.sess.Receive("?OTRv3?")
		if err != nil {
			t.Fatal(err)
		}
		pump(t, m, bob, res.Send) // the second instance: the cap is full of authenticated ones
		commit := res.Send[0].Text
		for i := range 5 {
			n := rng.n
			_, err := bob.sess.Receive(retag(t, commit, randomTag(i)))
			if !errors.Is(err, otr.ErrTooManyInstances) || rng.n != n {
				t.Fatalf("D-H Commit from a new tag at the cap: %v, %d random bytes", err, rng.n-n)
			}
		}
	})
}

// Finding 5: error replies at a human rate, and one report per unreadable
// message (the returned error, no event).
func TestErrorRepliesRateLimited(t *testing.T) { bothVersions(t, testErrorRepliesRateLimited) }

func testErrorRepliesRateLimited(t *testing.T) {
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	opts := &otr.Options{Now: clk.now, ErrorReplyInterval: 10 * time.Second}
	alice := newPeer(t, "alice", "bob", 0, 361, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 362, opts, 0)
	secure(t, alice, bob)
	res, err := alice.sess.Send(0, "to damage")
	if err != nil {
		t.Fatal(err)
	}
	damaged := tamper(t, res.Send[0].Text, func(p []byte) []byte { p[len(p)-30] ^= 1; return p })
	replies := func(msgs ...string) (n int) {
		for _, m := range msgs {
			r, err := bob.sess.Receive(m)
			var pe *otr.ProtocolError
			if !errors.As(err, &pe) || pe.MsgType != "data" {
				t.Fatalf("damaged message: error %v, want a data-message ProtocolError", err)
			}
			if len(r.Events) != 0 {
				t.Fatalf("damaged message reported twice: events %v beside the error", r.Events)
			}
			n += len(r.Send)
		}
		return n
	}
	copies := make([]string, 120)
	for i := range copies {
		copies[i] = damaged
	}
	if n := replies(copies...); n != 1 {
		t.Fatalf("120 damaged messages from one instance: %d error replies, want 1", n)
	}
	clk.advance(10 * time.Second)
	if n := replies(damaged, damaged); n != 1 {
		t.Fatalf("after the interval: %d replies, want 1", n)
	}
	// Other sender tags (the sender's choice) share a cap per contact.
	clk.advance(10 * time.Second)
	for i := range copies {
		copies[i] = retag(t, damaged, randomTag(i))
	}
	if n := replies(copies...); n != 3 {
		t.Fatalf("120 damaged messages from 120 tags: %d replies, want the cap 3", n)
	}
	// The conversation goes on.
	send(t, alice, bob, "still here")
	if got := bob.lastMessage(t).Text; got != "still here" {
		t.Fatalf("bob got %q", got)
	}
}
