package interop

import (
	"strings"
	"testing"

	"github.com/otrgo/otr/interop/libotrpeer"
)

// libotrPair is two libotr peers talking directly, for benchmarks.
type libotrPair struct {
	tb     testing.TB
	a, b   *libotrpeer.Peer
	aName  string
	bName  string
	lastAB string // last text delivered to b
	lastBA string // last text delivered to a
}

func newLibotrPair(tb testing.TB) *libotrPair {
	tb.Helper()
	pr := &libotrPair{tb: tb, aName: "alice@example.org", bName: "bob@example.org"}
	pr.a = newLibotrPeer(tb, libotrpeer.Options{Account: pr.aName})
	pr.b = newLibotrPeer(tb, libotrpeer.Options{Account: pr.bName})
	return pr
}

func newLibotrPeer(tb testing.TB, o libotrpeer.Options) *libotrpeer.Peer {
	tb.Helper()
	p, err := libotrpeer.New(o)
	if err != nil {
		tb.Fatalf("libotrpeer.New: %v", err)
	}
	tb.Cleanup(p.Close)
	return p
}

// fromA delivers messages sent by a to b, and everything that answers
// them, until both are quiet.
func (pr *libotrPair) fromA(msgs []string) { pr.pump(msgs, nil) }

// fromB delivers messages sent by b to a, and the answers.
func (pr *libotrPair) fromB(msgs []string) { pr.pump(nil, msgs) }

func (pr *libotrPair) pump(toB, toA []string) {
	for len(toA) > 0 || len(toB) > 0 {
		var nextA, nextB []string
		for _, m := range toB {
			r, err := pr.b.Receive(pr.aName, m)
			if err != nil {
				pr.tb.Fatal(err)
			}
			if r.Delivered {
				pr.lastAB = r.Text
			}
			nextA = append(nextA, r.Inject...)
		}
		for _, m := range toA {
			r, err := pr.a.Receive(pr.bName, m)
			if err != nil {
				pr.tb.Fatal(err)
			}
			if r.Delivered {
				pr.lastBA = r.Text
			}
			nextB = append(nextB, r.Inject...)
		}
		toA, toB = nextA, nextB
	}
}

func (pr *libotrPair) ake() {
	pr.fromA([]string{pr.a.Query()})
	if !pr.a.Secure(pr.bName) || !pr.b.Secure(pr.aName) {
		pr.tb.Fatal("libotr AKE did not finish")
	}
}

// libotrOp returns one unit of the benchmark kind on libotr (see
// benchKinds), and a check to run after the last unit.
func libotrOp(tb testing.TB, kind string, size int) (op, check func()) {
	pr := newLibotrPair(tb)
	if kind == "AKE" {
		return func() {
			pr.ake()
			// Fresh contexts for the next round.
			pr.a.Forget(pr.bName)
			pr.b.Forget(pr.aName)
		}, func() {}
	}
	pr.ake()
	text := strings.Repeat("x", size)
	check = func() {
		if pr.lastAB != text {
			tb.Fatalf("bob got %d bytes, want the text", len(pr.lastAB))
		}
	}
	sendA := func() {
		msgs, err := pr.a.Send(pr.bName, text)
		if err != nil {
			tb.Fatal(err)
		}
		pr.fromA(msgs)
	}
	i := 0
	switch kind {
	case "DataMessage":
		op = func() {
			// Ping-pong: every reply carries a new DH key, so keys
			// rotate as they do in a conversation.
			if i%2 == 0 {
				sendA()
			} else {
				msgs, err := pr.b.Send(pr.aName, text)
				if err != nil {
					tb.Fatal(err)
				}
				pr.fromB(msgs)
			}
			i++
		}
	case "DataMessageOneWay":
		op = sendA
	case "SMP":
		op = func() {
			msgs, err := pr.a.StartSMP(pr.bName, "", "shared secret")
			if err != nil {
				tb.Fatal(err)
			}
			pr.fromA(msgs)
			msgs, err = pr.b.RespondSMP(pr.aName, "shared secret")
			if err != nil {
				tb.Fatal(err)
			}
			pr.fromB(msgs)
			if evs := pr.a.Events(); !smpSucceeded(evs) {
				tb.Fatalf("alice events %v, want SMP success", evs)
			}
			pr.b.Events()
		}
		check = func() {}
	default:
		tb.Fatalf("unknown benchmark kind %q", kind)
	}
	return op, check
}

func BenchmarkLibotrAKE(b *testing.B) { runBench(b, libotrOp, "AKE") }

func BenchmarkLibotrDataMessage(b *testing.B) { runBench(b, libotrOp, "DataMessage") }

func BenchmarkLibotrDataMessageOneWay(b *testing.B) { runBench(b, libotrOp, "DataMessageOneWay") }

func BenchmarkLibotrSMP(b *testing.B) { runBench(b, libotrOp, "SMP") }

func smpSucceeded(evs []libotrpeer.Event) bool {
	for _, e := range evs {
		if e.Kind == libotrpeer.EventSMP && e.SMP == libotrpeer.SMPEventSuccess {
			return true
		}
	}
	return false
}
