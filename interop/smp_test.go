package interop

import (
	"fmt"
	"testing"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/interop/libotrpeer"
)

// smpOutcome collects what our side reported during an SMP run.
type smpOutcome struct {
	question  *otr.SMPQuestionEvent
	succeeded *otr.SMPSucceededEvent
	failed    *otr.SMPFailedEvent
	aborted   *otr.SMPAbortedEvent
}

func ourSMP(evs []otr.Event) smpOutcome {
	var o smpOutcome
	for _, e := range evs {
		switch e := e.(type) {
		case otr.SMPQuestionEvent:
			o.question = &e
		case otr.SMPSucceededEvent:
			o.succeeded = &e
		case otr.SMPFailedEvent:
			o.failed = &e
		case otr.SMPAbortedEvent:
			o.aborted = &e
		}
	}
	return o
}

// libotrSMP returns the SMP events libotr instance i reported.
func (r *relay) libotrSMP(i int) []libotrpeer.Event {
	var out []libotrpeer.Event
	for _, e := range r.libotrEvents(i) {
		if e.Kind == libotrpeer.EventSMP {
			out = append(out, e)
		}
	}
	return out
}

func hasSMP(evs []libotrpeer.Event, want libotrpeer.SMPEvent) bool {
	for _, e := range evs {
		if e.SMP == want {
			return true
		}
	}
	return false
}

// The SMP against libotr: either side starts, with or without a question,
// with equal and with different secrets.
func TestSMP(t *testing.T) {
	for _, starter := range []string{"us", "libotr"} {
		for _, question := range []string{"", "Where did we first meet? ✓"} {
			for _, match := range []bool{true, false} {
				name := fmt.Sprintf("%s/question=%v/match=%v", starter, question != "", match)
				t.Run(name, func(t *testing.T) {
					testSMP(t, starter == "us", question, match)
				})
			}
		}
	}
}

func testSMP(t *testing.T, weStart bool, question string, match bool) {
	r := newRelay(t, setup{})
	r.fromUs(r.us.sess.Start())
	r.exchange(0, 3) // keys have rotated
	r.takeEvents()
	r.libotrEvents(0)
	th := r.them[0]
	secretA, secretB := "our shared secret 🔑", "our shared secret 🔑"
	if !match {
		secretB = "a different secret"
	}
	ask := libotrpeer.SMPEventAskForSecret
	if question != "" {
		ask = libotrpeer.SMPEventAskForAnswer
	}
	if weStart {
		r.fromUs(r.us.sess.StartSMP(0, []byte(secretA), question))
		evs := r.libotrSMP(0)
		if len(evs) != 1 || evs[0].SMP != ask || evs[0].Text != question {
			t.Fatalf("libotr SMP events %v, want %v with our question", evs, ask)
		}
		msgs, err := th.p.RespondSMP(ourName, secretB)
		r.fromThem(0, msgs, err)
	} else {
		msgs, err := th.p.StartSMP(ourName, question, secretA)
		r.fromThem(0, msgs, err)
		o := ourSMP(r.takeEvents())
		if o.question == nil || o.question.Question != question || o.question.HasQuestion != (question != "") ||
			o.question.Instance != th.p.InstanceTag() {
			t.Fatalf("our question event %+v, want %q from %#x", o.question, question, th.p.InstanceTag())
		}
		r.fromUs(r.us.sess.AnswerSMP(0, []byte(secretB)))
	}
	r.noErrors()
	o := ourSMP(r.takeEvents())
	evs := r.libotrSMP(0)
	if match {
		if o.succeeded == nil || o.failed != nil {
			t.Errorf("our outcome %+v, want success", o)
		} else if got, want := o.succeeded.Fingerprint.String(), th.p.Fingerprint(); got != want {
			t.Errorf("SMP verified %s, libotr's fingerprint is %s", got, want)
		}
		if !hasSMP(evs, libotrpeer.SMPEventSuccess) || hasSMP(evs, libotrpeer.SMPEventFailure) {
			t.Errorf("libotr SMP events %v, want success", evs)
		}
	} else {
		if o.failed == nil || o.failed.Protocol || o.succeeded != nil {
			t.Errorf("our outcome %+v, want failure (secrets differ)", o)
		}
		if !hasSMP(evs, libotrpeer.SMPEventFailure) || hasSMP(evs, libotrpeer.SMPEventSuccess) {
			t.Errorf("libotr SMP events %v, want failure", evs)
		}
	}
	// libotr marks the fingerprint "smp" on success, except on the
	// answering side of a run with a question.
	wantTrust := ""
	if match && (!weStart || question == "") {
		wantTrust = "smp"
	}
	if got := th.p.Trust(ourName); got != wantTrust {
		t.Errorf("libotr trust %q, want %q", got, wantTrust)
	}
	// The session goes on.
	r.exchange(0, 2)
}

