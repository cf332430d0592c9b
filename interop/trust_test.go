package interop

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/interop/libotrpeer"
	libotrfiles "github.com/otrgo/otr/libotr"
)

// Trust for OTR3 against libotr, completing smp_test.go (SMP success and
// failure with and without a question from either side, abort of the
// other side's run) and otr3_test.go (extra symmetric key both ways, our
// heartbeat): the fingerprint trust our TrustHost records, aborts by the
// side that started and in the middle of a run, the extra key for one use
// value both ways, and the heartbeat's bounds.
//
// libotr's own heartbeat is tested in heartbeat_test.go (Peer.AgeLastSent
// moves libotr's record of its last send back past its 60 s interval).
// libotr's SMP and extra-key messages here are empty data messages flagged
// IGNORE_UNREADABLE too (plus a TLV).

// useAccount replaces our account in r (before any exchange) by one with
// host and options o (Rand defaults to a seeded source).
func (r *relay) useAccount(host otr.Host, o otr.Options) {
	r.t.Helper()
	if o.Rand == nil {
		o.Rand = seeded(9)
	}
	acct, err := otr.NewAccount(ourName, keysForUs(r.t), host, &o)
	if err != nil {
		r.t.Fatalf("otr.NewAccount: %v", err)
	}
	r.us.acct, r.us.sess = acct, acct.Session(theirName)
}

// With a TrustHost, libotr's fingerprint is recorded untrusted at the
// first AKE and reported new; an SMP run marks it SMPVerified as libotr
// does in the same run: when the run succeeds, unless we only answered
// the contact's question (the asker chose the question, so a success
// proves nothing about the asker: libotr sets trust on the answering side
// only when no question was received). The next AKE reports the trust.
func TestTrustHostSMP(t *testing.T) {
	const question = "Where did we first meet?"
	tests := []struct {
		name     string
		weStart  bool
		question string
		match    bool
		want     otr.Trust
	}{
		{"we start", true, "", true, otr.SMPVerified},
		{"we start with a question", true, question, true, otr.SMPVerified},
		{"we start, secrets differ", true, "", false, otr.Untrusted},
		{"we start with a question, answer wrong", true, question, false, otr.Untrusted},
		{"libotr starts", false, "", true, otr.SMPVerified},
		{"libotr starts, secrets differ", false, "", false, otr.Untrusted},
		// We answered libotr's question: libotr (the asker) verifies us,
		// we verify nothing.
		{"libotr starts with a question", false, question, true, otr.Untrusted},
		{"libotr starts with a question, answer wrong", false, question, false, otr.Untrusted},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRelay(t, setup{})
			host := &otr.MemoryHost{}
			r.useAccount(host, otr.Options{})
			th := r.them[0]
			tag, fp := th.p.InstanceTag(), th.p.Fingerprint()
			r.fromUs(r.us.sess.Start())
			r.checkSecure(0)
			var secure *otr.SecureEvent
			var newFP *otr.FingerprintEvent
			for _, e := range r.takeEvents() {
				switch e := e.(type) {
				case otr.SecureEvent:
					secure = &e
				case otr.FingerprintEvent:
					newFP = &e
				}
			}
			if secure == nil || secure.Trust != otr.Untrusted || secure.Fingerprint.String() != fp {
				t.Errorf("first SecureEvent %+v, want Untrusted with %s", secure, fp)
			}
			if newFP == nil || newFP.Changed || newFP.Instance != tag || newFP.Fingerprint.String() != fp {
				t.Errorf("FingerprintEvent %+v, want new (not changed) %s from %#x", newFP, fp, tag)
			}
			checkStored(t, host, fp, otr.Untrusted)

			r.exchange(0, 2)
			r.libotrEvents(0)
			secret := "the secret ✓"
			answer := secret
			if !tc.match {
				answer = "not the secret"
			}
			if tc.weStart {
				r.fromUs(r.us.sess.StartSMP(0, []byte(secret), tc.question))
				msgs, err := th.p.RespondSMP(ourName, answer)
				r.fromThem(0, msgs, err)
			} else {
				msgs, err := th.p.StartSMP(ourName, tc.question, secret)
				r.fromThem(0, msgs, err)
				r.fromUs(r.us.sess.AnswerSMP(0, []byte(answer)))
			}
			r.noErrors()
			o := ourSMP(r.takeEvents())
			if tc.match != (o.succeeded != nil) || tc.match == (o.failed != nil) {
				t.Fatalf("our SMP outcome %+v, want success %v", o, tc.match)
			}
			if evs := r.libotrSMP(0); hasSMP(evs, libotrpeer.SMPEventSuccess) != tc.match {
				t.Fatalf("libotr SMP events %v, want success %v", evs, tc.match)
			}
			checkStored(t, host, fp, tc.want)

			// A new AKE with the same key reports the stored trust and no
			// new fingerprint.
			r.fromUs(r.us.sess.Start())
			r.checkSecure(0)
			secure, newFP = nil, nil
			for _, e := range r.takeEvents() {
				switch e := e.(type) {
				case otr.SecureEvent:
					secure = &e
				case otr.FingerprintEvent:
					newFP = &e
				}
			}
			if secure == nil || !secure.Refreshed || secure.Trust != tc.want {
				t.Errorf("SecureEvent of the next AKE %+v (trust %q), want refreshed with trust %q", secure, secureTrust(secure), tc.want)
			}
			if newFP != nil {
				t.Errorf("FingerprintEvent %+v for a known fingerprint", newFP)
			}
			r.noErrors()
		})
	}
}

