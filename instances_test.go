package otr_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/otrgo/otr"
	otrencoding "github.com/otrgo/otr/encoding"
)

// The instance rule (Session.Send's doc): the user's words reach only the
// contact the user trusts. Mallory writes as "bob" on the transport with
// her own key (key 2), from a new instance tag or from Bob's.

// newPeerTag is newPeer with the account's instance tag fixed (0: random).
func newPeerTag(t testing.TB, name, contact string, key int, seed uint64, opts *otr.Options, tag uint32) *peer {
	t.Helper()
	o := otr.Options{}
	if opts != nil {
		o = *opts
	}
	o.Rand = seeded(seed)
	if o.Policy == 0 {
		o.Policy = otr.DefaultPolicy
	}
	host := &otr.MemoryHost{}
	if tag != 0 {
		if err := host.SetInstanceTag(tag); err != nil {
			t.Fatal(err)
		}
	}
	a, err := otr.NewAccount(name, keys(t, key), host, &o)
	if err != nil {
		t.Fatal(err)
	}
	return &peer{policy: o.Policy, host: host, name: name, acct: a, sess: a.Session(contact)}
}

// mallorySecures makes mallory start a key exchange of version v with
// alice (as if answering alice's query) and runs it to the end. It returns
// alice's events of the exchange.
func mallorySecures(t *testing.T, alice, mallory *peer, v int) []otr.Event {
	t.Helper()
	q := "?OTRv3?"
	if v == 4 {
		q = "?OTRv4?"
	}
	res, err := mallory.sess.Receive(q)
	if err != nil || len(res.Send) == 0 {
		t.Fatalf("mallory did not start a key exchange: %v", err)
	}
	n := len(alice.events)
	pump(t, mallory, alice, res.Send)
	if st := mallory.sess.Status(alice.acct.InstanceTag()); st != otr.Encrypted {
		t.Fatalf("mallory's exchange with alice did not complete: %v (alice's errors %v)", st, alice.errs)
	}
	return alice.events[n:]
}

func eventsOf[T otr.Event](evs []otr.Event) []T {
	var out []T
	for _, e := range evs {
		if v, ok := e.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// wantReaches sends text from alice with instance 0 and checks that it is
// addressed to, and read by, want, and not readable by other.
func wantReaches(t *testing.T, alice, want, other *peer, text string) {
	t.Helper()
	res, err := alice.sess.Send(0, text)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Send) == 0 {
		t.Fatal("nothing sent")
	}
	for _, m := range res.Send {
		if m.Instance != want.acct.InstanceTag() {
			t.Fatalf("Send(0) addressed to %08x, want %s's %08x", m.Instance, want.name, want.acct.InstanceTag())
		}
	}
	if got := deliver(t, want, res.Send); got != text {
		t.Fatalf("%s read %q, want %q", want.name, got, text)
	}
	if other != nil {
		if got := deliver(t, other, res.Send); got != "" {
			t.Fatalf("mallory read %q", got)
		}
	}
}

// deliver gives msgs to p and returns the text p read, if any.
func deliver(t *testing.T, p *peer, msgs []otr.Message) string {
	t.Helper()
	got := ""
	for _, m := range msgs {
		res, _ := p.sess.Receive(m.Text)
		for _, ev := range res.Events {
			if me, ok := ev.(otr.MessageEvent); ok {
				got += me.Text
			}
		}
	}
	return got
}

// Finding 1: a new instance that completes a key exchange does not take
// the user's words from the contact's trusted (or OTRv4) instance.
func TestHijackByNewInstance(t *testing.T) {
	for _, tc := range []struct {
		name     string
		verify   bool // alice verifies bob by SMP first
		malloryV int
		stays    bool // bob keeps the default instance
	}{
		{"verified/mallory v3", true, 3, true},
		{"verified/mallory v4", true, 4, true},
		{"unverified/mallory v3", false, 3, true}, // OTRv4 over OTR3
		{"unverified/mallory v4", false, 4, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			alice := newPeer(t, "alice", "bob", 0, 61, nil, 0)
			bob := newPeer(t, "bob", "alice", 1, 62, nil, 0)
			secure(t, alice, bob)
			if tc.verify {
				runSMP(t, alice, bob, "our secret", "our secret", "")
				if len(smpEvents[otr.SMPSucceededEvent](alice)) != 1 {
					t.Fatal("SMP did not succeed")
				}
			}
			pol := otr.DefaultPolicy
			if tc.malloryV == 3 {
				pol &^= otr.AllowV4
			}
			mallory := newPeerTag(t, "bob", "alice", 2, 63, &otr.Options{Policy: pol}, 0)
			evs := mallorySecures(t, alice, mallory, tc.malloryV)
			sec := eventsOf[otr.SecureEvent](evs)
			if len(sec) != 1 || sec[0].Instance != mallory.acct.InstanceTag() || sec[0].Version != tc.malloryV {
				t.Fatalf("alice's SecureEvents %v", sec)
			}
			changed := eventsOf[otr.InstanceChangedEvent](evs)
			if tc.stays {
				if len(changed) != 0 {
					t.Fatalf("default instance changed: %v", changed)
				}
				wantReaches(t, alice, bob, mallory, "for bob only")
				if info, _ := alice.sess.Instance(0); info.Tag != bob.acct.InstanceTag() {
					t.Fatalf("Instance(0) = %08x, want bob's", info.Tag)
				}
				return
			}
			// Equal rank but for recency: mallory's exchange is the most
			// recent authenticated message, and alice is told.
			if len(changed) != 1 || changed[0].OldInstance != bob.acct.InstanceTag() || changed[0].NewInstance != mallory.acct.InstanceTag() ||
				!bytes.Equal(changed[0].NewFingerprint, mallory.fingerprint(4)) || !bytes.Equal(changed[0].OldFingerprint, bob.fingerprint(4)) {
				t.Fatalf("InstanceChangedEvent %v", changed)
			}
			// Bob writing again makes his instance the most recent one.
			n := len(alice.events)
			send(t, bob, alice, "still me")
			changed = eventsOf[otr.InstanceChangedEvent](alice.events[n:])
			if len(changed) != 1 || changed[0].NewInstance != bob.acct.InstanceTag() {
				t.Fatalf("after bob wrote: %v", changed)
			}
			wantReaches(t, alice, bob, mallory, "back to bob")
		})
	}
}

