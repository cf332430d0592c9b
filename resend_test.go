package otr_test

import (
	"testing"
	"time"

	"github.com/otrgo/otr"
)

// restartedBob returns bob after a restart of his client: same keys and
// instance tag, no session state.
func restartedBob(t *testing.T, bob *peer, seed uint64, opts *otr.Options) *peer {
	t.Helper()
	tag, _ := bob.host.InstanceTag()
	return newPeerTag(t, "bob", "alice", 1, seed, opts, tag)
}

func readTexts(evs []otr.Event) []string {
	var out []string
	for _, m := range eventsOf[otr.MessageEvent](evs) {
		out = append(out, m.Text)
	}
	return out
}

// No user message silently lost: bob's client restarts and cannot read
// alice's message; his error makes alice re-key, and the message is sent
// again over the new session with the same key, once.
func TestResendAfterUnreadable(t *testing.T) { bothVersions(t, testResendAfterUnreadable) }

func testResendAfterUnreadable(t *testing.T) {
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	opts := &otr.Options{Now: clk.now, Policy: testPolicy}
	alice := newPeer(t, "alice", "bob", 0, 801, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 802, opts, 0)
	secure(t, alice, bob)
	// Two round trips: bob's second answer shows he read alice's newest
	// keys (the first OTRv4 chains of both sides come from the DAKE).
	for range 2 {
		send(t, alice, bob, "before the restart")
		send(t, bob, alice, "read it")
	}

	bob = restartedBob(t, bob, 803, opts)
	clk.advance(2 * time.Second)
	res, err := alice.sess.Send(0, "lost in the restart")
	if err != nil {
		t.Fatal(err)
	}
	n := len(alice.events)
	pump(t, alice, bob, res.Send)
	resent := eventsOf[otr.ResentEvent](alice.events[n:])
	if len(resent) != 1 || resent[0].Text != "lost in the restart" {
		t.Fatalf("alice's ResentEvents %v", resent)
	}
	if got := readTexts(bob.events); len(got) != 1 || got[0] != "lost in the restart" {
		t.Fatalf("bob read %q", got)
	}
	// A forged error later resends nothing again.
	n, nb := len(alice.events), len(bob.events)
	r, err := alice.sess.Receive("?OTR Error: You transmitted an unreadable encrypted message.")
	if err != nil {
		t.Fatal(err)
	}
	alice.events = append(alice.events, r.Events...)
	pump(t, alice, bob, r.Send)
	if len(eventsOf[otr.ResentEvent](alice.events[n:])) != 0 || len(readTexts(bob.events[nb:])) != 0 {
		t.Fatalf("resent twice: %v / %v", alice.events[n:], bob.events[nb:])
	}
}

// Never to another key: when the next key exchange is with another
// fingerprint, the kept messages are dropped unsent.
func TestResendNeverToAnotherKey(t *testing.T) {
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	opts := &otr.Options{Now: clk.now}
	alice := newPeer(t, "alice", "bob", 0, 811, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 812, opts, 0)
	secure(t, alice, bob)
	tag, _ := bob.host.InstanceTag()
	res, err := alice.sess.Send(0, "for bob's key only")
	if err != nil {
		t.Fatal(err)
	}
	_ = res // lost on the way
	// mallory, with bob's instance tag and her own key, reports it
	// unreadable and then answers the query.
	mallory := newPeerTag(t, "bob", "alice", 2, 813, opts, tag)
	n := len(alice.events)
	r, err := alice.sess.Receive("?OTR Error: ERROR_1: Unreadable message")
	if err != nil {
		t.Fatal(err)
	}
	alice.events = append(alice.events, r.Events...)
	pump(t, alice, mallory, r.Send)
	if len(eventsOf[otr.ResentEvent](alice.events[n:])) != 0 || len(readTexts(mallory.events)) != 0 {
		t.Fatalf("resent to another key: %v, mallory read %q", alice.events[n:], readTexts(mallory.events))
	}
	if info, _ := alice.sess.Instance(tag); info.Status != otr.Encrypted {
		t.Fatalf("the exchange with mallory did not complete: %+v", info)
	}
}

// What the contact showed it read is not kept: after bob answers with
// alice's newest keys, an error resends nothing sent before.
func TestResendOnlyUnacknowledged(t *testing.T) { bothVersions(t, testResendOnlyUnacknowledged) }

func testResendOnlyUnacknowledged(t *testing.T) {
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	opts := &otr.Options{Now: clk.now, Policy: testPolicy}
	alice := newPeer(t, "alice", "bob", 0, 821, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 822, opts, 0)
	secure(t, alice, bob)
	send(t, alice, bob, "acknowledged")
	send(t, bob, alice, "got it")
	send(t, alice, bob, "one more")
	send(t, bob, alice, "got that too")
	bob = restartedBob(t, bob, 823, opts)
	n := len(alice.events)
	r, err := alice.sess.Receive("?OTR Error: You transmitted an unreadable encrypted message.")
	if err != nil {
		t.Fatal(err)
	}
	alice.events = append(alice.events, r.Events...)
	pump(t, alice, bob, r.Send)
	if resent := eventsOf[otr.ResentEvent](alice.events[n:]); len(resent) != 0 {
		t.Fatalf("acknowledged messages resent: %v", resent)
	}
	if bob.sess.Status(0) != otr.Encrypted {
		t.Fatal("no new session")
	}
}

// The window and the switch: messages older than ResendWindow are not
// kept, and a negative window keeps nothing.
func TestResendWindow(t *testing.T) {
	for _, tc := range []struct {
		name   string
		window time.Duration
		wait   time.Duration
		want   int
	}{
		{"within", time.Minute, 30 * time.Second, 1},
		{"past", time.Minute, 2 * time.Minute, 0},
		{"off", -1, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{t: time.Unix(1_750_000_000, 0)}
			opts := &otr.Options{Now: clk.now, ResendWindow: tc.window}
			alice := newPeer(t, "alice", "bob", 0, 831, opts, 0)
			bob := newPeer(t, "bob", "alice", 1, 832, opts, 0)
			secure(t, alice, bob)
			if _, err := alice.sess.Send(0, "maybe lost"); err != nil {
				t.Fatal(err)
			}
			clk.advance(tc.wait)
			if _, err := alice.acct.Expire(); err != nil {
				t.Fatal(err)
			}
			bob = restartedBob(t, bob, 833, opts)
			n := len(alice.events)
			r, err := alice.sess.Receive("?OTR Error: ERROR_1: Unreadable message")
			if err != nil {
				t.Fatal(err)
			}
			alice.events = append(alice.events, r.Events...)
			pump(t, alice, bob, r.Send)
			if got := len(eventsOf[otr.ResentEvent](alice.events[n:])); got != tc.want {
				t.Fatalf("%d resent, want %d", got, tc.want)
			}
		})
	}
}
