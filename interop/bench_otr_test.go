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

func BenchmarkOursAKE(b *testing.B) {
	keysForUs(b)
	seed := uint64(1000)
	for b.Loop() {
		seed += 2
		newOurPair(b, seed).ake()
	}
}

func BenchmarkOursDataMessage(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"100B", 100}, {"10KiB", 10 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			p := newOurPair(b, 1)
			p.ake()
			text := strings.Repeat("x", size.n)
			b.SetBytes(int64(size.n))
			i := 0
			for b.Loop() {
				if i%2 == 0 {
					p.send(p.a, p.b, text)
				} else {
					p.send(p.b, p.a, text)
				}
				i++
			}
			if p.last != text {
				b.Fatal("text not delivered")
			}
		})
	}
}

func BenchmarkOursDataMessageOneWay(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"100B", 100}, {"10KiB", 10 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			p := newOurPair(b, 1)
			p.ake()
			text := strings.Repeat("x", size.n)
			b.SetBytes(int64(size.n))
			for b.Loop() {
				p.send(p.a, p.b, text)
			}
			if p.last != text {
				b.Fatal("text not delivered")
			}
		})
	}
}

func BenchmarkLibotrDataMessageOneWay(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"100B", 100}, {"10KiB", 10 << 10}} {
		b.Run(size.name, func(b *testing.B) {
			pr := newLibotrPair(b)
			pr.ake()
			text := strings.Repeat("x", size.n)
			b.SetBytes(int64(size.n))
			for b.Loop() {
				msgs, err := pr.a.Send(pr.bName, text)
				if err != nil {
					b.Fatal(err)
				}
				pr.fromA(msgs)
			}
			if pr.lastAB != text {
				b.Fatal("text not delivered")
			}
		})
	}
}

// BenchmarkOursSMP runs one full SMP (both sides), as BenchmarkLibotrSMP.
func BenchmarkOursSMP(b *testing.B) {
	p := newOurPair(b, 1)
	p.ake()
	for b.Loop() {
		res, err := p.a.StartSMP(0, []byte("shared secret"), "")
		if err != nil {
			b.Fatal(err)
		}
		p.deliver(p.a, p.b, res.Send)
		res, err = p.b.AnswerSMP(0, []byte("shared secret"))
		if err != nil {
			b.Fatal(err)
		}
		p.deliver(p.b, p.a, res.Send)
	}
}