// Finding 2: a key exchange that puts another key behind an existing
// instance tag is not a refresh, names the old key, costs the trusted rank
// and changes the default instance's key with an event.
func TestHijackThroughExistingTag(t *testing.T) {
	for _, v := range []int{3, 4} {
		t.Run("v"+string(rune('0'+v)), func(t *testing.T) {
			pol := otr.DefaultPolicy
			if v == 3 {
				pol &^= otr.AllowV4
			}
			opts := &otr.Options{Policy: pol}
			alice := newPeerTag(t, "alice", "bob", 0, 71, opts, 0)
			bob := newPeerTag(t, "bob", "alice", 1, 72, opts, 0)
			secure(t, alice, bob)
			if _, err := alice.sess.SetTrust(bob.fingerprint(v), otr.Verified); err != nil {
				t.Fatal(err)
			}
			mallory := newPeerTag(t, "bob", "alice", 2, 73, opts, bob.acct.InstanceTag())
			evs := mallorySecures(t, alice, mallory, v)
			sec := eventsOf[otr.SecureEvent](evs)
			if len(sec) != 1 {
				t.Fatalf("SecureEvents %v", sec)
			}
			if sec[0].Refreshed || !bytes.Equal(sec[0].Previous, bob.fingerprint(v)) || !bytes.Equal(sec[0].Fingerprint, mallory.fingerprint(v)) || sec[0].Trust != otr.Untrusted {
				t.Fatalf("SecureEvent %+v: want not refreshed, Previous bob's, untrusted", sec[0])
			}
			fe := eventsOf[otr.FingerprintEvent](evs)
			if len(fe) != 1 || !fe[0].Changed || !bytes.Equal(fe[0].Previous, bob.fingerprint(v)) {
				t.Fatalf("FingerprintEvents %v", fe)
			}
			changed := eventsOf[otr.InstanceChangedEvent](evs)
			if len(changed) != 1 || changed[0].OldInstance != changed[0].NewInstance || !bytes.Equal(changed[0].NewFingerprint, mallory.fingerprint(v)) {
				t.Fatalf("InstanceChangedEvents %v", changed)
			}
			// A genuine re-key with the same key stays a refresh.
			bob2 := newPeerTag(t, "bob", "alice", 1, 74, opts, bob.acct.InstanceTag())
			evs = mallorySecures(t, alice, bob2, v)
			sec = eventsOf[otr.SecureEvent](evs)
			if len(sec) != 1 || sec[0].Refreshed || !bytes.Equal(sec[0].Previous, mallory.fingerprint(v)) || sec[0].Trust != otr.Verified {
				t.Fatalf("bob back: %+v", sec)
			}
			evs = mallorySecures(t, alice, bob2, v)
			if sec = eventsOf[otr.SecureEvent](evs); len(sec) != 1 || !sec[0].Refreshed || sec[0].Previous != nil {
				t.Fatalf("same key again: %+v", sec)
			}
		})
	}
}

