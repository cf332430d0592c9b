package ake3

import (
	"errors"
	mrand "math/rand/v2"
	"sync"
	"testing"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

func seeded(seed byte) *mrand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return mrand.NewChaCha8(s)
}

var (
	keyOnce sync.Once
	keyA    *otrcrypto.DSAPrivateKey
	keyB    *otrcrypto.DSAPrivateKey
)

func testKeys(t testing.TB) (*otrcrypto.DSAPrivateKey, *otrcrypto.DSAPrivateKey) {
	t.Helper()
	keyOnce.Do(func() {
		var err error
		if keyA, err = otrcrypto.GenerateDSAKey(seeded(1)); err != nil {
			panic(err)
		}
		if keyB, err = otrcrypto.GenerateDSAKey(seeded(2)); err != nil {
			panic(err)
		}
	})
	return keyA, keyB
}

// msg is a received message: type and body.
type msg struct {
	t    otrencoding.MsgType
	body []byte
}

func one(t *testing.T, replies []Reply) msg {
	t.Helper()
	if len(replies) != 1 {
		t.Fatalf("got %d replies, want 1", len(replies))
	}
	return msg{replies[0].Type, replies[0].Bytes()}
}

// exchange runs Bob (initiator) against Alice and returns every message, the
// keys of both sides and the AKEs in their final states.
func exchange(t *testing.T, seed byte) (commit, dhkey, reveal, sig msg, kb, ka *Keys) {
	t.Helper()
	a, b := testKeys(t)
	rnd := seeded(seed)
	bob, alice := New(b), New(a)
	r, err := bob.Start(rnd)
	if err != nil {
		t.Fatal(err)
	}
	commit = msg{r.Type, r.Bytes()}
	rs, _, err := alice.Receive(rnd, commit.t, commit.body)
	if err != nil {
		t.Fatal(err)
	}
	dhkey = one(t, rs)
	rs, _, err = bob.Receive(rnd, dhkey.t, dhkey.body)
	if err != nil {
		t.Fatal(err)
	}
	reveal = one(t, rs)
	rs, ka, err = alice.Receive(rnd, reveal.t, reveal.body)
	if err != nil || ka == nil {
		t.Fatalf("reveal: %v", err)
	}
	sig = one(t, rs)
	rs, kb, err = bob.Receive(rnd, sig.t, sig.body)
	if err != nil || kb == nil || len(rs) != 0 {
		t.Fatalf("sig: %v", err)
	}
	return
}

func TestExchange(t *testing.T) {
	_, _, _, _, kb, ka := exchange(t, 10)
	if ka.SSID != kb.SSID {
		t.Errorf("SSIDs differ")
	}
	if !otrcrypto.Equal(ka.TheirDH.Bytes(), kb.OurDH.Public()) || !otrcrypto.Equal(kb.TheirDH.Bytes(), ka.OurDH.Public()) {
		t.Errorf("D-H keys do not match")
	}
	a, b := testKeys(t)
	if !ka.TheirKey.Equal(b.Public()) || !kb.TheirKey.Equal(a.Public()) {
		t.Errorf("long-term keys do not match")
	}
	if !kb.SentRevealSig || ka.SentRevealSig {
		t.Errorf("SentRevealSig: bob %v alice %v", kb.SentRevealSig, ka.SentRevealSig)
	}
}

// TestTransitions drives every (state, message) pair of the OTR3 spec's state
// machine and checks the next state and the reply.
func TestTransitions(t *testing.T) {
	// Messages from an unrelated exchange (fresh keys) to feed in.
	commit, dhkey, reveal, sig, _, _ := exchange(t, 20)
	_, b := testKeys(t)

	// setup puts a fresh AKE into the wanted state.
	setup := func(t *testing.T, st State) *AKE {
		rnd := seeded(30)
		a := New(b)
		switch st {
		case StateAwaitingDHKey:
			a.Start(rnd)
		case StateAwaitingRevealSig:
			if _, _, err := a.Receive(rnd, commit.t, commit.body); err != nil {
				t.Fatal(err)
			}
		case StateAwaitingSig:
			a.Start(rnd)
			if _, _, err := a.Receive(rnd, dhkey.t, dhkey.body); err != nil {
				t.Fatal(err)
			}
		}
		if a.State() != st {
			t.Fatalf("setup: state %v, want %v", a.State(), st)
		}
		return a
	}
	const none = otrencoding.MsgType(0)
	tests := []struct {
		state     State
		in        msg
		wantState State
		wantReply otrencoding.MsgType
		wantErr   error
	}{
		{StateNone, commit, StateAwaitingRevealSig, otrencoding.MsgDHKey, nil},
		{StateNone, dhkey, StateNone, none, ErrIgnored},
		{StateNone, reveal, StateNone, none, ErrIgnored},
		{StateNone, sig, StateNone, none, ErrIgnored},
		// Crossed commits: which side wins depends on the hashes; both
		// outcomes are legal, checked in TestCrossedCommits.
		{StateAwaitingDHKey, dhkey, StateAwaitingSig, otrencoding.MsgRevealSig, nil},
		{StateAwaitingDHKey, reveal, StateAwaitingDHKey, none, ErrIgnored},
		{StateAwaitingDHKey, sig, StateAwaitingDHKey, none, ErrIgnored},
		{StateAwaitingRevealSig, commit, StateAwaitingRevealSig, otrencoding.MsgDHKey, nil},
		{StateAwaitingRevealSig, dhkey, StateAwaitingRevealSig, none, ErrIgnored},
		{StateAwaitingRevealSig, reveal, StateAwaitingRevealSig, none, ErrVerify}, // for another D-H key
		{StateAwaitingRevealSig, sig, StateAwaitingRevealSig, none, ErrIgnored},
		{StateAwaitingSig, commit, StateAwaitingRevealSig, otrencoding.MsgDHKey, nil},
		{StateAwaitingSig, dhkey, StateAwaitingSig, otrencoding.MsgRevealSig, nil}, // same D-H Key: resend
		{StateAwaitingSig, reveal, StateAwaitingSig, none, ErrIgnored},
		{StateAwaitingSig, sig, StateAwaitingSig, none, ErrVerify}, // for another exchange
	}
	for _, tc := range tests {
		t.Run(tc.state.String()+"/"+tc.in.t.String(), func(t *testing.T) {
			a := setup(t, tc.state)
			replies, keys, err := a.Receive(seeded(40), tc.in.t, tc.in.body)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if keys != nil {
				t.Fatal("unexpected keys")
			}
			if got := a.State(); got != tc.wantState {
				t.Errorf("state = %v, want %v", got, tc.wantState)
			}
			var got otrencoding.MsgType
			if len(replies) == 1 {
				got = replies[0].Type
			} else if len(replies) > 1 {
				t.Fatalf("%d replies", len(replies))
			}
			if got != tc.wantReply {
				t.Errorf("reply = %v, want %v", got, tc.wantReply)
			}
		})
	}
}

