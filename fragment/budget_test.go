package fragment

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// pieceCost and messageCost are what a piece of n bytes and a message of
// pieces pieces of n bytes are charged.
func pieceCost(n int) int64 { return int64(n + pieceOverhead) }

func messageCost(pieces, n int) int64 { return bufferOverhead + int64(pieces)*pieceCost(n) }

// mustAdd adds f and fails the test on an error or an unexpected completion.
func mustAdd(t testing.TB, a *Assembler, f Fragment, wantDone bool) string {
	t.Helper()
	msg, done, err := a.Add(f)
	if err != nil || done != wantDone {
		t.Fatalf("Add(%+v) = complete %v, error %v; want complete %v, no error", f, done, err, wantDone)
	}
	return msg
}

func wantIncomplete(t *testing.T, name string, a *Assembler, want int) {
	t.Helper()
	if got := a.Incomplete(); got != want {
		t.Errorf("%s.Incomplete() = %d, want %d", name, got, want)
	}
}

// TestAssemblerContactLimit: one contact holds at most MaxContactBytes of
// incomplete messages, whatever it sends; its current message can still
// complete, and a message above the limit is refused.
func TestAssemblerContactLimit(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		// The flood of the finding: 250 KiB pieces on several identifiers,
		// never completed. An unlimited Budget: only the contact limit acts.
		a := NewAssembler(Limits{}, NewBudget(1<<40))
		piece := strings.Repeat("A", DefaultMaxFragment)
		for k := range uint16(5) {
			for id := range uint32(6) {
				mustAdd(t, a, f4(id, 1, k+1, 100, piece), false)
				if got := a.Buffered(); got > DefaultMaxContactBytes {
					t.Fatalf("Buffered() = %d above the default contact limit %d", got, DefaultMaxContactBytes)
				}
			}
		}
	})
	t.Run("oldest first", func(t *testing.T) {
		const n = 500
		p := strings.Repeat("p", n)
		b := NewBudget(1 << 20)
		a := NewAssembler(Limits{MaxContactBytes: int(2*messageCost(3, n) + messageCost(0, n))}, b)
		for k := range uint16(3) {
			mustAdd(t, a, f4(1, 1, k+1, 5, p), false)
			mustAdd(t, a, f4(2, 1, k+1, 5, p), false)
		}
		mustAdd(t, a, f4(3, 1, 1, 5, p), false)
		// Identifier 2's fourth piece does not fit: identifier 1, the least
		// recently updated, goes; 2 and 3 stay.
		mustAdd(t, a, f4(2, 1, 4, 5, p), false)
		wantIncomplete(t, "a", a, 2)
		if got, want := a.Buffered(), messageCost(4, n)+messageCost(1, n); got != want {
			t.Errorf("Buffered() = %d, want %d", got, want)
		}
		if got := mustAdd(t, a, f4(2, 1, 5, 5, p), true); got != strings.Repeat(p, 5) {
			t.Errorf("message 2 = %d bytes, want %d", len(got), 5*n)
		}
		mustAdd(t, a, f4(1, 1, 4, 5, p), false) // a new message: 1-3 were evicted
		wantIncomplete(t, "a", a, 2)
		if got := b.Used(); got != a.Buffered() {
			t.Errorf("Budget.Used() = %d, want %d", got, a.Buffered())
		}
	})
	t.Run("message above the limit", func(t *testing.T) {
		const n = 500
		p := strings.Repeat("p", n)
		b := NewBudget(1 << 20)
		a := NewAssembler(Limits{MaxContactBytes: int(messageCost(6, n))}, b)
		mustAdd(t, a, f3(7, 1, 2, p), false)
		for k := range uint16(6) {
			mustAdd(t, a, f4(1, 1, k+1, 9, p), false)
		}
		wantIncomplete(t, "a", a, 1) // the OTR3 message made room
		if _, _, err := a.Add(f4(1, 1, 7, 9, p)); !errors.Is(err, ErrLimit) {
			t.Fatalf("Add(seventh piece) error = %v, want ErrLimit", err)
		}
		if a.Incomplete() != 0 || a.Buffered() != 0 || b.Used() != 0 {
			t.Errorf("after a refused message: %d incomplete, %d buffered, budget %d", a.Incomplete(), a.Buffered(), b.Used())
		}
	})
	t.Run("message limit lowered", func(t *testing.T) {
		a := NewAssembler(Limits{MaxContactBytes: 1000, MaxMessage: 1 << 20}, nil)
		runSteps(t, a, []step{
			{f: f3(1, 1, 1, strings.Repeat("x", 1001)), wantErr: ErrLimit},
			{f: f3(1, 1, 1, strings.Repeat("x", 1000)), wantMsg: strings.Repeat("x", 1000), wantDone: true},
		})
	})
}