// An SMP run aborted by either side is reported on the other, and a new
// run then succeeds.
func TestSMPAbort(t *testing.T) {
	for _, aborter := range []string{"us", "libotr"} {
		t.Run(aborter, func(t *testing.T) {
			r, th := newSecureRelay(t)
			if aborter == "us" {
				msgs, err := th.p.StartSMP(ourName, "", "s")
				r.fromThem(0, msgs, err)
				r.fromUs(r.us.sess.AbortSMP(0))
				if evs := r.libotrSMP(0); !hasSMP(evs, libotrpeer.SMPEventAbort) {
					t.Errorf("libotr SMP events %v, want Abort", evs)
				}
			} else {
				r.fromUs(r.us.sess.StartSMP(0, []byte("s"), ""))
				msgs, err := th.p.AbortSMP(ourName)
				r.fromThem(0, msgs, err)
				if o := ourSMP(r.takeEvents()); o.aborted == nil || !o.aborted.ByContact {
					t.Errorf("our outcome %+v, want aborted by the contact", o)
				}
			}
			r.takeEvents()
			r.libotrSMP(0)
			r.noErrors()

			r.fromUs(r.us.sess.StartSMP(0, []byte("again"), ""))
			msgs, err := th.p.RespondSMP(ourName, "again")
			r.fromThem(0, msgs, err)
			if o := ourSMP(r.takeEvents()); o.succeeded == nil {
				t.Errorf("SMP after the abort: %+v, want success", o)
			}
			if evs := r.libotrSMP(0); !hasSMP(evs, libotrpeer.SMPEventSuccess) {
				t.Errorf("libotr SMP events after the abort %v, want success", evs)
			}
			r.noErrors()
		})
	}
}

// With two libotr instances of one account, an SMP run goes to the
// instance we name and is bound to that instance's session.
func TestSMPWithOneOfTwoInstances(t *testing.T) {
	r := newRelay(t, setup{instances: 2})
	r.fromUs(r.us.sess.Start())
	r.checkSecure(0)
	r.checkSecure(1)
	r.libotrEvents(0)
	r.libotrEvents(1)
	second := r.them[1]
	r.fromUs(r.us.sess.StartSMP(second.p.InstanceTag(), []byte("device two"), ""))
	if evs := r.libotrSMP(0); len(evs) != 0 {
		t.Errorf("the first instance saw SMP events %v", evs)
	}
	if evs := r.libotrSMP(1); !hasSMP(evs, libotrpeer.SMPEventAskForSecret) {
		t.Fatalf("the second instance's SMP events %v, want AskForSecret", evs)
	}
	msgs, err := second.p.RespondSMP(ourName, "device two")
	r.fromThem(1, msgs, err)
	o := ourSMP(r.takeEvents())
	if o.succeeded == nil || o.succeeded.Instance != second.p.InstanceTag() {
		t.Errorf("our outcome %+v, want success with %#x", o, second.p.InstanceTag())
	}
	if evs := r.libotrSMP(1); !hasSMP(evs, libotrpeer.SMPEventSuccess) {
		t.Errorf("the second instance's SMP events %v, want success", evs)
	}
	r.noErrors()
}

// newSecureRelay returns a relay whose OTR3 session with one libotr peer
// (returned too) is encrypted, with the events of getting there taken.
func newSecureRelay(t testing.TB) (*relay, *theirs) {
	t.Helper()
	r := newRelay(t, setup{})
	r.fromUs(r.us.sess.Start())
	r.checkSecure(0)
	r.takeEvents()
	r.libotrEvents(0)
	return r, r.them[0]
}
