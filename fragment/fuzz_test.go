package fragment

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

var canonical = regexp.MustCompile(`^\?OTR\|[0-9a-f]{8}\|[0-9a-f]{8}(\|[0-9a-f]{8})?,[0-9]{5},[0-9]{5},[^,]+,$`)

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMDJ+MVmSfjFZcAAAAA,",
		"?OTR|3c5b5f03|5a73a599|27e31597,00002,00003,jPEWAJ6gBXvZrY6ZQrx3gb4v0,",
		"?OTR|100|0,1,2,abc,",
		"?OTR|1|2,65536,65535,p,",
		"?OTR|1|2,1,2,piece",
		"?OTR,1,2,abc,",
		"?OTR|48f4f279|d66418fc,00068,00068,,", // twstrike/otr3's empty last piece
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		frag, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse(%q) error = %v, want ErrMalformed", s, err)
			}
			if frag != (Fragment{}) {
				t.Fatalf("Parse(%q) returned %+v with an error", s, frag)
			}
			return
		}
		out := frag.String()
		if canonical.MatchString(s) && out != s {
			t.Fatalf("Parse(%q).String() = %q, want the input", s, out)
		}
		again, err := Parse(out)
		if err != nil || again != frag {
			t.Fatalf("Parse(String()) = %+v, %v, want %+v", again, err, frag)
		}
		if len(out) > len(s)+29 {
			t.Fatalf("canonical form %q much longer than %q", out, s)
		}
	})
}

// fz encodes one Add step of FuzzReassemble: Assembler asm (0-2), version
// v, sender s (0-3), identifier id (0-7), k and n (0-15), piece size (0-15).
func fz(asm, v, s, id, k, n, size int) []byte {
	return []byte{byte(s<<2 | (v-3)<<1), byte(asm<<6 | id), byte(k<<4 | n), byte(size)}
}

