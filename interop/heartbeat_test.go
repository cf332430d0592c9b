package interop

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/interop/libotrpeer"
)

// libotr's own heartbeat (otr3_test.go's TestHeartbeat covers ours).
// libotr sends it from otrl_message_receiving after it decrypts a data
// message when its context's lastsent is more than 60 seconds old
// (docs/interop.md, "Heartbeat"): an empty data message flagged
// IGNORE_UNREADABLE. libotr reads time(NULL), so instead of waiting the
// test moves lastsent back with Peer.AgeLastSent. OTR3 spec, "Receiving a
// Data Message": we take it silently, with no error, nothing for the user
// and no answer, and the session goes on.
func TestLibotrHeartbeat(t *testing.T) {
	// Our clock stands still: our last sending stays recent, so we owe
	// libotr no heartbeat of ours in return.
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	r := newRelay(t, setup{now: func() time.Time { return clock }})
	r.fromUs(r.us.sess.Start())
	r.checkSecure(0)
	r.exchange(0, 2)
	r.libotrEvents(0)
	r.takeEvents()
	th := r.them[0]
	tag := th.p.InstanceTag()

	if n := th.p.AgeLastSent(ourName, 61*time.Second); n == 0 {
		t.Fatal("libotr has no context to age")
	}
	before := len(r.wires)
	r.fromUs(r.us.sess.Send(tag, "ping"))

	if got := th.take(); len(got) != 1 || got[0].Text != "ping" || !got[0].Encrypted {
		t.Fatalf("libotr delivered %+v, want %q encrypted", got, "ping")
	}
	var fromUs int
	var beats []string
	for _, w := range r.wires[before:] {
		if w.fromUs {
			fromUs++
		} else {
			beats = append(beats, w.text)
		}
	}
	// Our ping is the only message of ours: nothing answers the heartbeat.
	if fromUs != 1 {
		t.Errorf("we sent %d messages, want only our own one", fromUs)
	}
	// The heartbeat must be on the wire, else the rest proves nothing.
	if len(beats) != 1 || !strings.HasPrefix(beats[0], "?OTR:AAMD") {
		t.Fatalf("libotr sent %.40q, want one OTR3 data message (its heartbeat)", beats)
	}
	var logged bool
	for _, e := range r.libotrEvents(0) {
		logged = logged || (e.Kind == libotrpeer.EventMessage && e.Msg == libotrpeer.MsgEventLogHeartbeatSent)
	}
	if !logged {
		t.Error("libotr did not log a sent heartbeat")
	}

	// The relay gave the heartbeat to our Receive: no error and no event
	// at all (no MessageEvent, not even an empty one).
	r.noErrors()
	if evs := r.takeEvents(); len(evs) != 0 {
		t.Errorf("we produced events %v for libotr's heartbeat, want none", evs)
	}
	if info, ok := r.us.sess.Instance(tag); !ok || info.Status != otr.Encrypted {
		t.Fatalf("our instance %#x after the heartbeat: %+v (known %v), want encrypted", tag, info, ok)
	}
	// We decrypted it, not merely ignored it as unreadable: its counter
	// is spent, so the same message again is a replay.
	res, err := r.us.sess.Receive(beats[0])
	if !errors.Is(err, otr.ErrReplay) {
		t.Errorf("the heartbeat again: %v, want ErrReplay", err)
	}
	if len(res.Events) != 0 || len(res.Send) != 0 {
		t.Errorf("the heartbeat again gave events %v and %d messages, want nothing (IGNORE_UNREADABLE)", res.Events, len(res.Send))
	}

	// The session goes on, a message each way.
	r.checkSecure(0)
	r.exchange(0, 2)
}
