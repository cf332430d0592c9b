package smp

import (
	"bytes"
	"errors"
	"sync"
	"testing"
)

var (
	fuzzStatesOnce3 sync.Once
	fuzzStates3     *states3
)

// FuzzSMP3Receive feeds one arbitrary TLV to a machine in each state.
// Invariants: no panic; only a non-SMP type is an error, and it leaves the
// state unchanged; nothing but the honest next message reaches Succeeded or
// a valid transition; an invalid or unexpected message resets the machine
// and yields exactly one abort TLV; an abort is never answered.
func FuzzSMP3Receive(f *testing.F) {
	fuzzStatesOnce3.Do(func() { fuzzStates3 = newStates3(f) })
	s := fuzzStates3
	honest := map[state3]struct {
		typ uint16
		val []byte
	}{
		expect2: {TypeMsg2, s.tr.m2},
		expect3: {TypeMsg3, s.tr.m3},
		expect4: {TypeMsg4, s.tr.m4},
	}
	f.Add(byte(0), TypeMsg1, s.tr.m1)
	f.Add(byte(0), TypeMsg1Q, s.other.m1)
	f.Add(byte(1), TypeMsg2, s.tr.m2)
	f.Add(byte(2), TypeMsg2, s.tr.m2)
	f.Add(byte(3), TypeMsg3, s.tr.m3)
	f.Add(byte(4), TypeMsg4, s.tr.m4)
	f.Add(byte(4), TypeAbort, []byte{})
	f.Add(byte(2), uint16(1), []byte{})
	f.Add(byte(3), TypeMsg3, []byte{0, 0, 0, 8})
	f.Fuzz(func(t *testing.T, sel byte, typ uint16, payload []byte) {
		st := state3(sel % 5)
		m := s.machine(t, st)
		out, err := m.Receive(testRand3(99), typ, payload)
		if err != nil {
			if !errors.Is(err, ErrNotSMP) || typ >= TypeMsg1 && typ <= TypeMsg1Q || m.state != st {
				t.Fatalf("Receive error %v for type %d, state %v -> %v", err, typ, st, m.state)
			}
			return
		}
		h, hasHonest := honest[st]
		isHonest := hasHonest && typ == h.typ && bytes.Equal(payload, h.val)
		switch out.Result {
		case Succeeded, Failed, InProgress:
			if !isHonest {
				t.Fatalf("state %v: %v from a message that is not the honest one", st, out.Result)
			}
			if out.Result == Failed {
				t.Fatal("the honest run failed")
			}
		case NeedSecret:
			if st != expect1 && st != expect1Pending || m.state != expect1Pending {
				t.Fatalf("NeedSecret in state %v -> %v", st, m.state)
			}
		case Cheated, Unexpected:
			if out.Reply == nil || out.Reply.Type != TypeAbort || len(out.Reply.Value) != 0 || m.InProgress() {
				t.Fatalf("%v: reply %+v, in progress %v", out.Result, out.Reply, m.InProgress())
			}
			if isHonest {
				t.Fatal("the honest message was rejected")
			}
		case Aborted, Ignored:
			if typ != TypeAbort || out.Reply != nil || m.InProgress() {
				t.Fatalf("%v for type %d, reply %+v", out.Result, typ, out.Reply)
			}
		default:
			t.Fatalf("result %v", out.Result)
		}
		if typ == TypeAbort && out.Reply != nil {
			t.Fatal("an abort was answered")
		}
	})
}