// FuzzReassemble drives three Assemblers sharing a Budget with fragments and
// calls decoded from the input, and checks the limits after every step.
//
// Each step is 4 bytes: op, idb, kn, size. The Assembler is
// (op&1 + idb>>6) % 3; op>>4 is 0xf Reset, 0xe Sweep, 0xd ResetOTR3,
// 0xc Close (then a new Assembler takes its place), else Add of a fragment
// of version 3+(op>>1&1), sender op>>2&3, identifier idb&7, k kn>>4,
// n kn&15 and a piece of size&15 copies of letter idb>>3&7.
func FuzzReassemble(f *testing.F) {
	f.Add([]byte{0x00, 0x00, 0x12, 0x05, 0x00, 0x10, 0x22, 0x05, 0x00, 0x10, 0x32, 0x05})
	f.Add([]byte{0x01, 0x07, 0x33, 0x05, 0x01, 0x07, 0x13, 0x05, 0x01, 0x07, 0x23, 0x05, 0x01, 0x07, 0x23, 0x05})
	f.Add([]byte{0x00, 0x00, 0x1f, 0x0f, 0x00, 0x00, 0x2f, 0x0f, 0x00, 0x00, 0x3f, 0x0f, 0xf0, 0x00, 0x00, 0x00})
	f.Add(append([]byte{0xe1}, []byte(strings.Repeat("\x01\x03\x18\x08", 30))...))
	// Every Assembler fills its contact limit with messages of 3 pieces
	// (436 bytes each, two fit in 900): contact evictions, then Budget
	// evictions across Assemblers, then the largest holder adds again.
	var fill []byte
	for asm := range 3 {
		for id := range 3 {
			for k := 1; k <= 3; k++ {
				fill = append(fill, fz(asm, 4, 1, id, k, 4, 12)...)
			}
		}
	}
	fill = append(fill, fz(2, 4, 1, 2, 4, 4, 12)...)
	fill = append(fill, fz(0, 3, 2, 0, 1, 9, 12)...)
	f.Add(fill)
	// Assembler 0 grows one message until it holds the most while the
	// Budget is full: the next largest holder gives way.
	var largest []byte
	for k := 1; k <= 3; k++ {
		largest = append(largest, fz(1, 4, 1, 0, k, 4, 12)...)
		largest = append(largest, fz(2, 4, 1, 0, k, 4, 12)...)
		largest = append(largest, fz(2, 4, 1, 1, k, 4, 12)...)
	}
	largest = append(largest, fz(1, 4, 1, 1, 1, 4, 1)...)
	for k := 1; k <= 13; k++ {
		largest = append(largest, fz(0, 4, 0, 0, k, 15, 1+k%2)...)
	}
	f.Add(largest)
	// A message above the contact limit, then a Close and reuse.
	var big []byte
	for k := 1; k <= 14; k++ {
		big = append(big, fz(2, 4, 0, 1, k, 15, 1)...)
	}
	big = append(big, fz(1, 3, 0, 0, 1, 3, 9)...)
	big = append(big, 0xc1, 0x00, 0x00, 0x00) // Close Assembler 1
	big = append(big, fz(1, 3, 0, 0, 2, 3, 9)...)
	f.Add(big)
	const (
		maxFragment   = 12
		maxMessage    = 40
		maxIncomplete = 3
		maxContact    = 900
		budgetMax     = 2000
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		budget := NewBudget(budgetMax)
		l := Limits{MaxFragment: maxFragment, MaxMessage: maxMessage, MaxIncomplete: maxIncomplete, MaxContactBytes: maxContact}
		as := [3]*Assembler{NewAssembler(l, budget), NewAssembler(l, budget), NewAssembler(l, budget)}
		var closed []*Assembler
		for len(data) >= 4 {
			op, idb, kn, size := data[0], data[1], data[2], data[3]
			data = data[4:]
			i := (int(op&1) + int(idb>>6)) % 3
			a := as[i]
			switch op >> 4 {
			case 0xf:
				a.Reset()
			case 0xe:
				a.Sweep()
			case 0xd:
				a.ResetOTR3()
			case 0xc:
				a.Close()
				if _, _, err := a.Add(f3(1, 1, 2, "x")); !errors.Is(err, ErrClosed) {
					t.Fatalf("Add after Close error = %v, want ErrClosed", err)
				}
				closed = append(closed, a)
				as[i] = NewAssembler(l, budget)
			default:
				frag := Fragment{
					Version: 3 + int(op>>1&1),
					Sender:  uint32(op >> 2 & 3),
					ID:      uint32(idb & 7),
					K:       uint16(kn >> 4),
					N:       uint16(kn & 0xf),
					Piece:   strings.Repeat(string(rune('a'+idb>>3&7)), int(size&0xf)),
				}
				if frag.Version == 3 {
					frag.ID = 0
				}
				k := key{version: uint8(frag.Version), sender: frag.Sender, id: frag.ID}
				cost, n, used := a.Buffered(), a.Incomplete(), budget.Used()
				msg, done, err := a.Add(frag)
				if err != nil && (done || msg != "") {
					t.Fatalf("Add(%+v) = %q, %v, %v", frag, msg, done, err)
				}
				if err == nil && frag.check() != nil {
					t.Fatalf("Add(%+v) accepted an illegal fragment", frag)
				}
				if errors.Is(err, ErrMalformed) && (a.Buffered() != cost || a.Incomplete() != n || budget.Used() != used) {
					t.Fatalf("Add(%+v) rejected as malformed changed the state", frag)
				}
				if len(msg) > maxMessage || (done && msg == "") {
					t.Fatalf("Add(%+v) delivered %d bytes, complete %v", frag, len(msg), done)
				}
				// Making room never evicts the message the piece went to.
				if err == nil && !done && a.bufs[k] == nil {
					t.Fatalf("Add(%+v) accepted, but its message is not buffered", frag)
				}
			}
			var sum int64
			for _, a := range as {
				sum += a.Buffered()
				if a.Incomplete() > maxIncomplete || a.lru.Len() != len(a.bufs) || a.Buffered() > maxContact {
					t.Fatalf("%d messages in reassembly, %d in LRU, %d bytes", a.Incomplete(), a.lru.Len(), a.Buffered())
				}
				var cost int64
				for k, b := range a.bufs {
					if b.key != k || b.size > maxMessage {
						t.Fatalf("buffer %+v holds %d bytes", k, b.size)
					}
					cost += b.cost
				}
				if cost != a.Buffered() {
					t.Fatalf("buffers cost %d, Buffered() = %d", cost, a.Buffered())
				}
				if in := a.idx >= 0 && a.idx < len(budget.holders) && budget.holders[a.idx] == a; in != (a.cost > 0) {
					t.Fatalf("Assembler holding %d bytes: in the Budget's holders = %v", a.cost, in)
				}
			}
			for _, a := range closed {
				if a.idx >= 0 || a.cost != 0 {
					t.Fatalf("closed Assembler holds %d bytes, holder index %d", a.cost, a.idx)
				}
			}
			if len(budget.holders) > len(as) || !heapOrdered(budget.holders) {
				t.Fatalf("Budget holders %d, ordered %v", len(budget.holders), heapOrdered(budget.holders))
			}
			if used := budget.Used(); used != sum || used > budgetMax || used < 0 {
				t.Fatalf("Budget.Used() = %d, assemblers hold %d, max %d", used, sum, budgetMax)
			}
		}
		for _, a := range as {
			a.Close()
		}
		if used := budget.Used(); used != 0 || len(budget.holders) != 0 {
			t.Fatalf("Budget.Used() after Close = %d, %d holders, want 0", used, len(budget.holders))
		}
	})
}

// heapOrdered reports whether h is a valid heap with consistent indexes.
func heapOrdered(h holders) bool {
	for i, a := range h {
		if a.idx != i || (i > 0 && h.Less(i, (i-1)/2)) {
			return false
		}
	}
	return true
}
