package otr_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/otrgo/otr"
	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
)

// A scripted OTRv4 peer that behaves as otr4j does when both sides start
// at once (docs/interop.md, "Crossed starts"): it never compares hashed B
// values; every Identity message it receives is answered with a fresh
// Auth-R from a per-instance exchange (a copy of the same Identity too);
// an Auth-R that reaches that per-instance exchange is refused.
type naivePeer struct {
	t        testing.TB
	cfg      dake.Config
	master   *dake.DAKE // its own Identity, to receiver 0
	inst     *dake.DAKE // per-instance exchange
	keys     *dake.Keys // when a DAKE completed
	refused  int        // messages refused
	identity string     // its own Identity message
}

// naiveNow is the naive peer's clock, the start of the tests' clocks.
var naiveNow = time.Unix(1_750_000_000, 0)

func newNaivePeer(t testing.TB, seed uint64, account, peerAccount string, tag uint32) *naivePeer {
	t.Helper()
	rng := seeded(seed)
	id, err := otrcrypto.GenerateEdDSAKey(rng)
	if err != nil {
		t.Fatal(err)
	}
	forging, err := otrcrypto.GenerateEdDSAKey(rng)
	if err != nil {
		t.Fatal(err)
	}
	fp := forging.Public()
	prof, err := dake.NewClientProfile(rng, tag, id, &fp, "4", naiveNow.Add(14*24*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := &naivePeer{t: t, cfg: dake.Config{InstanceTag: tag, AccountID: account, PeerAccountID: peerAccount, Profile: prof, Identity: id, Rand: rng}}
	if p.master, err = dake.New(p.cfg); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *naivePeer) start() string {
	r, err := p.master.Start()
	if err != nil {
		p.t.Fatal(err)
	}
	p.identity = otrencoding.EncodeMessage(r.Send)
	return p.identity
}

// receive handles one wire message and returns the replies.
func (p *naivePeer) receive(wire string) []string {
	env, err := otrencoding.ParseEnvelope(wire)
	if err != nil || env.Kind != otrencoding.KindEncoded {
		return nil // data messages and the rest: not this peer's business
	}
	h, body, err := otrencoding.ParseHeader(env.Payload)
	if err != nil || h.Version != 4 {
		return nil
	}
	var d *dake.DAKE
	switch h.Type {
	case otrencoding.MsgIdentity:
		if d, err = dake.New(p.cfg); err != nil {
			p.t.Fatal(err)
		}
		p.inst = d
	case otrencoding.MsgAuthR:
		d = p.master
		if p.inst != nil {
			d = p.inst
		}
	case otrencoding.MsgAuthI:
		if p.inst == nil {
			p.refused++
			return nil
		}
		d = p.inst
	default:
		return nil
	}
	r, err := d.Receive(h, body, naiveNow)
	if err != nil {
		p.refused++
		return nil
	}
	if r.Keys != nil {
		p.keys = r.Keys
	}
	if r.Send != nil {
		return []string{otrencoding.EncodeMessage(r.Send)}
	}
	return nil
}

// crossWithNaive runs a crossed start between alice (ours) and a naive
// peer, delivering both Identity messages crosswise, then everything in
// order, and answering data messages the naive peer cannot read with
// ERROR_2 as otr4j does. It returns whether both ended in one session.
func crossWithNaive(t *testing.T, seed uint64) (converged bool, aliceWonHash bool) {
	clk := &clock{t: time.Unix(1_750_000_000, 0)}
	alice := newPeer(t, "alice", "bob", 0, seed, &otr.Options{Policy: otr.AllowV4 | otr.ErrorStartAKE, Now: clk.now}, 0)
	bob := newNaivePeer(t, seed+1000, "bob", "alice", 0x1234_5678)
	res, err := alice.sess.Receive("?OTRv4?") // alice sends her Identity
	if err != nil {
		t.Fatal(err)
	}
	toBob := []string{res.Send[0].Text}
	toAlice := []string{bob.start()}
	for round := 0; round < 12 && (len(toBob) > 0 || len(toAlice) > 0); round++ {
		var nextBob, nextAlice []string
		for _, m := range toAlice {
			r, err := alice.sess.Receive(m)
			if err != nil {
				alice.errs = append(alice.errs, err)
			}
			alice.events = append(alice.events, r.Events...)
			for _, s := range r.Send {
				nextBob = append(nextBob, s.Text)
			}
			if round == 0 {
				// Did alice keep her exchange (resending her Identity)?
				aliceWonHash = len(r.Send) == 1 && r.Send[0].Text == toBob[0]
			}
		}
		for _, m := range toBob {
			nextAlice = append(nextAlice, bob.receive(m)...)
		}
		toBob, toAlice = nextBob, nextAlice
		// Once alice is encrypted, she writes; if bob has no session, he
		// answers ERROR_2 as otr4j does.
		if len(toBob) == 0 && len(toAlice) == 0 && alice.sess.Status(0) == otr.Encrypted {
			info, _ := alice.sess.Instance(0)
			if bob.keys != nil && info.SSID == otr.SSID(bob.keys.SSID) {
				return true, aliceWonHash
			}
			clk.advance(2 * time.Second) // the user writes a little later
			res, err := alice.sess.Send(0, "hello")
			if err != nil {
				t.Fatal(err)
			}
			if bob.keys == nil || info.SSID != otr.SSID(bob.keys.SSID) {
				toAlice = append(toAlice, "?OTR Error: ERROR_2: Not in private state message")
			}
			_ = res
		}
	}
	info, _ := alice.sess.Instance(0)
	return alice.sess.Status(0) == otr.Encrypted && bob.keys != nil && info.SSID == otr.SSID(bob.keys.SSID), aliceWonHash
}

// TestCrossedStartWithNaivePeer: both orders of the hash comparison
// converge on one session with a peer that does not compare hashes.
func TestCrossedStartWithNaivePeer(t *testing.T) {
	won, lost := 0, 0
	for seed := uint64(1); seed <= 16; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			ok, aliceWon := crossWithNaive(t, seed*7)
			if aliceWon {
				won++
			} else {
				lost++
			}
			if !ok {
				t.Fatalf("no common session (alice's hash won: %v)", aliceWon)
			}
		})
	}
	if won == 0 || lost == 0 {
		t.Fatalf("both cases not covered: alice won %d, lost %d", won, lost)
	}
}

