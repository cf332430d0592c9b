package otr_test

import (
	"errors"
	"testing"
	"time"

	"github.com/otrgo/otr"
)

// offlinePair: bob publishes ensembles and goes offline; alice starts a
// conversation from one of them.
func offlinePair(t *testing.T, seed uint64, alicePolicy *otr.Options) (alice, bob *peer, clk *clock, ensembles [][]byte) {
	t.Helper()
	clk = &clock{t: time.Unix(1_750_000_000, 0)}
	ao := &otr.Options{Now: clk.now}
	if alicePolicy != nil {
		*ao = *alicePolicy
		ao.Now = clk.now
	}
	alice = newPeer(t, "alice", "bob", 0, seed, ao, 0)
	bob = newPeer(t, "bob", "alice", 1, seed+1, &otr.Options{Now: clk.now}, 0)
	ensembles, err := bob.acct.MakePrekeys(3)
	if err != nil {
		t.Fatal(err)
	}
	if len(ensembles) != 3 {
		t.Fatalf("%d ensembles", len(ensembles))
	}
	return alice, bob, clk, ensembles
}

// Two accounts converse after an offline start: alice writes while bob is
// away; bob reads it all when he comes back, and they go on both ways.
func TestOfflineConversation(t *testing.T) {
	alice, bob, clk, ensembles := offlinePair(t, 1001, nil)
	res, err := alice.sess.StartOffline(otr.OfflineStart{Ensemble: ensembles[1], Texts: []string{"are you there?", "call me"}})
	if err != nil {
		t.Fatal(err)
	}
	sec := eventsOf[otr.SecureEvent](res.Events)
	if len(sec) != 1 || sec[0].Instance != bob.acct.InstanceTag() || string(sec[0].Fingerprint) != string(bob.fingerprint(4)) {
		t.Fatalf("alice's events %v: want a SecureEvent naming bob's instance and key", res.Events)
	}
	queued := res.Send
	more, err := alice.sess.Send(0, "one more")
	if err != nil {
		t.Fatal(err)
	}
	queued = append(queued, more.Send...)
	clk.advance(3 * time.Hour) // bob comes back
	pump(t, alice, bob, queued)
	if got := readTexts(bob.events); len(got) != 3 || got[0] != "are you there?" || got[2] != "one more" {
		t.Fatalf("bob read %q (errors %v)", got, bob.errs)
	}
	a, _ := alice.sess.Instance(0)
	b, _ := bob.sess.Instance(0)
	if a.SSID != b.SSID || b.Status != otr.Encrypted || b.Version != 4 {
		t.Fatalf("alice %+v, bob %+v", a, b)
	}
	for i := range 3 {
		send(t, bob, alice, "back now")
		send(t, alice, bob, "good")
		_ = i
	}
	if got := alice.lastMessage(t).Text; got != "back now" {
		t.Fatalf("alice read %q", got)
	}
	// The consumed prekey is gone: a replay of the Non-Interactive-Auth
	// message fails and delivers nothing.
	n := len(bob.events)
	r, err := bob.sess.Receive(queued[0].Text)
	if !errors.Is(err, otr.ErrReplay) || len(r.Events) != 0 {
		t.Fatalf("replayed Non-Interactive-Auth: %v, events %v", err, r.Events)
	}
	if len(bob.events) != n || bob.sess.Status(0) != otr.Encrypted {
		t.Fatal("the replay changed bob's session")
	}
}