// Finding 3: user text cannot carry TLVs.
func TestTextCannotCarryTLVs(t *testing.T) { bothVersions(t, testTextCannotCarryTLVs) }

func testTextCannotCarryTLVs(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 81, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 82, nil, 0)
	secure(t, alice, bob)
	disconnect := string(otrencoding.MarshalPlaintext(nil, []otrencoding.TLV{{Type: otrencoding.TLVDisconnected}}))
	for _, text := range []string{"hi" + disconnect, "\x00", "bad \xff utf-8", "a\x00b"} {
		res, err := alice.sess.Send(0, text)
		if !errors.Is(err, otr.ErrInvalidText) || len(res.Send) != 0 {
			t.Errorf("Send(%q) = %d messages, %v; want nothing and ErrInvalidText", text, len(res.Send), err)
		}
		pump(t, alice, bob, res.Send)
	}
	if _, err := alice.sess.StartSMP(0, []byte("s"), "q\x00"+disconnect); !errors.Is(err, otr.ErrInvalidText) {
		t.Errorf("StartSMP with a NUL in the question: %v", err)
	}
	if st := bob.sess.Status(0); st != otr.Encrypted {
		t.Fatalf("bob's session is %v", st)
	}
	// The explicit API refuses the protocol's types and carries others.
	for typ := uint16(0); typ <= 8; typ++ {
		if _, err := alice.sess.SendTLVs(0, "", []otr.TLV{{Type: typ}}); !errors.Is(err, otr.ErrReservedTLV) {
			t.Errorf("SendTLVs type %d: %v, want ErrReservedTLV", typ, err)
		}
	}
	res, err := alice.sess.SendTLVs(0, "with data", []otr.TLV{{Type: 0x1234, Value: []byte("app")}})
	if err != nil {
		t.Fatal(err)
	}
	pump(t, alice, bob, res.Send)
	m := bob.lastMessage(t)
	if m.Text != "with data" || len(m.TLVs) != 1 || m.TLVs[0].Type != 0x1234 || string(m.TLVs[0].Value) != "app" {
		t.Fatalf("bob got %+v", m)
	}
	send(t, alice, bob, "still fine")
	if got := bob.lastMessage(t).Text; got != "still fine" {
		t.Fatalf("bob got %q", got)
	}
}

func countQueries(msgs []otr.Message) int {
	n := 0
	for _, m := range msgs {
		if strings.HasPrefix(m.Text, "?OTRv") || strings.HasPrefix(m.Text, "?OTR?") {
			n++
		}
	}
	return n
}

// Finding 4: one query, not one per queued message; a
// retry after QueryRetryInterval, from Send or Expire; the queue is sent
// in order, once.
func TestOneKeyExchangeAtATime(t *testing.T) { bothVersions(t, testOneKeyExchangeAtATime) }