func TestCrossedCommits(t *testing.T) {
	a, b := testKeys(t)
	rnd := seeded(50)
	alice, bob := New(a), New(b)
	ca, _ := alice.Start(rnd)
	cb, _ := bob.Start(rnd)
	ra, _, errA := alice.Receive(rnd, cb.Type, cb.Bytes())
	rb, _, errB := bob.Receive(rnd, ca.Type, ca.Bytes())
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	// Exactly one side keeps its commit (resends it), the other answers.
	kinds := map[otrencoding.MsgType]int{ra[0].Type: 1}
	kinds[rb[0].Type]++
	if kinds[otrencoding.MsgDHCommit] != 1 || kinds[otrencoding.MsgDHKey] != 1 {
		t.Fatalf("replies %v %v", ra[0].Type, rb[0].Type)
	}
}

func TestBadValues(t *testing.T) {
	commit, dhkey, reveal, sig, _, _ := exchange(t, 60)
	_ = commit
	_, b := testKeys(t)
	for _, gy := range [][]byte{{}, {1}} {
		a := New(b)
		a.Start(seeded(61))
		body := otrencoding.Marshal(otrencoding.Header{}, &otrencoding.DHKey{GY: gy})[otrencoding.HeaderLen:]
		if _, _, err := a.Receive(seeded(62), otrencoding.MsgDHKey, body); err == nil {
			t.Errorf("D-H key %x accepted", gy)
		}
	}
	// Truncations of every message are malformed, never a panic.
	for _, m := range []msg{commit, dhkey, reveal, sig} {
		for i := range len(m.body) {
			a := New(b)
			if _, _, err := a.Receive(seeded(63), m.t, m.body[:i]); err == nil {
				t.Fatalf("%v truncated to %d accepted", m.t, i)
			}
		}
	}
}

func FuzzReceive(f *testing.F) {
	f.Add(byte(0), byte(2), []byte{})
	f.Fuzz(func(t *testing.T, st, typ byte, body []byte) {
		_, b := testKeys(t)
		a := New(b)
		rnd := seeded(70)
		if st%2 == 1 {
			a.Start(rnd)
		}
		a.Receive(rnd, otrencoding.MsgType(typ), body)
	})
}

func BenchmarkExchange(b *testing.B) {
	testKeys(b)
	t := &testing.T{}
	for b.Loop() {
		exchange(t, 80)
	}
}

// TestClonedFrom: a copy of the master's exchange stays known as such
// through its transitions and its end, until the master starts again.
func TestClonedFrom(t *testing.T) {
	a, b := testKeys(t)
	rnd := seeded(9)
	master := New(b)
	if New(b).ClonedFrom(master) {
		t.Fatal("an AKE is cloned from a master that never started")
	}
	if _, err := master.Start(rnd); err != nil {
		t.Fatal(err)
	}
	c := master.Clone()
	if !c.ClonedFrom(master) || New(b).ClonedFrom(master) {
		t.Fatalf("ClonedFrom: clone %v, new %v; want true, false", c.ClonedFrom(master), New(b).ClonedFrom(master))
	}
	// The clone answers a commit of the contact's (whichever wins the
	// comparison), then ends: still from the master's commit.
	r, err := New(a).Start(rnd)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Receive(rnd, r.Type, r.Bytes()); err != nil {
		t.Fatal(err)
	}
	c.Wipe()
	if c.State() != StateNone || !c.ClonedFrom(master) {
		t.Fatalf("after Wipe: state %v, ClonedFrom %v; want %v, true", c.State(), c.ClonedFrom(master), StateNone)
	}
	if _, err := master.Start(rnd); err != nil {
		t.Fatal(err)
	}
	if c.ClonedFrom(master) {
		t.Fatal("ClonedFrom a master that started again")
	}
	master.Wipe()
	if c.ClonedFrom(master) || master.Clone().ClonedFrom(master) {
		t.Fatal("ClonedFrom a wiped master")
	}
}
