package otr_test

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/otrgo/otr"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestHeartbeat(t *testing.T) { bothVersions(t, testHeartbeat) }

func testHeartbeat(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	opts := &otr.Options{Now: clk.now}
	alice := newPeer(t, "alice", "bob", 0, 31, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 32, opts, 0)
	secure(t, alice, bob)
	// Alice talks; Bob only listens. Within a minute Bob sends nothing back.
	res, _ := alice.sess.Send(0, "one")
	r, err := bob.sess.Receive(res.Send[0].Text)
	if err != nil || len(r.Send) != 0 {
		t.Fatalf("early heartbeat: %v %+v", err, r.Send)
	}
	clk.advance(61 * time.Second)
	res, _ = alice.sess.Send(0, "two")
	r, err = bob.sess.Receive(res.Send[0].Text)
	if err != nil || len(r.Send) != 1 {
		t.Fatalf("no heartbeat after 61 s: %v %+v", err, r.Send)
	}
	// The heartbeat is read by Alice silently (no event, no error).
	ra, err := alice.sess.Receive(r.Send[0].Text)
	if err != nil || len(ra.Events) != 0 || len(ra.Send) != 0 {
		t.Fatalf("heartbeat at alice: %v %v %v", err, ra.Events, ra.Send)
	}
}

func TestExpire(t *testing.T) { bothVersions(t, testExpire) }

func testExpire(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	opts := &otr.Options{Now: clk.now, ExpireAfter: 10 * time.Minute}
	alice := newPeer(t, "alice", "bob", 0, 33, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 34, &otr.Options{Now: clk.now}, 0)
	// Only the client profile's renewal (OTRv4), days away.
	if d, ok := alice.acct.NextDeadline(); ok && d.Before(clk.now().Add(24*time.Hour)) {
		t.Fatalf("deadline %v before any session", d)
	}
	secure(t, alice, bob)
	d, ok := alice.acct.NextDeadline()
	if !ok || !d.Equal(clk.now().Add(10*time.Minute)) {
		t.Fatalf("NextDeadline = %v %v", d, ok)
	}
	clk.advance(9 * time.Minute)
	if res, err := alice.acct.Expire(); err != nil || len(res.Send) != 0 {
		t.Fatalf("early expiry: %v %+v", err, res)
	}
	clk.advance(2 * time.Minute)
	res, err := alice.acct.Expire()
	if err != nil || len(res.Send) != 1 || len(res.Events) != 1 {
		t.Fatalf("expiry: %v %+v", err, res)
	}
	if ev, ok := res.Events[0].(otr.EndedEvent); !ok || !ev.Expired {
		t.Fatalf("event %v", res.Events[0])
	}
	if res.Send[0].Contact != "bob" {
		t.Fatalf("sent to %q", res.Send[0].Contact)
	}
	pump(t, alice, bob, res.Send)
	if alice.sess.Status(0) != otr.Plaintext || bob.sess.Status(0) != otr.Finished {
		t.Fatalf("alice %v bob %v", alice.sess.Status(0), bob.sess.Status(0))
	}
	if d, ok := alice.acct.NextDeadline(); ok && d.Before(clk.now().Add(24*time.Hour)) {
		t.Fatalf("deadline %v after expiry", d)
	}
}

func TestExtraSymmetricKey(t *testing.T) { bothVersions(t, testExtraSymmetricKey) }

func testExtraSymmetricKey(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 35, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 36, nil, 0)
	secure(t, alice, bob)
	send(t, alice, bob, "rotate")
	send(t, bob, alice, "keys")
	key, res, err := alice.sess.ExtraSymmetricKey(0, 0x01020304, []byte("file.txt"))
	if err != nil {
		t.Fatal(err)
	}
	pump(t, alice, bob, res.Send)
	var ev otr.ExtraKeyEvent
	for _, e := range bob.events {
		if k, ok := e.(otr.ExtraKeyEvent); ok {
			ev = k
		}
	}
	if !bytes.Equal(ev.Key, key) || ev.Use != 0x01020304 || !bytes.Equal(ev.Data, []byte("file.txt")) {
		t.Fatalf("bob's event %+v, alice's key %x", ev, key)
	}
	if len(key) == 0 || bytes.Equal(key, make([]byte, len(key))) {
		t.Fatal("zero key")
	}
}

func TestTrustHost(t *testing.T) { bothVersions(t, testTrustHost) }

func testTrustHost(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 37, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 38, nil, 0)
	res, _ := alice.sess.Start()
	pump(t, alice, bob, res.Send)
	var fe []otr.FingerprintEvent
	for _, e := range alice.events {
		if f, ok := e.(otr.FingerprintEvent); ok {
			fe = append(fe, f)
		}
	}
	if len(fe) != 1 || fe[0].Changed || fe[0].Fingerprint.String() != bob.fingerprint(alice.sess.Instances()[0].Version).String() {
		t.Fatalf("fingerprint events %v", fe)
	}
	// Alice verifies Bob; then Bob's account changes keys (an impostor).
	host := otrHost(alice)
	host.SetTrust("bob", bob.fingerprint(alice.sess.Instances()[0].Version), otr.Verified)
	mallory := newPeer(t, "bob", "alice", 2, 39, nil, 0)
	alice.events = nil
	res, _ = mallory.sess.Start()
	pump(t, mallory, alice, res.Send)
	fe = nil
	for _, e := range alice.events {
		if f, ok := e.(otr.FingerprintEvent); ok {
			fe = append(fe, f)
		}
		if s, ok := e.(otr.SecureEvent); ok && s.Trust != otr.Untrusted {
			t.Fatalf("impostor trusted: %v", s)
		}
	}
	if len(fe) != 1 || !fe[0].Changed {
		t.Fatalf("changed key not reported: %v", fe)
	}
	// Bob again: verified.
	alice.events = nil
	res, _ = bob.sess.Start()
	pump(t, bob, alice, res.Send)
	for _, e := range alice.events {
		if s, ok := e.(otr.SecureEvent); ok && s.Trust != otr.Verified {
			t.Fatalf("verified key reported as %v", s.Trust)
		}
	}
}
