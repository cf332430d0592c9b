package fragment

import (
	"errors"
	"strings"
	"testing"
)

func f3(sender uint32, k, n uint16, piece string) Fragment {
	return Fragment{Version: 3, Sender: sender, Receiver: 0x200, K: k, N: n, Piece: piece}
}

func f4(id, sender uint32, k, n uint16, piece string) Fragment {
	return Fragment{Version: 4, ID: id, Sender: sender, Receiver: 0x200, K: k, N: n, Piece: piece}
}

type step struct {
	f        Fragment
	wantMsg  string
	wantDone bool
	wantErr  error
}

func runSteps(t *testing.T, a *Assembler, steps []step) {
	t.Helper()
	for i, s := range steps {
		msg, done, err := a.Add(s.f)
		if !errors.Is(err, s.wantErr) || (err != nil) != (s.wantErr != nil) {
			t.Fatalf("step %d: Add(%+v) error = %v, want %v", i, s.f, err, s.wantErr)
		}
		if msg != s.wantMsg || done != s.wantDone {
			t.Fatalf("step %d: Add(%+v) = %q, %v, want %q, %v", i, s.f, msg, done, s.wantMsg, s.wantDone)
		}
	}
}

func TestAssemblerOTR3(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"in order", []step{
			{f: f3(1, 1, 3, "a")}, {f: f3(1, 2, 3, "b")}, {f: f3(1, 3, 3, "c"), wantMsg: "abc", wantDone: true},
		}},
		{"single", []step{{f: f3(1, 1, 1, "abc"), wantMsg: "abc", wantDone: true}}},
		{"k 1 restarts", []step{
			{f: f3(1, 1, 3, "a")}, {f: f3(1, 2, 3, "b")},
			{f: f3(1, 1, 2, "x")}, {f: f3(1, 2, 2, "y"), wantMsg: "xy", wantDone: true},
		}},
		{"skip discards", []step{
			{f: f3(1, 1, 3, "a")}, {f: f3(1, 3, 3, "c"), wantErr: ErrDiscarded},
			{f: f3(1, 2, 3, "b"), wantErr: ErrDiscarded},
		}},
		{"duplicate discards", []step{
			{f: f3(1, 1, 3, "a")}, {f: f3(1, 2, 3, "b")}, {f: f3(1, 2, 3, "b"), wantErr: ErrDiscarded},
			{f: f3(1, 3, 3, "c"), wantErr: ErrDiscarded},
		}},
		{"changed n discards", []step{
			{f: f3(1, 1, 3, "a")}, {f: f3(1, 2, 4, "b"), wantErr: ErrDiscarded},
			{f: f3(1, 3, 3, "c"), wantErr: ErrDiscarded},
		}},
		{"no start", []step{{f: f3(1, 2, 2, "b"), wantErr: ErrDiscarded}}},
		{"senders separate", []step{
			{f: f3(1, 1, 2, "a")}, {f: f3(2, 1, 2, "x")},
			{f: f3(2, 2, 2, "y"), wantMsg: "xy", wantDone: true},
			{f: f3(1, 2, 2, "b"), wantMsg: "ab", wantDone: true},
		}},
		{"illegal keeps buffer", []step{
			{f: f3(1, 1, 2, "a")}, {f: f3(1, 0, 2, "z"), wantErr: ErrMalformed},
			{f: f3(1, 3, 2, "z"), wantErr: ErrMalformed}, {f: f3(1, 1, 2, ""), wantErr: ErrMalformed},
			{f: f3(1, 2, 2, "b,"), wantErr: ErrMalformed},
			{f: Fragment{Version: 2, Sender: 1, K: 2, N: 2, Piece: "z"}, wantErr: ErrMalformed},
			{f: f3(1, 2, 2, "b"), wantMsg: "ab", wantDone: true},
		}},
		{"v4 fragment does not touch v3 buffer", []step{
			{f: f3(1, 1, 2, "a")}, {f: f4(0, 1, 2, 2, "z")},
			{f: f3(1, 2, 2, "b"), wantMsg: "ab", wantDone: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBudget(1 << 20)
			a := NewAssembler(Limits{}, b)
			runSteps(t, a, tc.steps)
			a.Reset()
			if got := b.Used(); got != 0 {
				t.Errorf("Budget.Used() after Reset = %d, want 0", got)
			}
		})
	}
}