func testOneKeyExchangeAtATime(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	opts := &otr.Options{Now: clk.now, Policy: testPolicy | otr.RequireEncryption, QueryRetryInterval: 20 * time.Second, ResendWindow: -1}
	alice := newPeer(t, "alice", "bob", 0, 91, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 92, &otr.Options{Now: clk.now}, 0)
	var queued []otr.Message
	for i := range 5 {
		res, err := alice.sess.Send(0, "queued "+string(rune('a'+i)))
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, res.Send...)
	}
	if n := countQueries(queued); n != 1 || len(queued) != 1 {
		t.Fatalf("5 queued sends sent %d messages, %d queries; want 1 query", len(queued), n)
	}
	if d, ok := alice.acct.NextDeadline(); !ok || !d.Equal(clk.now().Add(20*time.Second)) {
		t.Fatalf("NextDeadline = %v, %v; want the retry", d, ok)
	}
	clk.advance(20 * time.Second)
	res, err := alice.acct.Expire()
	if err != nil || countQueries(res.Send) != 1 {
		t.Fatalf("Expire at the retry: %d queries, %v", countQueries(res.Send), err)
	}
	res, err = alice.sess.Send(0, "queued f")
	if err != nil || len(res.Send) != 0 {
		t.Fatalf("send right after the retry: %d messages, %v", len(res.Send), err)
	}
	// The key exchange completes from the last query: everything queued is
	// sent once, in order.
	n := len(bob.events)
	pump(t, alice, bob, res.Send)
	pump(t, alice, bob, queued)
	var got []string
	for _, ev := range bob.events[n:] {
		if m, ok := ev.(otr.MessageEvent); ok {
			got = append(got, m.Text)
		}
	}
	if want := "queued a,queued b,queued c,queued d,queued e,queued f"; strings.Join(got, ",") != want {
		t.Fatalf("bob got %q, want %q", got, want)
	}
	sent := eventsOf[otr.PendingSentEvent](alice.events)
	if len(sent) != 1 || sent[0].Count != 6 || sent[0].Instance != bob.acct.InstanceTag() || !bytes.Equal(sent[0].Fingerprint, bob.fingerprint(wantVersion())) {
		t.Fatalf("PendingSentEvents %v", sent)
	}
	if d, ok := alice.acct.NextDeadline(); ok && d.Before(clk.now().Add(24*time.Hour)) {
		t.Fatalf("a deadline (%v) remains with nothing queued", d)
	}
}

// Queued text waits for the trusted key: an impostor's instance that
// completes first gets nothing.
func TestPendingHeldForTrustedKey(t *testing.T) { bothVersions(t, testPendingHeldForTrustedKey) }

func testPendingHeldForTrustedKey(t *testing.T) {
	opts := &otr.Options{Policy: testPolicy | otr.RequireEncryption}
	alice := newPeer(t, "alice", "bob", 0, 101, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 102, nil, 0)
	secure(t, alice, bob)
	v := wantVersion()
	if _, err := alice.sess.SetTrust(bob.fingerprint(v), otr.Verified); err != nil {
		t.Fatal(err)
	}
	res, err := alice.sess.End(0)
	if err != nil {
		t.Fatal(err)
	}
	pump(t, alice, bob, res.Send)
	res, err = alice.sess.Send(0, "for bob's eyes")
	if err != nil || countQueries(res.Send) != 1 {
		t.Fatalf("Send: %v, %d queries", err, countQueries(res.Send))
	}
	query := res.Send
	mallory := newPeerTag(t, "bob", "alice", 2, 103, &otr.Options{Policy: testPolicy}, 0)
	n := len(alice.events)
	pump(t, alice, mallory, query)
	for _, ev := range mallory.events {
		if m, ok := ev.(otr.MessageEvent); ok {
			t.Fatalf("mallory read %q", m.Text)
		}
	}
	held := eventsOf[otr.PendingHeldEvent](alice.events[n:])
	if len(held) != 1 || held[0].Instance != mallory.acct.InstanceTag() || held[0].Count != 1 {
		t.Fatalf("PendingHeldEvents %v", held)
	}
	// More text queues behind the held text instead of going to mallory.
	res, err = alice.sess.Send(0, "and this")
	if err != nil || len(res.Send) != 0 {
		t.Fatalf("Send while held: %d messages, %v", len(res.Send), err)
	}
	// Bob answers the same query: the text goes to him, once, in order.
	n = len(bob.events)
	pump(t, alice, bob, query)
	var got []string
	for _, ev := range bob.events[n:] {
		if m, ok := ev.(otr.MessageEvent); ok {
			got = append(got, m.Text)
		}
	}
	if strings.Join(got, "|") != "for bob's eyes|and this" {
		t.Fatalf("bob got %q", got)
	}
	sent := eventsOf[otr.PendingSentEvent](alice.events)
	if len(sent) != 1 || sent[0].Instance != bob.acct.InstanceTag() || sent[0].Count != 2 {
		t.Fatalf("PendingSentEvents %v", sent)
	}
	if info, _ := alice.sess.Instance(0); info.Tag != bob.acct.InstanceTag() {
		t.Fatalf("default instance %08x, want bob's", info.Tag)
	}
}

