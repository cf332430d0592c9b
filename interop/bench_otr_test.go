package interop

import (
	"strings"
	"testing"

	"github.com/otrgo/otr"
)

// The benchmarks of this file run our library through the same operations
// as bench_libotr_test.go runs libotr, so that one
// `go test -run '^$' -bench .` gives both sides:
//
//	BenchmarkOursAKE                  vs BenchmarkLibotrAKE
//	BenchmarkOursDataMessage/*        vs BenchmarkLibotrDataMessage/*        (ping-pong: every message turns the D-H ratchet)
//	BenchmarkOursDataMessageOneWay/*  vs BenchmarkLibotrDataMessageOneWay/*  (one direction: no new D-H key)
//	BenchmarkOursSMP                  vs BenchmarkLibotrSMP
//
// BenchmarkRatio (bench_ratio_test.go) runs each pair interleaved and
// reports the ratio directly.

// ourPair is two of our accounts talking directly.
type ourPair struct {
	tb   testing.TB
	a, b *otr.Session
	last string
}

func newOurPair(tb testing.TB, seed uint64) *ourPair {
	tb.Helper()
	mk := func(name, contact string, s uint64) *otr.Session {
		// OTR3 only: these benchmarks compare with libotr, which speaks OTR3.
		acct, err := otr.NewAccount(name, keysForUs(tb), &otr.MemoryHost{}, &otr.Options{Rand: seeded(s), Policy: otr.DefaultPolicy &^ otr.AllowV4})
		if err != nil {
			tb.Fatal(err)
		}
		return acct.Session(contact)
	}
	return &ourPair{tb: tb, a: mk(ourName, theirName, seed), b: mk(theirName, ourName, seed+1)}
}

// deliver carries msgs from one session to the other and the answers back.
func (p *ourPair) deliver(from, to *otr.Session, msgs []otr.Message) {
	for len(msgs) > 0 {
		var next []otr.Message
		for _, m := range msgs {
			res, err := to.Receive(m.Text)
			if err != nil {
				p.tb.Fatal(err)
			}
			for _, ev := range res.Events {
				if m, ok := ev.(otr.MessageEvent); ok {
					p.last = m.Text
				}
			}
			next = append(next, res.Send...)
		}
		from, to, msgs = to, from, next
	}
}

func (p *ourPair) ake() {
	res, err := p.a.Start()
	if err != nil {
		p.tb.Fatal(err)
	}
	p.deliver(p.a, p.b, res.Send)
	if p.a.Status(0) != otr.Encrypted || p.b.Status(0) != otr.Encrypted {
		p.tb.Fatal("AKE did not finish")
	}
}

func (p *ourPair) send(from, to *otr.Session, text string) {
	res, err := from.Send(0, text)
	if err != nil {
		p.tb.Fatal(err)
	}
	p.deliver(from, to, res.Send)
}

// ourOp returns one unit of the benchmark kind on our library (see
// benchKinds), and a check to run after the last unit.
func ourOp(tb testing.TB, kind string, size int) (op, check func()) {
	if kind == "AKE" {
		keysForUs(tb)
		seed := uint64(1000)
		return func() {
			seed += 2
			newOurPair(tb, seed).ake()
		}, func() {}
	}
	p := newOurPair(tb, 1)
	p.ake()
	text := strings.Repeat("x", size)
	check = func() {
		if p.last != text {
			tb.Fatal("text not delivered")
		}
	}
	i := 0
	switch kind {
	case "DataMessage":
		op = func() {
			if i%2 == 0 {
				p.send(p.a, p.b, text)
			} else {
				p.send(p.b, p.a, text)
			}
			i++
		}
	case "DataMessageOneWay":
		op = func() { p.send(p.a, p.b, text) }
	case "SMP":
		op = func() {
			res, err := p.a.StartSMP(0, []byte("shared secret"), "")
			if err != nil {
				tb.Fatal(err)
			}
			p.deliver(p.a, p.b, res.Send)
			res, err = p.b.AnswerSMP(0, []byte("shared secret"))
			if err != nil {
				tb.Fatal(err)
			}
			p.deliver(p.b, p.a, res.Send)
		}
		check = func() {}
	default:
		tb.Fatalf("unknown benchmark kind %q", kind)
	}
	return op, check
}

func BenchmarkOursAKE(b *testing.B) { runBench(b, ourOp, "AKE") }

func BenchmarkOursDataMessage(b *testing.B) { runBench(b, ourOp, "DataMessage") }

func BenchmarkOursDataMessageOneWay(b *testing.B) { runBench(b, ourOp, "DataMessageOneWay") }

// BenchmarkOursSMP runs one full SMP (both sides), as BenchmarkLibotrSMP.
func BenchmarkOursSMP(b *testing.B) { runBench(b, ourOp, "SMP") }