func TestAssemblerOTRv4(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"reverse order", []step{
			{f: f4(7, 1, 3, 3, "c")}, {f: f4(7, 1, 1, 3, "a")}, {f: f4(7, 1, 2, 3, "b"), wantMsg: "abc", wantDone: true},
		}},
		{"duplicates ignored", []step{
			{f: f4(7, 1, 2, 3, "b")}, {f: f4(7, 1, 2, 3, "b")}, {f: f4(7, 1, 2, 3, "X")},
			{f: f4(7, 1, 1, 3, "a")}, {f: f4(7, 1, 1, 3, "a")},
			{f: f4(7, 1, 3, 3, "c"), wantMsg: "abc", wantDone: true},
		}},
		{"interleaved identifiers", []step{
			{f: f4(7, 1, 2, 2, "b")}, {f: f4(8, 1, 1, 2, "x")}, {f: f4(7, 2, 1, 2, "s")},
			{f: f4(8, 1, 2, 2, "y"), wantMsg: "xy", wantDone: true},
			{f: f4(7, 1, 1, 2, "a"), wantMsg: "ab", wantDone: true},
			{f: f4(7, 2, 2, 2, "t"), wantMsg: "st", wantDone: true},
		}},
		{"changed total discards", []step{
			{f: f4(7, 1, 1, 3, "a")}, {f: f4(7, 1, 2, 2, "b"), wantErr: ErrDiscarded},
			{f: f4(7, 1, 2, 3, "b")}, {f: f4(7, 1, 3, 3, "c")},
			{f: f4(7, 1, 1, 3, "a"), wantMsg: "abc", wantDone: true},
		}},
		{"single", []step{{f: f4(7, 1, 1, 1, "abc"), wantMsg: "abc", wantDone: true}}},
		{"identifier reusable after completion", []step{
			{f: f4(7, 1, 1, 2, "a")}, {f: f4(7, 1, 2, 2, "b"), wantMsg: "ab", wantDone: true},
			{f: f4(7, 1, 2, 2, "d")}, {f: f4(7, 1, 1, 2, "c"), wantMsg: "cd", wantDone: true},
		}},
		{"illegal keeps buffer", []step{
			{f: f4(7, 1, 1, 2, "a")}, {f: f4(7, 1, 3, 2, "z"), wantErr: ErrMalformed},
			{f: f4(7, 1, 2, 2, "b"), wantMsg: "ab", wantDone: true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBudget(1 << 20)
			a := NewAssembler(Limits{}, b)
			runSteps(t, a, tc.steps)
			a.Reset()
			if got := b.Used(); got != 0 {
				t.Errorf("Budget.Used() after Reset = %d, want 0", got)
			}
		})
	}
}

func TestAssemblerFragmentLimit(t *testing.T) {
	a := NewAssembler(Limits{MaxFragment: 4}, nil)
	runSteps(t, a, []step{
		{f: f3(1, 1, 3, "aaaa")},
		{f: f3(1, 2, 3, "bbbbb"), wantErr: ErrLimit},
		{f: f3(1, 3, 3, "cccc"), wantErr: ErrDiscarded}, // the message was dropped
		{f: f4(7, 1, 1, 2, "aaaa")},
		{f: f4(7, 1, 2, 2, "bbbbb"), wantErr: ErrLimit},
		{f: f4(7, 1, 2, 2, "bbbb")}, // a new buffer: piece 1 was dropped
		{f: f4(8, 1, 1, 1, "bbbbb"), wantErr: ErrLimit},
	})
	if got := a.Incomplete(); got != 1 {
		t.Errorf("Incomplete() = %d, want 1", got)
	}
}