// deliverAll gives msgs to p and returns its replies' texts and its error.
func deliverAll(t *testing.T, p *peer, msgs ...string) (replies []string, err error) {
	t.Helper()
	for _, m := range msgs {
		r, e := p.sess.Receive(m)
		if e != nil {
			err = e
		}
		p.events = append(p.events, r.Events...)
		for _, s := range r.Send {
			replies = append(replies, s.Text)
		}
	}
	return replies, err
}

// Attacks on the two convergence paths: mallory, with a valid client
// profile of her own carrying bob's instance tag, can neither complete
// alice's crossed exchange nor answer alice's restart after ERROR_2.
func TestCrossedStartPathsRefuseThirdParty(t *testing.T) {
	const bobTag = 0x1234_5678
	t.Run("crossed Auth-R", func(t *testing.T) {
		for seed := uint64(1); seed < 40; seed++ {
			alice := newPeer(t, "alice", "bob", 0, seed, &otr.Options{Policy: otr.AllowV4, Now: func() time.Time { return naiveNow }}, 0)
			bob := newNaivePeer(t, seed+1000, "bob", "alice", bobTag)
			res, _ := alice.sess.Receive("?OTRv4?")
			idAlice := res.Send[0].Text
			replies, err := deliverAll(t, alice, bob.start())
			if err != nil || len(replies) != 1 || replies[0] == idAlice {
				continue // alice's hash won: not this case
			}
			// alice answered bob's Identity (Auth-R) and still waits on
			// her own. mallory answers alice's Identity with her own key.
			mallory := newNaivePeer(t, seed+2000, "bob", "alice", bobTag)
			authRM := mallory.receive(idAlice)
			before, _ := alice.sess.Instance(bobTag)
			if r, err := deliverAll(t, alice, authRM...); err == nil || len(r) != 0 {
				t.Fatalf("mallory's Auth-R accepted: %v, replies %d", err, len(r))
			}
			if after, _ := alice.sess.Instance(bobTag); fmt.Sprint(after) != fmt.Sprint(before) {
				t.Fatalf("alice's instance changed: %+v -> %+v", before, after)
			}
			// bob's own answer still completes it.
			authRB := bob.receive(idAlice)
			authI, err := deliverAll(t, alice, authRB...)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range authI {
				bob.receive(m)
			}
			info, _ := alice.sess.Instance(bobTag)
			if info.Status != otr.Encrypted || bob.keys == nil || info.SSID != otr.SSID(bob.keys.SSID) {
				t.Fatalf("no common session after the attack: %+v", info)
			}
			return
		}
		t.Fatal("no seed where alice's hash lost")
	})
	t.Run("restart after ERROR_2", func(t *testing.T) {
		clk := &clock{t: time.Unix(1_750_000_000, 0)}
		alice := newPeer(t, "alice", "bob", 0, 77, &otr.Options{Policy: otr.AllowV4, Now: clk.now}, 0)
		bob := newNaivePeer(t, 1077, "bob", "alice", bobTag)
		// A plain DAKE: bob sends the Identity.
		authR, err := deliverAll(t, alice, bob.start())
		if err != nil {
			t.Fatal(err)
		}
		var authI []string
		for _, m := range authR {
			authI = append(authI, bob.receive(m)...)
		}
		if _, err := deliverAll(t, alice, authI...); err != nil {
			t.Fatal(err)
		}
		good, _ := alice.sess.Instance(bobTag)
		if good.Status != otr.Encrypted {
			t.Fatalf("%+v", good)
		}
		// alice writes; a forged ERROR_2 answers: alice restarts once, to
		// bob's instance.
		clk.advance(2 * time.Second)
		if _, err := alice.sess.Send(0, "first words"); err != nil {
			t.Fatal(err)
		}
		good, _ = alice.sess.Instance(bobTag)
		id, err := deliverAll(t, alice, "?OTR Error: ERROR_2: Not in private state message")
		if err != nil || len(id) != 1 {
			t.Fatalf("restart: %v %v", id, err)
		}
		if again, _ := deliverAll(t, alice, "?OTR Error: ERROR_2: Not in private state message"); len(again) != 0 {
			t.Fatalf("a second restart in one session: %v", again)
		}
		mallory := newNaivePeer(t, 2077, "bob", "alice", bobTag)
		authRM := mallory.receive(id[0])
		if r, err := deliverAll(t, alice, authRM...); err == nil || len(r) != 0 {
			t.Fatalf("mallory completed alice's restart: %v", err)
		}
		if info, _ := alice.sess.Instance(bobTag); fmt.Sprint(info) != fmt.Sprint(good) {
			t.Fatalf("alice's session changed: %+v -> %+v", good, info)
		}
		// bob's answer re-keys it, with his key.
		authRB := bob.receive(id[0])
		authI, err = deliverAll(t, alice, authRB...)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range authI {
			bob.receive(m)
		}
		info, _ := alice.sess.Instance(bobTag)
		if info.SSID == good.SSID || info.SSID != otr.SSID(bob.keys.SSID) || string(info.Fingerprint) != string(good.Fingerprint) {
			t.Fatalf("restart did not re-key with bob: %+v", info)
		}
	})
}