// With no trusted key, held text is released by trusting the instance's.
func TestPendingReleasedBySetTrust(t *testing.T) {
	opts := &otr.Options{Policy: otr.DefaultPolicy | otr.RequireEncryption}
	alice := newPeer(t, "alice", "bob", 0, 111, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 112, nil, 0)
	other := newPeer(t, "x", "y", 2, 113, nil, 0)
	// alice trusts a key of bob's that is not the one he uses now.
	if _, err := alice.sess.SetTrust(other.fingerprint(4), otr.Verified); err != nil {
		t.Fatal(err)
	}
	res, err := alice.sess.Send(0, "hello")
	if err != nil {
		t.Fatal(err)
	}
	pump(t, alice, bob, res.Send)
	if len(eventsOf[otr.PendingHeldEvent](alice.events)) != 1 {
		t.Fatalf("events %v", alice.events)
	}
	res, err = alice.sess.SetTrust(bob.fingerprint(4), otr.Verified)
	if err != nil {
		t.Fatal(err)
	}
	alice.events = append(alice.events, res.Events...)
	pump(t, alice, bob, res.Send)
	if got := bob.lastMessage(t).Text; got != "hello" {
		t.Fatalf("bob got %q", got)
	}
	if len(eventsOf[otr.PendingSentEvent](alice.events)) != 1 {
		t.Fatalf("events %v", alice.events)
	}
}

// AnswerSMP(0) and AbortSMP(0) act on the instance whose run is pending,
// not on the default instance; several pending runs need a tag.
func TestSMPTargetsPendingRun(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 121, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 122, nil, 0)
	bob2 := newPeer(t, "bob", "alice", 2, 123, &otr.Options{Policy: otr.DefaultPolicy &^ otr.AllowV4}, 0)
	secure(t, alice, bob)
	mallorySecures(t, alice, bob2, 3) // alice's default stays bob (OTRv4)
	res, err := bob2.sess.StartSMP(0, []byte("s"), "")
	if err != nil {
		t.Fatal(err)
	}
	pump(t, bob2, alice, res.Send)
	res, err = alice.sess.AnswerSMP(0, []byte("s"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range res.Send {
		if m.Instance != bob2.acct.InstanceTag() {
			t.Fatalf("answer sent to %08x, want bob2's %08x", m.Instance, bob2.acct.InstanceTag())
		}
	}
	pump(t, alice, bob2, res.Send)
	if len(smpEvents[otr.SMPSucceededEvent](bob2)) != 1 {
		t.Fatalf("bob2's events %v", bob2.events)
	}
	// Two requests waiting: AnswerSMP(0) must not guess.
	for _, p := range []*peer{bob, bob2} {
		res, err := p.sess.StartSMP(0, []byte("t"), "")
		if err != nil {
			t.Fatal(err)
		}
		pump(t, p, alice, res.Send)
	}
	if _, err := alice.sess.AnswerSMP(0, []byte("t")); !errors.Is(err, otr.ErrAmbiguousInstance) {
		t.Fatalf("AnswerSMP(0) with two requests: %v", err)
	}
	if _, err := alice.sess.AbortSMP(0); !errors.Is(err, otr.ErrAmbiguousInstance) {
		t.Fatalf("AbortSMP(0) with two runs: %v", err)
	}
	if _, err := alice.sess.AnswerSMP(bob.acct.InstanceTag(), []byte("t")); err != nil {
		t.Fatal(err)
	}
}

func TestTrustText(t *testing.T) {
	for _, tc := range []struct {
		t    otr.Trust
		text string
	}{{otr.Untrusted, "untrusted"}, {otr.Verified, "verified"}, {otr.SMPVerified, "smp"}} {
		b, err := tc.t.MarshalText()
		if err != nil || string(b) != tc.text || tc.t.String() != tc.text {
			t.Errorf("%d: MarshalText %q %v, String %q; want %q", int(tc.t), b, err, tc.t.String(), tc.text)
		}
		var got otr.Trust = 99
		if err := got.UnmarshalText([]byte(tc.text)); err != nil || got != tc.t {
			t.Errorf("UnmarshalText(%q) = %v, %v", tc.text, got, err)
		}
	}
	for _, bad := range []string{"", "Verified", "trusted", "smp "} {
		var got otr.Trust
		if err := got.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) accepted", bad)
		}
	}
	if _, err := otr.Trust(7).MarshalText(); err == nil {
		t.Error("MarshalText of an unknown level")
	}
}
