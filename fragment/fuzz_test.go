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

// FuzzReassemble drives two Assemblers sharing a Budget with fragments and
// calls decoded from the input, and checks the limits after every step.
func FuzzReassemble(f *testing.F) {
	f.Add([]byte{0x00, 0x00, 0x12, 0x05, 0x00, 0x10, 0x22, 0x05, 0x00, 0x10, 0x32, 0x05})
	f.Add([]byte{0x01, 0x07, 0x33, 0x05, 0x01, 0x07, 0x13, 0x05, 0x01, 0x07, 0x23, 0x05, 0x01, 0x07, 0x23, 0x05})
	f.Add([]byte{0x00, 0x00, 0x1f, 0x0f, 0x00, 0x00, 0x2f, 0x0f, 0x00, 0x00, 0x3f, 0x0f, 0xf0, 0x00, 0x00, 0x00})
	f.Add(append([]byte{0xe1}, []byte(strings.Repeat("\x01\x03\x18\x08", 30))...))
	const (
		maxFragment   = 12
		maxMessage    = 40
		maxIncomplete = 3
		budgetMax     = 2000
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		budget := NewBudget(budgetMax)
		l := Limits{MaxFragment: maxFragment, MaxMessage: maxMessage, MaxIncomplete: maxIncomplete}
		as := [2]*Assembler{NewAssembler(l, budget), NewAssembler(l, budget)}
		for len(data) >= 4 {
			op, idb, kn, size := data[0], data[1], data[2], data[3]
			data = data[4:]
			a := as[op&1]
			switch op >> 4 {
			case 0xf:
				a.Reset()
			case 0xe:
				a.Sweep()
			case 0xd:
				a.ResetOTR3()
			default:
				frag := Fragment{
					Version: 3 + int(op>>1&1),
					Sender:  uint32(op >> 2 & 3),
					ID:      uint32(idb & 7),
					K:       uint16(kn >> 4),
					N:       uint16(kn & 0xf),
					Piece:   strings.Repeat(string(rune('a'+idb>>3%26)), int(size&0xf)),
				}
				if frag.Version == 3 {
					frag.ID = 0
				}
				msg, done, err := a.Add(frag)
				if err != nil && (done || msg != "") {
					t.Fatalf("Add(%+v) = %q, %v, %v", frag, msg, done, err)
				}
				if err == nil && frag.check() != nil {
					t.Fatalf("Add(%+v) accepted an illegal fragment", frag)
				}
				if len(msg) > maxMessage || (done && msg == "") {
					t.Fatalf("Add(%+v) delivered %d bytes, complete %v", frag, len(msg), done)
				}
			}
			var sum int64
			for _, a := range as {
				sum += a.Buffered()
				if a.Incomplete() > maxIncomplete || a.lru.Len() != len(a.bufs) {
					t.Fatalf("%d messages in reassembly, %d in LRU", a.Incomplete(), a.lru.Len())
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
			}
			if used := budget.Used(); used != sum || used > budgetMax || used < 0 {
				t.Fatalf("Budget.Used() = %d, assemblers hold %d, max %d", used, sum, budgetMax)
			}
		}
		as[0].Reset()
		as[1].Reset()
		if used := budget.Used(); used != 0 {
			t.Fatalf("Budget.Used() after Reset = %d, want 0", used)
		}
	})
}
