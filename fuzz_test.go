package otr_test

import (
	"bytes"
	"sync"
	"testing"

	"github.com/otrgo/otr"
)

// FuzzConversation feeds arbitrary messages (NUL-separated) to Bob's
// session in the middle of an encrypted conversation with Alice. Invariants:
// no panic; a rejected message delivers nothing; nothing unauthenticated is
// delivered as encrypted; and the genuine conversation goes on afterwards.
func FuzzConversation(f *testing.F) { fuzzConversation(f, nil) }

// FuzzConversationV3 is FuzzConversation with both sides on OTR3 only.
func FuzzConversationV3(f *testing.F) {
	fuzzConversation(f, &otr.Options{Policy: otr.DefaultPolicy &^ otr.AllowV4})
}

func fuzzConversation(f *testing.F, opts *otr.Options) {
	// Seeds: a recorded deterministic conversation, plus hand-written forms.
	alice := newPeer(f, "alice", "bob", 0, 21, opts, 120)
	bob := newPeer(f, "bob", "alice", 1, 22, opts, 120)
	res, _ := alice.sess.Start()
	for _, w := range pump(f, alice, bob, res.Send) {
		f.Add([]byte(w))
	}
	res, _ = alice.sess.Send(0, "seed message")
	for _, m := range res.Send {
		f.Add([]byte(m.Text))
	}
	for _, s := range []string{
		"?OTR?", "?OTRv3?", "?OTRv34?", "?OTR?v23?", "?OTRv", "?OTR", "?OTR:", "?OTR:AAMD.", "?OTR:===.",
		"?OTR Error: boom", "hello \t  \t\t\t\t \t \t \t    \t\t  \t\t", "?OTR|00000100|00000000,00001,00002,?OTR:AA,",
		"?OTR|00000100|00000000,00002,00001,x,", "?OTR,1,2,x,", "plain\x00?OTRv3?",
		"?OTR|00000001|00000100|00000000,00001,00002,?OTR:AAQ,", "?OTR Error: ERROR_1: Unreadable message",
		"?OTR:AAQ1AAABAAAAAAA=.", "?OTR:AAQDAAABAAAAAAA=.",
	} {
		f.Add([]byte(s))
	}
	// Every input starts from a copy of one secured pair (a key exchange
	// per input would make the fuzzer run a few dozen inputs a second).
	var once sync.Once
	var base [2]*peer
	f.Fuzz(func(t *testing.T, data []byte) {
		once.Do(func() {
			base[0] = newPeer(t, "alice", "bob", 0, 21, opts, 0)
			base[1] = newPeer(t, "bob", "alice", 1, 22, opts, 0)
			secure(t, base[0], base[1])
			// Bob trusts Alice's key: no input may take his words elsewhere.
			if _, err := base[1].sess.SetTrust(base[0].fingerprint(wantFuzzVersion(opts)), otr.Verified); err != nil {
				t.Fatal(err)
			}
		})
		alice, bob := clonePeer(base[0], "bob", 21), clonePeer(base[1], "alice", 22)
		aliceTag := alice.acct.InstanceTag()
		aliceFP := alice.fingerprint(wantFuzzVersion(opts))
		for _, part := range bytes.Split(data, []byte{0}) {
			res, err := bob.sess.Receive(string(part))
			for _, ev := range res.Events {
				if m, ok := ev.(otr.MessageEvent); ok && err != nil {
					t.Fatalf("message delivered with error %v: %v", err, m)
				}
			}
		}
		if st := bob.sess.Status(aliceTag); st != otr.Encrypted {
			t.Fatalf("bob's session with alice is %v after fuzz input", st)
		}
		res, err := alice.sess.Send(0, "canary")
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		for _, m := range res.Send {
			r, err := bob.sess.Receive(m.Text)
			if err != nil {
				t.Fatalf("genuine message rejected after fuzz input: %v", err)
			}
			for _, ev := range r.Events {
				if m, ok := ev.(otr.MessageEvent); ok {
					got = m.Text
				}
			}
		}
		if got != "canary" {
			t.Fatalf("genuine message after fuzz input: got %q", got)
		}
		res, err = bob.sess.Send(0, "reply")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Send {
			if m.Instance != aliceTag {
				t.Fatalf("bob's Send(0) after fuzz input went to %08x, not alice's %08x", m.Instance, aliceTag)
			}
		}
		if info, _ := bob.sess.Instance(0); !bytes.Equal(info.Fingerprint, aliceFP) {
			t.Fatalf("bob's default instance after fuzz input has fingerprint %v", info.Fingerprint)
		}
	})
}

func wantFuzzVersion(opts *otr.Options) int {
	if opts != nil && opts.Policy&otr.AllowV4 == 0 {
		return 3
	}
	return 4
}

// clonePeer returns an independent copy of p (account, session and host),
// taking randomness from a new seeded source.
func clonePeer(p *peer, contact string, seed uint64) *peer {
	h := &otr.MemoryHost{MaxSize: p.host.MaxSize}
	tag, _ := p.host.InstanceTag()
	h.SetInstanceTag(tag)
	prof, _ := p.host.ClientProfile()
	h.SetClientProfile(prof)
	known, _ := p.host.Fingerprints(contact)
	for _, k := range known {
		h.SetTrust(contact, k.Fingerprint, k.Trust)
	}
	acct := otr.CloneAccountForTest(p.acct, h, seeded(seed))
	return &peer{policy: p.policy, host: h, name: p.name, acct: acct, sess: acct.Session(contact)}
}

// TestCloneForFuzzing: a copied pair talks on its own (both ways, through
// ratchet steps) and leaves the original pair untouched, in both versions.
func TestCloneForFuzzing(t *testing.T) { bothVersions(t, testCloneForFuzzing) }

func testCloneForFuzzing(t *testing.T) {
	alice := newPeer(t, "alice", "bob", 0, 31, nil, 0)
	bob := newPeer(t, "bob", "alice", 1, 32, nil, 0)
	secure(t, alice, bob)
	a2, b2 := clonePeer(alice, "bob", 33), clonePeer(bob, "alice", 34)
	for i := range 3 {
		send(t, a2, b2, "clone to clone")
		send(t, b2, a2, "and back")
		if i == 0 {
			// The originals' keys did not move: their next messages read.
			send(t, alice, bob, "original")
			if got := bob.lastMessage(t).Text; got != "original" {
				t.Fatalf("original pair after the clone talked: %q", got)
			}
		}
	}
	if got := b2.lastMessage(t).Text; got != "clone to clone" {
		t.Fatalf("clone got %q", got)
	}
	// A message of the clones means nothing to the originals.
	res, err := a2.sess.Send(0, "not for the original")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bob.sess.Receive(res.Send[0].Text); err == nil {
		t.Fatal("the original read the clone's message")
	}
}