// TestBudgetEvictsHeavyContact: with the Budget full of one contact's
// pieces, another contact's message still completes; the heavy contact
// loses its least recently updated message.
func TestBudgetEvictsHeavyContact(t *testing.T) {
	const n = 1 << 10
	p := strings.Repeat("h", n)
	b := NewBudget(1 << 20)
	heavy := NewAssembler(Limits{}, b)
	// OTR3, one message per sender tag: an evicted message shows as
	// ErrDiscarded on its next piece.
	msgs := 0
fill:
	for ; ; msgs++ {
		for k := range uint16(10) {
			need := pieceCost(n)
			if k == 0 {
				need += bufferOverhead
			}
			if b.Used()+need > b.Max() {
				break fill
			}
			mustAdd(t, heavy, f3(uint32(0x100+msgs), k+1, 65535, p), false)
		}
	}
	if free := b.Max() - b.Used(); free >= messageCost(1, n) {
		t.Fatalf("budget not full: %d bytes free", free)
	}
	before := heavy.Incomplete()
	light := NewAssembler(Limits{}, b)
	for k := range uint16(3) {
		mustAdd(t, light, f4(9, 2, k+1, 3, p), k == 2)
	}
	wantIncomplete(t, "heavy", heavy, before-1)
	if _, _, err := heavy.Add(f3(0x100, 11, 65535, p)); !errors.Is(err, ErrDiscarded) {
		t.Errorf("heavy's oldest message: Add error = %v, want ErrDiscarded (evicted)", err)
	}
	mustAdd(t, heavy, f3(0x101, 11, 65535, p), false)
	if got := b.Used(); got > b.Max() || got != heavy.Buffered()+light.Buffered() {
		t.Errorf("Budget.Used() = %d, max %d, assemblers hold %d", got, b.Max(), heavy.Buffered()+light.Buffered())
	}
}

// TestBudgetManyCheapContacts: contacts each below the contact limit fill
// the Budget and keep sending; a real contact's message still completes.
func TestBudgetManyCheapContacts(t *testing.T) {
	const (
		n       = 1 << 10
		perMsg  = 4
		msgs    = 14
		cheapN  = 16
		contact = 64 << 10
	)
	p := strings.Repeat("c", n)
	b := NewBudget(1 << 20)
	cheap := make([]*Assembler, cheapN)
	for i := range cheap {
		cheap[i] = NewAssembler(Limits{MaxContactBytes: contact}, b)
		for id := range uint32(msgs) {
			for k := range uint16(perMsg) {
				mustAdd(t, cheap[i], f4(id, 1, k+1, 65535, p), false)
			}
		}
		if got := cheap[i].Buffered(); got >= contact {
			t.Fatalf("cheap contact %d holds %d bytes, want below %d", i, got, contact)
		}
	}
	if free := b.Max() - b.Used(); free >= messageCost(8, 4*n) {
		t.Fatalf("budget not full: %d bytes free", free)
	}
	real := NewAssembler(Limits{}, b)
	q := strings.Repeat("r", 4*n)
	next := uint32(msgs)
	for k := range uint16(8) {
		got := mustAdd(t, real, f4(77, 5, k+1, 8, q), k == 7)
		if k == 7 && got != strings.Repeat(q, 8) {
			t.Fatalf("real message = %d bytes, want %d", len(got), 8*len(q))
		}
		// The cheap contacts go on flooding between the real pieces; they
		// may be refused, the real contact may not.
		for _, c := range cheap {
			for k := range uint16(2) {
				if _, _, err := c.Add(f4(next, 1, k+1, 65535, p)); err != nil && !errors.Is(err, ErrLimit) {
					t.Fatalf("cheap contact: Add error = %v", err)
				}
			}
		}
		next++
		if used := b.Used(); used > b.Max() {
			t.Fatalf("Budget.Used() = %d above %d", used, b.Max())
		}
	}
}