// The contact reinstalls libotr with a new key after we verified the old
// one by SMP: the new fingerprint is reported changed and stored
// untrusted next to the old, still verified one, until an SMP run with the
// new instance verifies it too.
func TestTrustHostChangedKey(t *testing.T) {
	r := newRelay(t, setup{})
	host := &otr.MemoryHost{}
	r.useAccount(host, otr.Options{})
	oldFP := r.them[0].p.Fingerprint()
	r.fromUs(r.us.sess.Start())
	r.checkSecure(0)
	r.fromUs(r.us.sess.StartSMP(0, []byte("verified"), ""))
	msgs, err := r.them[0].p.RespondSMP(ourName, "verified")
	r.fromThem(0, msgs, err)
	checkStored(t, host, oldFP, otr.SMPVerified)
	r.takeEvents()
	r.libotrEvents(0)

	// The new installation: another key (Carol's DSA key, written in
	// libotr's format for the libotr account), another instance tag.
	path := filepath.Join(t.TempDir(), "otr.private_key")
	var buf bytes.Buffer
	if err := libotrfiles.WritePrivateKeys(&buf, []libotrfiles.PrivateKey{{Account: theirName, Protocol: "otrgo", Keys: keysForCarol(t)}}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := libotrpeer.New(libotrpeer.Options{Account: theirName, KeyFile: path})
	if err != nil {
		t.Fatalf("libotrpeer.New: %v", err)
	}
	t.Cleanup(p.Close)
	r.them = []*theirs{{p: p}}
	newFP, tag := p.Fingerprint(), p.InstanceTag()
	if newFP == oldFP {
		t.Fatal("the new installation has the old key")
	}
	r.fromThem(0, []string{p.Query()}, nil)
	r.checkSecure(0)
	var secure *otr.SecureEvent
	var fe *otr.FingerprintEvent
	for _, e := range r.takeEvents() {
		switch e := e.(type) {
		case otr.SecureEvent:
			secure = &e
		case otr.FingerprintEvent:
			fe = &e
		}
	}
	if secure == nil || secure.Instance != tag || secure.Refreshed || secure.Trust != otr.Untrusted {
		t.Errorf("SecureEvent %+v (trust %q), want a new untrusted instance %#x", secure, secureTrust(secure), tag)
	}
	if fe == nil || !fe.Changed || fe.Instance != tag || fe.Fingerprint.String() != newFP {
		t.Errorf("FingerprintEvent %+v, want %s from %#x, changed", fe, newFP, tag)
	}
	checkStoredAll(t, host, map[string]otr.Trust{oldFP: otr.SMPVerified, newFP: otr.Untrusted})

	r.fromUs(r.us.sess.StartSMP(tag, []byte("new key"), ""))
	msgs, err = p.RespondSMP(ourName, "new key")
	r.fromThem(0, msgs, err)
	if o := ourSMP(r.takeEvents()); o.succeeded == nil || o.succeeded.Fingerprint.String() != newFP {
		t.Errorf("SMP with the new instance: %+v, want success for %s", o, newFP)
	}
	checkStoredAll(t, host, map[string]otr.Trust{oldFP: otr.SMPVerified, newFP: otr.SMPVerified})
	r.noErrors()
}

// checkStoredAll checks that host knows exactly the fingerprints of want,
// each with its trust.
func checkStoredAll(t *testing.T, host *otr.MemoryHost, want map[string]otr.Trust) {
	t.Helper()
	known, err := host.Fingerprints(theirName)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]otr.Trust{}
	for _, k := range known {
		got[k.Fingerprint.String()] = k.Trust
	}
	if len(known) != len(want) || len(got) != len(want) {
		t.Errorf("stored fingerprints %v, want %v", known, want)
		return
	}
	for fp, tr := range want {
		if g, ok := got[fp]; !ok || g != tr {
			t.Errorf("stored fingerprints %v, want %v", known, want)
			return
		}
	}
}