func TestAssemblerMessageLimit(t *testing.T) {
	b := NewBudget(1 << 20)
	a := NewAssembler(Limits{MaxMessage: 10}, b)
	runSteps(t, a, []step{
		{f: f3(1, 1, 3, "aaaa")}, {f: f3(1, 2, 3, "bbbb")},
		{f: f3(1, 3, 3, "ccc"), wantErr: ErrLimit},
		{f: f3(1, 1, 3, "aaaa")}, {f: f3(1, 2, 3, "bbbb")},
		{f: f3(1, 3, 3, "cc"), wantMsg: "aaaabbbbcc", wantDone: true},
		{f: f3(1, 1, 1, "01234567890"), wantErr: ErrLimit},
		{f: f4(7, 1, 3, 3, "cccc")}, {f: f4(7, 1, 1, 3, "aaaa")},
		{f: f4(7, 1, 2, 3, "bbb"), wantErr: ErrLimit},
		{f: f4(7, 1, 2, 3, "bb")}, // a new buffer
	})
	if got, want := a.Incomplete(), 1; got != want {
		t.Errorf("Incomplete() = %d, want %d", got, want)
	}
	if got, want := b.Used(), int64(bufferOverhead+2+pieceOverhead); got != want {
		t.Errorf("Budget.Used() = %d, want %d", got, want)
	}
	a.Reset()
	if got := b.Used(); got != 0 {
		t.Errorf("Budget.Used() after Reset = %d, want 0", got)
	}
}

func TestBudgetShared(t *testing.T) {
	piece := strings.Repeat("A", 100)
	perPiece := int64(len(piece) + pieceOverhead)
	// Room for two buffers of two pieces each, not one piece more.
	b := NewBudget(2*bufferOverhead + 4*perPiece)
	x := NewAssembler(Limits{}, b)
	y := NewAssembler(Limits{}, b)
	runSteps(t, x, []step{{f: f3(1, 1, 9, piece)}, {f: f3(1, 2, 9, piece)}})
	runSteps(t, y, []step{{f: f4(5, 1, 1, 9, piece)}, {f: f4(5, 1, 2, 9, piece)}})
	if got, want := b.Used(), b.Max(); got != want {
		t.Fatalf("Budget.Used() = %d, want %d", got, want)
	}
	// The budget is full: y's piece evicts x's message, never y's own.
	runSteps(t, y, []step{{f: f4(5, 1, 3, 9, piece)}})
	if got, want := b.Used(), y.Buffered(); got != want || x.Incomplete() != 0 || y.Incomplete() != 1 {
		t.Fatalf("after y's piece: Used() = %d, want %d; x incomplete = %d, y = %d", got, want, x.Incomplete(), y.Incomplete())
	}
	runSteps(t, x, []step{{f: f3(1, 3, 9, piece), wantErr: ErrDiscarded}})
	// A message that cannot fit in the budget alone is refused.
	runSteps(t, y, []step{
		{f: f4(5, 1, 4, 9, piece)}, {f: f4(5, 1, 5, 9, piece)},
		{f: f4(5, 1, 6, 9, piece), wantErr: ErrLimit},
	})
	if y.Incomplete() != 0 || y.Buffered() != 0 {
		t.Errorf("y holds %d messages, %d bytes after a refused message", y.Incomplete(), y.Buffered())
	}
	x.Reset()
	y.Reset()
	if got := b.Used(); got != 0 {
		t.Errorf("Budget.Used() after Reset = %d, want 0", got)
	}
}

func TestBudgetZero(t *testing.T) {
	a := NewAssembler(Limits{}, NewBudget(-5))
	runSteps(t, a, []step{
		{f: f3(1, 1, 2, "a"), wantErr: ErrLimit},
		// Whole messages need no buffering.
		{f: f3(1, 1, 1, "a"), wantMsg: "a", wantDone: true},
	})
}

func TestAssemblerMaxIncomplete(t *testing.T) {
	b := NewBudget(1 << 20)
	a := NewAssembler(Limits{MaxIncomplete: 3}, b)
	runSteps(t, a, []step{
		{f: f4(1, 9, 1, 2, "a")}, {f: f4(2, 9, 1, 2, "b")}, {f: f3(9, 1, 2, "c")},
		{f: f4(1, 9, 1, 2, "a")}, // a duplicate does not refresh
		{f: f4(2, 9, 2, 9, "x"), wantErr: ErrDiscarded},
		{f: f4(2, 9, 1, 2, "b")}, // restarts identifier 2: now the newest
		{f: f4(3, 9, 1, 2, "d")}, // evicts identifier 1
	})
	if got := a.Incomplete(); got != 3 {
		t.Fatalf("Incomplete() = %d, want 3", got)
	}
	runSteps(t, a, []step{
		{f: f4(1, 9, 2, 2, "A")}, // identifier 1 was evicted: a new buffer, evicts the OTR3 one
		{f: f3(9, 2, 2, "C"), wantErr: ErrDiscarded},
		{f: f4(2, 9, 2, 2, "B"), wantMsg: "bB", wantDone: true},
		{f: f4(3, 9, 2, 2, "D"), wantMsg: "dD", wantDone: true},
	})
	if got, want := b.Used(), a.Buffered(); got != want || a.Incomplete() != 1 {
		t.Errorf("Used() = %d, Buffered() = %d, Incomplete() = %d", got, want, a.Incomplete())
	}

	// Many distinct identifiers keep at most MaxIncomplete alive.
	a = NewAssembler(Limits{}, b)
	for id := range uint32(10000) {
		if _, _, err := a.Add(f4(id, 9, 1, 2, "piece")); err != nil {
			t.Fatalf("Add(identifier %d) error = %v", id, err)
		}
	}
	if got := a.Incomplete(); got != DefaultMaxIncomplete {
		t.Errorf("Incomplete() = %d, want %d", got, DefaultMaxIncomplete)
	}
}