// The prekey server is untrusted: an ensemble whose key is not the one
// alice trusts for bob is refused unless she says so.
func TestOfflineUntrustedEnsemble(t *testing.T) {
	alice, _, _, _ := offlinePair(t, 1011, nil)
	mallory := newPeer(t, "bob", "alice", 2, 1013, nil, 0)
	bad, err := mallory.acct.MakePrekeys(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.sess.SetTrust(keys(t, 1).Fingerprint4(), otr.Verified); err != nil {
		t.Fatal(err)
	}
	res, err := alice.sess.StartOffline(otr.OfflineStart{Ensemble: bad[0], Texts: []string{"secret"}})
	if !errors.Is(err, otr.ErrUntrustedEnsemble) || len(res.Send) != 0 {
		t.Fatalf("untrusted ensemble: %v, sent %d", err, len(res.Send))
	}
	res, err = alice.sess.StartOffline(otr.OfflineStart{Ensemble: bad[0], Texts: []string{"anyway"}, AllowUntrusted: true})
	if err != nil || len(res.Send) == 0 {
		t.Fatalf("opted in: %v", err)
	}
	if fe := eventsOf[otr.SecureEvent](res.Events); len(fe) != 1 || string(fe[0].Fingerprint) != string(mallory.fingerprint(4)) {
		t.Fatalf("events %v", res.Events)
	}
}

// Bad input: a damaged ensemble or message, an unknown prekey, the
// interactive-only mode: clear errors, nothing delivered, nothing consumed.
func TestOfflineBadInput(t *testing.T) {
	alice, bob, _, ensembles := offlinePair(t, 1021, nil)
	damaged := append([]byte(nil), ensembles[0]...)
	damaged[len(damaged)/2] ^= 1
	if _, err := alice.sess.StartOffline(otr.OfflineStart{Ensemble: damaged}); err == nil {
		t.Fatal("damaged ensemble accepted")
	}
	res, err := alice.sess.StartOffline(otr.OfflineStart{Ensemble: ensembles[0], Texts: []string{"hi"}})
	if err != nil {
		t.Fatal(err)
	}
	auth := res.Send[0].Text
	// A damaged Non-Interactive-Auth message consumes nothing: the genuine
	// one still works afterwards.
	r, err := bob.sess.Receive(tamper(t, auth, func(p []byte) []byte { p[len(p)-100] ^= 1; return p }))
	if err == nil || len(r.Events) != 0 {
		t.Fatalf("damaged message: %v %v", err, r.Events)
	}
	pump(t, alice, bob, res.Send)
	if got := readTexts(bob.events); len(got) != 1 || got[0] != "hi" {
		t.Fatalf("bob read %q after a damaged copy (errors %v)", got, bob.errs)
	}
	// Interactive-only refuses offline conversations both ways.
	io := newPeer(t, "carol", "alice", 2, 1023, &otr.Options{Mode: otr.ModeOTRv4InteractiveOnly}, 0)
	if _, err := io.acct.MakePrekeys(1); !errors.Is(err, otr.ErrOfflineNotAllowed) {
		t.Fatalf("MakePrekeys in interactive-only mode: %v", err)
	}
	a2 := newPeer(t, "alice", "bob", 0, 1024, &otr.Options{Mode: otr.ModeOTRv4InteractiveOnly}, 0)
	if _, err := a2.sess.StartOffline(otr.OfflineStart{Ensemble: ensembles[2]}); !errors.Is(err, otr.ErrOfflineNotAllowed) {
		t.Fatalf("StartOffline in interactive-only mode: %v", err)
	}
}

// Unused prekey secrets are deleted after their profile's expiry plus one
// day, through Expire when NextDeadline says.
func TestOfflinePrekeysExpire(t *testing.T) {
	_, bob, clk, _ := offlinePair(t, 1031, nil)
	list, _ := bob.host.Prekeys()
	if len(list) != 3 {
		t.Fatalf("%d stored", len(list))
	}
	d, ok := bob.acct.NextDeadline()
	if !ok || d.After(clk.now().Add(8*24*time.Hour+time.Second)) {
		t.Fatalf("NextDeadline %v %v", d, ok)
	}
	clk.advance(7*24*time.Hour + 23*time.Hour)
	bob.acct.Expire()
	if list, _ = bob.host.Prekeys(); len(list) != 3 {
		t.Fatalf("deleted early: %d left", len(list))
	}
	clk.advance(2 * time.Hour)
	bob.acct.Expire()
	if list, _ = bob.host.Prekeys(); len(list) != 0 {
		t.Fatalf("%d left after expiry", len(list))
	}
}

// An ensemble published before our client profile was renewed still
// starts a conversation while the old profile is valid.
func TestOfflineAfterProfileRenewal(t *testing.T) {
	alice, bob, clk, _ := offlinePair(t, 1041, nil)
	before, _ := bob.host.ClientProfile()
	clk.advance(10 * 24 * time.Hour)
	ensembles, err := bob.acct.MakePrekeys(1) // with the client profile of day 0
	if err != nil {
		t.Fatal(err)
	}
	clk.advance(2 * 24 * time.Hour) // past the renewal point, before the 14-day expiry
	if _, err := bob.acct.Expire(); err != nil {
		t.Fatal(err)
	}
	if after, _ := bob.host.ClientProfile(); string(after) == string(before) {
		t.Fatal("bob's client profile not renewed")
	}
	res, err := alice.sess.StartOffline(otr.OfflineStart{Ensemble: ensembles[0], Texts: []string{"still there?"}})
	if err != nil {
		t.Fatal(err)
	}
	pump(t, alice, bob, res.Send)
	if got := readTexts(bob.events); len(got) != 1 || got[0] != "still there?" || len(bob.errs) != 0 {
		t.Fatalf("bob read %q, errors %v; want the offline message read at once", got, bob.errs)
	}
}
