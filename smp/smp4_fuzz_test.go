package smp

import (
	"bytes"
	"errors"
	"reflect"
	"sync"
	"testing"

	"github.com/otrgo/otr/internal/vectors"
)

var (
	fuzzStatesOnce4 sync.Once
	fuzzStates4     *states4
)

// FuzzSMP4Receive feeds one arbitrary TLV to a machine in each state.
// Invariants: no panic; only a non-SMP type is an error, and it leaves the
// state unchanged; nothing but the honest next message reaches Succeeded,
// Failed or InProgress; an invalid or unexpected message resets the machine
// and yields exactly one empty abort TLV; an abort is never answered.
func FuzzSMP4Receive(f *testing.F) {
	fuzzStatesOnce4.Do(func() { fuzzStates4 = newStates4(f) })
	s := fuzzStates4
	honest := map[smp4State]uint16{smp4Expect2: TypeMsg2, smp4Expect3: TypeMsg3, smp4Expect4: TypeMsg4}
	for st := smp4Expect1; st <= smp4Expect4; st++ {
		for typ := TypeMsg1; typ <= TypeAbort; typ++ {
			f.Add(byte(st), typ, s.msg(typ))
		}
	}
	f.Add(byte(0), uint16(7), []byte{0, 0, 0, 1})
	f.Add(byte(2), TypeMsg2, s.tr.m2[:100])
	// otr4j's messages from smp.json: valid encodings, proofs for other keys.
	var file smp4VectorFile
	vectors.Load(f, "otrv4/smp.json", &file)
	for _, v := range file.Vectors {
		for _, m := range v.Messages {
			f.Add(byte(smp4Receiver[m.TLVType]), m.TLVType, []byte(m.TLVValue))
		}
	}
	f.Fuzz(func(t *testing.T, sel byte, typ uint16, payload []byte) {
		st := smp4State(sel % 5)
		m := s.machine(st)
		before := clone4(m)
		out, err := m.Receive(testRand4(99), typ, payload)
		if err != nil {
			if !errors.Is(err, ErrNotSMP) || typ >= TypeMsg1 && typ <= TypeAbort || !reflect.DeepEqual(m, before) {
				t.Fatalf("Receive error %v for type %d in state %s", err, typ, stateName4(st))
			}
			return
		}
		isHonest := honest[st] == typ && bytes.Equal(payload, s.msg(typ))
		switch out.Result {
		case Succeeded, Failed, InProgress:
			if !isHonest {
				t.Fatalf("state %s: %v from a message that is not the honest one", stateName4(st), out.Result)
			}
			if out.Result == Failed {
				t.Fatal("the honest run failed")
			}
		case NeedSecret:
			if st != smp4Expect1 && st != smp4Expect1Pending || m.state != smp4Expect1Pending || out.Reply != nil {
				t.Fatalf("NeedSecret in state %s -> %s", stateName4(st), stateName4(m.state))
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