func TestAssemblerSweepAndResetOTR3(t *testing.T) {
	b := NewBudget(1 << 20)
	a := NewAssembler(Limits{}, b)
	runSteps(t, a, []step{{f: f3(1, 1, 2, "a")}, {f: f4(7, 1, 1, 2, "x")}})
	if got := a.Sweep(); got != 0 {
		t.Errorf("first Sweep() = %d, want 0", got)
	}
	runSteps(t, a, []step{{f: f4(8, 1, 1, 2, "y")}})
	if got := a.Sweep(); got != 2 {
		t.Errorf("second Sweep() = %d, want 2", got)
	}
	runSteps(t, a, []step{
		{f: f3(1, 2, 2, "b"), wantErr: ErrDiscarded},
		{f: f4(8, 1, 2, 2, "z"), wantMsg: "yz", wantDone: true},
		{f: f3(1, 1, 2, "a")}, {f: f4(9, 1, 1, 2, "p")},
	})
	a.ResetOTR3()
	runSteps(t, a, []step{
		{f: f3(1, 2, 2, "b"), wantErr: ErrDiscarded},
		{f: f4(9, 1, 2, 2, "q"), wantMsg: "pq", wantDone: true},
	})
	if got := b.Used(); got != 0 {
		t.Errorf("Budget.Used() = %d, want 0", got)
	}
}

// TestAssemblerFlood feeds fragment 1 of 65535 and then many large middle
// fragments (docs/threats.md F1): the buffer stays below its caps.
func TestAssemblerFlood(t *testing.T) {
	b := NewBudget(64 << 10)
	a := NewAssembler(Limits{MaxMessage: 32 << 10}, b)
	piece := strings.Repeat("A", 1<<10)
	limits := 0
	for i := range 10000 {
		k := uint16(i%40) + 1
		_, _, err := a.Add(f3(1, k, 65535, piece))
		if errors.Is(err, ErrLimit) {
			limits++
		} else if err != nil && !errors.Is(err, ErrDiscarded) {
			t.Fatalf("Add error = %v", err)
		}
		if a.Buffered() > int64(32<<10)+33*pieceOverhead+bufferOverhead || b.Used() > b.Max() {
			t.Fatalf("buffered %d bytes, budget %d of %d", a.Buffered(), b.Used(), b.Max())
		}
	}
	if limits != 10000/40 {
		t.Errorf("%d ErrLimit reported, want %d", limits, 10000/40)
	}
}

func TestBudgetConcurrent(t *testing.T) {
	b := NewBudget(50 * (bufferOverhead + 2*(10+pieceOverhead)))
	done := make(chan struct{})
	for g := range 2 {
		go func() {
			defer func() { done <- struct{}{} }()
			a := NewAssembler(Limits{}, b)
			for i := range 2000 {
				id := uint32(i % 150)
				a.Add(f4(id, uint32(g), uint16(i/150%3)+1, 3, "0123456789"))
				if used := b.Used(); used > b.Max() {
					t.Errorf("Budget.Used() = %d above %d", used, b.Max())
					return
				}
			}
			a.Reset()
		}()
	}
	<-done
	<-done
	if got := b.Used(); got != 0 {
		t.Errorf("Budget.Used() after Reset = %d, want 0", got)
	}
	var nilBudget *Budget
	if nilBudget.Used() != 0 || nilBudget.Max() != 0 {
		t.Error("nil Budget reports non-zero use")
	}
}