// checkStored checks that host knows exactly libotr's fingerprint fp, with
// trust want.
func checkStored(t *testing.T, host *otr.MemoryHost, fp string, want otr.Trust) {
	t.Helper()
	known, err := host.Fingerprints(theirName)
	if err != nil {
		t.Fatal(err)
	}
	if len(known) != 1 || known[0].Fingerprint.String() != fp || known[0].Trust != want {
		t.Errorf("stored fingerprints %v, want %s with trust %q", known, fp, want)
	}
}

// The side that started an SMP run aborts it before the other answers:
// the other side is told, its late answer goes nowhere, and a new run
// succeeds.
func TestSMPAbortByStarter(t *testing.T) {
	for _, aborter := range []string{"us", "libotr"} {
		t.Run(aborter, func(t *testing.T) {
			r, th := newSecureRelay(t)
			if aborter == "us" {
				r.fromUs(r.us.sess.StartSMP(0, []byte("s"), ""))
				if evs := r.libotrSMP(0); !hasSMP(evs, libotrpeer.SMPEventAskForSecret) {
					t.Fatalf("libotr SMP events %v, want AskForSecret", evs)
				}
				r.fromUs(r.us.sess.AbortSMP(0))
				if o := ourSMP(r.takeEvents()); o.aborted == nil || o.aborted.ByContact {
					t.Errorf("our outcome %+v, want aborted by us", o)
				}
				if evs := r.libotrSMP(0); !hasSMP(evs, libotrpeer.SMPEventAbort) {
					t.Errorf("libotr SMP events %v, want Abort", evs)
				}
			} else {
				msgs, err := th.p.StartSMP(ourName, "question?", "s")
				r.fromThem(0, msgs, err)
				if o := ourSMP(r.takeEvents()); o.question == nil || o.question.Question != "question?" {
					t.Fatalf("our outcome %+v, want the question", o)
				}
				msgs, err = th.p.AbortSMP(ourName)
				r.fromThem(0, msgs, err)
				if o := ourSMP(r.takeEvents()); o.aborted == nil || !o.aborted.ByContact {
					t.Errorf("our outcome %+v, want aborted by the contact", o)
				}
				// The user answers too late: refused, nothing sent.
				res, err := r.us.sess.AnswerSMP(0, []byte("s"))
				if !errors.Is(err, otr.ErrUnexpectedMessage) || len(res.Send) != 0 {
					t.Errorf("AnswerSMP after the abort: %d messages, error %v; want none and ErrUnexpectedMessage", len(res.Send), err)
				}
			}
			r.noErrors()
			checkNewSMPRun(t, r)
		})
	}
}