// TestBudgetEvictsLargest: a full Budget evicts from the Assembler holding
// the most bytes, never the message the new piece belongs to.
func TestBudgetEvictsLargest(t *testing.T) {
	const n = 1000
	p := strings.Repeat("e", n)
	hold := func(a *Assembler, ids ...uint32) {
		t.Helper()
		for _, id := range ids {
			for k := range uint16(2) {
				mustAdd(t, a, f4(id, 1, k+1, 3, p), false)
			}
		}
	}
	t.Run("another contact", func(t *testing.T) {
		b := NewBudget(6*messageCost(2, n) + 100)
		x, y, z, w := NewAssembler(Limits{}, b), NewAssembler(Limits{}, b), NewAssembler(Limits{}, b), NewAssembler(Limits{}, b)
		hold(x, 1, 2)
		hold(y, 1, 2, 3)
		hold(z, 1)
		mustAdd(t, w, f4(1, 1, 1, 3, p), false)
		wantIncomplete(t, "x", x, 2)
		wantIncomplete(t, "y", y, 2)
		wantIncomplete(t, "z", z, 1)
		wantIncomplete(t, "w", w, 1)
		// y's least recently updated message (identifier 1) was the one
		// evicted: its last piece starts a new message.
		mustAdd(t, y, f4(2, 1, 3, 3, p), true)
		mustAdd(t, y, f4(1, 1, 3, 3, p), false)
	})
	t.Run("own older message", func(t *testing.T) {
		b := NewBudget(3*messageCost(2, n) + 50)
		x, y := NewAssembler(Limits{}, b), NewAssembler(Limits{}, b)
		hold(x, 1)
		hold(y, 1, 2)
		mustAdd(t, y, f4(3, 1, 1, 3, p), false)
		wantIncomplete(t, "x", x, 1)
		wantIncomplete(t, "y", y, 2)
		mustAdd(t, x, f4(1, 1, 3, 3, p), true)
		mustAdd(t, y, f4(1, 1, 3, 3, p), false) // evicted: starts over
	})
	t.Run("current message kept", func(t *testing.T) {
		b := NewBudget(messageCost(3, n) + messageCost(2, n) + 50)
		x, y := NewAssembler(Limits{}, b), NewAssembler(Limits{}, b)
		hold(x, 1)
		for k := range uint16(3) {
			mustAdd(t, y, f4(1, 1, k+1, 5, p), false)
		}
		// y holds the most, but only the message this piece belongs to.
		mustAdd(t, y, f4(1, 1, 4, 5, p), false)
		wantIncomplete(t, "x", x, 0)
		mustAdd(t, y, f4(1, 1, 5, 5, p), true)
	})
}

// TestAssemblerClose: Close releases the budget and detaches the
// Assembler; later fragments are refused.
func TestAssemblerClose(t *testing.T) {
	p := strings.Repeat("z", 100)
	b := NewBudget(1 << 20)
	x, y := NewAssembler(Limits{}, b), NewAssembler(Limits{}, b)
	mustAdd(t, x, f4(1, 1, 1, 3, p), false)
	mustAdd(t, x, f3(1, 1, 3, p), false)
	mustAdd(t, y, f4(1, 1, 1, 3, p), false)
	x.Close()
	if got, want := b.Used(), y.Buffered(); got != want || x.Buffered() != 0 || x.Incomplete() != 0 {
		t.Errorf("after Close: Used() = %d, want %d; x holds %d bytes in %d messages", got, want, x.Buffered(), x.Incomplete())
	}
	for _, f := range []Fragment{f4(1, 1, 2, 3, p), f4(2, 1, 1, 1, p), f3(1, 2, 3, p)} {
		if _, _, err := x.Add(f); !errors.Is(err, ErrClosed) {
			t.Errorf("Add(%+v) after Close error = %v, want ErrClosed", f, err)
		}
	}
	x.Close()
	y.Close()
	if got := b.Used(); got != 0 {
		t.Errorf("Budget.Used() after Close = %d, want 0", got)
	}
}