// The side that started aborts while the other's reply (SMP message 2) is
// on the wire: the stale reply makes no success on either side and
// breaks nothing, and a new run succeeds.
func TestSMPAbortMidRun(t *testing.T) {
	for _, aborter := range []string{"us", "libotr"} {
		t.Run(aborter, func(t *testing.T) {
			r, th := newSecureRelay(t)
			if aborter == "us" {
				r.fromUs(r.us.sess.StartSMP(0, []byte("s"), ""))
				reply, err := th.p.RespondSMP(ourName, "s") // held
				if err != nil || len(reply) == 0 {
					t.Fatalf("libotr RespondSMP = %q, %v", reply, err)
				}
				r.fromUs(r.us.sess.AbortSMP(0))
				if evs := r.libotrSMP(0); !hasSMP(evs, libotrpeer.SMPEventAbort) {
					t.Errorf("libotr SMP events %v, want Abort", evs)
				}
				r.takeEvents()
				// The stale message 2 reaches us: the spec's state machine
				// answers it with an abort, which libotr takes quietly.
				r.fromThem(0, reply, nil)
				if o := ourSMP(r.takeEvents()); o.succeeded != nil {
					t.Errorf("our outcome %+v from the stale message", o)
				}
				if evs := r.libotrSMP(0); hasSMP(evs, libotrpeer.SMPEventSuccess) {
					t.Errorf("libotr SMP events %v after the stale message", evs)
				}
			} else {
				msgs, err := th.p.StartSMP(ourName, "", "s")
				r.fromThem(0, msgs, err)
				res, err := r.us.sess.AnswerSMP(0, []byte("s")) // held
				if err != nil || len(res.Send) == 0 {
					t.Fatalf("our AnswerSMP: %d messages, %v", len(res.Send), err)
				}
				msgs, err = th.p.AbortSMP(ourName)
				r.fromThem(0, msgs, err)
				if o := ourSMP(r.takeEvents()); o.aborted == nil || !o.aborted.ByContact {
					t.Errorf("our outcome %+v, want aborted by the contact", o)
				}
				r.libotrSMP(0)
				// Our stale message 2 reaches libotr, which reports an SMP
				// error (its own reaction to an out-of-order message) and
				// answers nothing.
				for _, m := range res.Send {
					got, err := th.p.Receive(ourName, m.Text)
					if err != nil || got.Delivered || len(got.Inject) != 0 {
						t.Errorf("libotr on the stale message: %+v, %v; want nothing shown or sent", got, err)
					}
				}
				for _, e := range th.p.Events() { // drained here: the Error is expected
					if e.Kind == libotrpeer.EventSMP && e.SMP != libotrpeer.SMPEventError {
						t.Errorf("libotr event %v on the stale message, want only an SMP Error", e)
					}
				}
			}
			r.noErrors()
			checkNewSMPRun(t, r)
		})
	}
}

// checkNewSMPRun runs SMP once each way with equal secrets and expects
// success on both sides.
func checkNewSMPRun(t *testing.T, r *relay) {
	t.Helper()
	th := r.them[0]
	r.takeEvents()
	r.libotrSMP(0)
	r.fromUs(r.us.sess.StartSMP(0, []byte("again"), ""))
	msgs, err := th.p.RespondSMP(ourName, "again")
	r.fromThem(0, msgs, err)
	if o := ourSMP(r.takeEvents()); o.succeeded == nil {
		t.Errorf("our new run: %+v, want success", o)
	}
	if evs := r.libotrSMP(0); !hasSMP(evs, libotrpeer.SMPEventSuccess) {
		t.Errorf("libotr SMP events of our new run %v, want success", evs)
	}
	msgs, err = th.p.StartSMP(ourName, "", "once more")
	r.fromThem(0, msgs, err)
	r.fromUs(r.us.sess.AnswerSMP(0, []byte("once more")))
	if o := ourSMP(r.takeEvents()); o.succeeded == nil {
		t.Errorf("libotr's new run: %+v, want success", o)
	}
	if evs := r.libotrSMP(0); !hasSMP(evs, libotrpeer.SMPEventSuccess) {
		t.Errorf("libotr SMP events of its new run %v, want success", evs)
	}
	r.noErrors()
}