// TestBudgetConcurrentEviction runs flooding contacts, a real contact and
// a sweeper on one Budget: eviction crosses goroutines (run with -race),
// the Budget is never exceeded and every real message completes.
func TestBudgetConcurrentEviction(t *testing.T) {
	const (
		flooders = 4
		floods   = 3000
		realMsgs = 300
	)
	b := NewBudget(256 << 10)
	heavy := make([]*Assembler, flooders)
	for i := range heavy {
		heavy[i] = NewAssembler(Limits{MaxContactBytes: 128 << 10}, b)
	}
	real := NewAssembler(Limits{}, b)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	check := func() bool {
		if used := b.Used(); used > b.Max() || used < 0 {
			t.Errorf("Budget.Used() = %d, max %d", used, b.Max())
			return false
		}
		return true
	}
	for g, a := range heavy {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := strings.Repeat(string(rune('a'+g)), 512)
			for i := range floods {
				f := f4(uint32(i%50), 1, uint16(i/50)+1, 65535, p)
				if g%2 == 1 {
					f = f3(uint32(0x100+i%50), uint16(i/50)+1, 65535, p)
				}
				// A flooder may be refused; the real contact may not.
				if _, _, err := a.Add(f); err != nil && !errors.Is(err, ErrDiscarded) && !errors.Is(err, ErrLimit) {
					t.Errorf("flooder %d: Add error = %v", g, err)
					return
				}
				if !check() {
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			for _, a := range heavy {
				a.Sweep()
				a.Incomplete()
			}
			if !check() {
				return
			}
		}
	}()
	p := strings.Repeat("r", 256)
	for m := range uint32(realMsgs) {
		for k := range uint16(4) {
			msg, done, err := real.Add(f4(m, 7, 4-k, 4, p))
			if err != nil || done != (k == 3) {
				t.Fatalf("real message %d piece %d: complete %v, error %v", m, 4-k, done, err)
			}
			if done && msg != strings.Repeat(p, 4) {
				t.Fatalf("real message %d = %d bytes, want %d", m, len(msg), 4*len(p))
			}
		}
	}
	close(stop)
	wg.Wait()
	var sum int64
	for _, a := range heavy {
		sum += a.Buffered()
	}
	if got := b.Used(); got != sum+real.Buffered() {
		t.Errorf("Budget.Used() = %d, assemblers hold %d", got, sum+real.Buffered())
	}
	for _, a := range heavy {
		a.Close()
	}
	real.Close()
	if got := b.Used(); got != 0 {
		t.Errorf("Budget.Used() after Close = %d, want 0", got)
	}
}

// BenchmarkFlood: one contact sends fragments of six identifiers that never
// complete (the finding's flood), on an account Budget of 32 MiB.
// retained-B is what the contact holds at the end, peak-B the most it held.
func BenchmarkFlood(b *testing.B) {
	for _, size := range []int{1 << 10, DefaultMaxFragment} {
		b.Run(fmt.Sprintf("piece=%d", size), func(b *testing.B) {
			budget := NewBudget(32 << 20)
			a := NewAssembler(Limits{}, budget)
			piece := strings.Repeat("A", size)
			var i int
			var peak int64
			b.ReportAllocs()
			b.SetBytes(int64(size))
			for b.Loop() {
				a.Add(f4(uint32(i%6), 1, uint16(i/6%65534)+1, 65535, piece))
				peak = max(peak, a.Buffered())
				i++
			}
			b.ReportMetric(float64(a.Buffered()), "retained-B")
			b.ReportMetric(float64(peak), "peak-B")
		})
	}
}