// Both sides announce the extra symmetric key for the same use value (and
// empty use data): each side's key equals the one its contact reports.
func TestExtraSymmetricKeySameUse(t *testing.T) {
	r := newRelay(t, setup{})
	r.fromUs(r.us.sess.Start())
	r.exchange(0, 2)
	r.takeEvents()
	r.libotrEvents(0)
	const use = 1
	for round := range 3 {
		ours, res, err := r.us.sess.ExtraSymmetricKey(0, use, nil)
		r.fromUs(res, err)
		var n int
		for _, e := range r.libotrEvents(0) {
			if e.Kind == libotrpeer.EventSymKey {
				n++
				if !bytes.Equal(e.Key[:], ours) || e.Use != use || len(e.UseData) != 0 {
					t.Errorf("round %d: libotr got key %x use %d data %q; we have %x use %d", round, e.Key, e.Use, e.UseData, ours, use)
				}
			}
		}
		if n != 1 {
			t.Errorf("round %d: libotr reported %d keys, want 1", round, n)
		}
		theirs, msgs, err := r.them[0].p.SymKey(ourName, use, nil)
		r.fromThem(0, msgs, err)
		n = 0
		for _, e := range r.takeEvents() {
			if k, ok := e.(otr.ExtraKeyEvent); ok {
				n++
				if !bytes.Equal(k.Key, theirs[:]) || k.Use != use || len(k.Data) != 0 {
					t.Errorf("round %d: we got key %x use %d data %q; libotr has %x use %d", round, k.Key, k.Use, k.Data, theirs, use)
				}
			}
		}
		if n != 1 {
			t.Errorf("round %d: we reported %d keys, want 1", round, n)
		}
		r.exchange(0, 1) // keys rotate between rounds
	}
	r.noErrors()
}

// Our heartbeat goes out only when we have sent nothing to libotr for the
// interval (60 s by default), once, and never when disabled; libotr takes
// it silently.
func TestHeartbeatBounds(t *testing.T) {
	start := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		interval time.Duration
		steps    []time.Duration // clock advances before each libotr message
		want     []int           // heartbeats we send after each
	}{
		{"default", 0, []time.Duration{59 * time.Second, 2 * time.Second, 0, 10 * time.Second}, []int{0, 1, 0, 0}},
		{"5 minutes", 5 * time.Minute, []time.Duration{61 * time.Second, 4 * time.Minute, 0}, []int{0, 1, 0}},
		{"disabled", -1, []time.Duration{time.Hour, 24 * time.Hour}, []int{0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := start
			r := newRelay(t, setup{})
			r.useAccount(&otr.MemoryHost{}, otr.Options{Now: func() time.Time { return clock }, HeartbeatInterval: tc.interval})
			r.fromUs(r.us.sess.Start())
			r.exchange(0, 2)
			r.libotrEvents(0)
			for i, step := range tc.steps {
				clock = clock.Add(step)
				before := len(r.wires)
				text := "are you there " + step.String()
				msgs, err := r.them[0].p.Send(ourName, text)
				r.fromThem(0, msgs, err)
				var fromUs int
				for _, w := range r.wires[before:] {
					if w.fromUs {
						fromUs++
					}
				}
				if fromUs != tc.want[i] {
					t.Errorf("step %d (+%v): we sent %d messages, want %d heartbeats", i, step, fromUs, tc.want[i])
				}
				if ms := messages(r.takeEvents()); len(ms) != 1 || ms[0].Text != text {
					t.Errorf("step %d: we delivered %v", i, ms)
				}
				if got := r.them[0].take(); len(got) != 0 {
					t.Errorf("step %d: libotr delivered %+v for the heartbeat", i, got)
				}
				var seen int
				for _, e := range r.libotrEvents(0) {
					if e.Kind == libotrpeer.EventMessage && e.Msg == libotrpeer.MsgEventLogHeartbeatRcvd {
						seen++
					}
				}
				if seen != tc.want[i] {
					t.Errorf("step %d: libotr logged %d received heartbeats, want %d", i, seen, tc.want[i])
				}
			}
			r.noErrors()
			r.exchange(0, 2)
		})
	}
}

func secureTrust(e *otr.SecureEvent) string {
	if e == nil {
		return "none"
	}
	return e.Trust.String()
}
