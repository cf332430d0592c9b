package fragment

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Fragment
		wantErr error
	}{
		{"v3 padded", "?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMD,",
			Fragment{Version: 3, Sender: 0x5a73a599, Receiver: 0x27e31597, K: 1, N: 3, Piece: "?OTR:AAMD"}, nil},
		{"v3 unpadded", "?OTR|100|0,1,2,abc,",
			Fragment{Version: 3, Sender: 0x100, Receiver: 0, K: 1, N: 2, Piece: "abc"}, nil},
		{"v3 upper hex", "?OTR|ABCDEF01|FFFFFFFF,2,2,x,",
			Fragment{Version: 3, Sender: 0xabcdef01, Receiver: 0xffffffff, K: 2, N: 2, Piece: "x"}, nil},
		{"v4 padded", "?OTR|3c5b5f03|5a73a599|27e31597,00002,00003,jPEW,",
			Fragment{Version: 4, ID: 0x3c5b5f03, Sender: 0x5a73a599, Receiver: 0x27e31597, K: 2, N: 3, Piece: "jPEW"}, nil},
		{"v4 unpadded", "?OTR|0|1|2,3,3,==.,",
			Fragment{Version: 4, ID: 0, Sender: 1, Receiver: 2, K: 3, N: 3, Piece: "==."}, nil},
		{"max counts", "?OTR|1|2,65535,65535,p,",
			Fragment{Version: 3, Sender: 1, Receiver: 2, K: 65535, N: 65535, Piece: "p"}, nil},
		{"extra leading zeros within 5", "?OTR|00000001|2,00001,00001,p,",
			Fragment{Version: 3, Sender: 1, Receiver: 2, K: 1, N: 1, Piece: "p"}, nil},

		{"empty", "", Fragment{}, ErrMalformed},
		{"prefix only", "?OTR|", Fragment{}, ErrMalformed},
		{"otr2 form", "?OTR,1,2,abc,", Fragment{}, ErrMalformed},
		{"encoded message", "?OTR:AAMD.", Fragment{}, ErrMalformed},
		{"leading space", " ?OTR|1|2,1,1,p,", Fragment{}, ErrMalformed},
		{"one tag", "?OTR|1,1,1,p,", Fragment{}, ErrMalformed},
		{"four tags", "?OTR|1|2|3|4,1,1,p,", Fragment{}, ErrMalformed},
		{"empty tag", "?OTR||2,1,1,p,", Fragment{}, ErrMalformed},
		{"nine hex digits", "?OTR|000000001|2,1,1,p,", Fragment{}, ErrMalformed},
		{"non hex tag", "?OTR|12g4|2,1,1,p,", Fragment{}, ErrMalformed},
		{"k zero", "?OTR|1|2,0,1,p,", Fragment{}, ErrMalformed},
		{"n zero", "?OTR|1|2,1,0,p,", Fragment{}, ErrMalformed},
		{"k above n", "?OTR|1|2,3,2,p,", Fragment{}, ErrMalformed},
		{"k 65536", "?OTR|1|2,65536,65535,p,", Fragment{}, ErrMalformed},
		{"n 65537 wraps in %hu", "?OTR|1|2,1,65537,p,", Fragment{}, ErrMalformed},
		{"six digits", "?OTR|1|2,000001,2,p,", Fragment{}, ErrMalformed},
		{"negative k", "?OTR|1|2,-1,2,p,", Fragment{}, ErrMalformed},
		{"plus k", "?OTR|1|2,+1,2,p,", Fragment{}, ErrMalformed},
		{"empty k", "?OTR|1|2,,2,p,", Fragment{}, ErrMalformed},
		{"empty last piece of several", "?OTR|1|2,2,2,,",
			Fragment{Version: 3, Sender: 1, Receiver: 2, K: 2, N: 2, Piece: ""}, nil},
		{"v4 empty last piece of several", "?OTR|3|1|2,00003,00003,,",
			Fragment{Version: 4, ID: 3, Sender: 1, Receiver: 2, K: 3, N: 3, Piece: ""}, nil},
		{"empty piece", "?OTR|1|2,1,2,,", Fragment{}, ErrMalformed},
		{"empty middle piece", "?OTR|1|2,2,3,,", Fragment{}, ErrMalformed},
		{"empty single piece", "?OTR|1|2,1,1,,", Fragment{}, ErrMalformed},
		{"v4 empty single piece", "?OTR|3|1|2,1,1,,", Fragment{}, ErrMalformed},
		{"v4 empty first piece", "?OTR|3|1|2,1,3,,", Fragment{}, ErrMalformed},
		{"missing trailing comma", "?OTR|1|2,1,2,piece", Fragment{}, ErrMalformed},
		{"missing piece and comma", "?OTR|1|2,1,2,", Fragment{}, ErrMalformed},
		{"missing n", "?OTR|1|2,1", Fragment{}, ErrMalformed},
		{"extra field", "?OTR|1|2,1,2,p,q,", Fragment{}, ErrMalformed},
		{"trailing data", "?OTR|1|2,1,2,p,x", Fragment{}, ErrMalformed},
		{"trailing newline", "?OTR|1|2,1,2,p,\n", Fragment{}, ErrMalformed},
		{"bad separator", "?OTR|1;2,1,2,p,", Fragment{}, ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Parse(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseStringRoundTrip(t *testing.T) {
	for _, s := range []string{
		"?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMDJ+MVmSfjFZcAAAAA,",
		"?OTR|3c5b5f03|5a73a599|27e31597,00003,00003,pkTtquknfx6HodLvk3RAAAAAA==.,",
		"?OTR|00000000|ffffffff,65535,65535,x,",
	} {
		f, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) error = %v", s, err)
		}
		if got := f.String(); got != s {
			t.Errorf("Parse(%q).String() = %q", s, got)
		}
	}
}

func TestSplitSmall(t *testing.T) {
	for _, maxSize := range []int{0, -1, 10, 11} {
		got, err := Split("?OTR:AAMD.", maxSize, 3, 0, 0x100, 0x101)
		if err != nil || len(got) != 1 || got[0] != "?OTR:AAMD." {
			t.Errorf("Split(maxSize %d) = %q, %v, want the message unchanged", maxSize, got, err)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	long := "?OTR:" + strings.Repeat("A", 1000) + "."
	tests := []struct {
		name    string
		msg     string
		maxSize int
		version int
		wantErr error
	}{
		{"v3 no room", long, headerLen3 + 1, 3, ErrLimit},
		{"v4 no room", long, headerLen4 + 1, 4, ErrLimit},
		{"v4 tiny", long, 5, 4, ErrLimit},
		{"too many fragments", strings.Repeat("A", MaxFragments+1), headerLen3 + 2, 3, ErrLimit},
		{"comma", long + ",", 100, 3, ErrMalformed},
		{"fragment of a fragment", "?OTR|1|2,1,1," + long + ",", 100, 3, ErrMalformed},
		{"bad version", long, 100, 2, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Split(tc.msg, tc.maxSize, tc.version, 1, 0x100, 0x101)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("Split error = %v, want %v", err, tc.wantErr)
			}
			if got != nil {
				t.Errorf("Split = %q, want nil", got)
			}
		})
	}
	// Exactly MaxFragments fragments is allowed.
	got, err := Split(strings.Repeat("A", MaxFragments), headerLen3+2, 3, 0, 1, 2)
	if err != nil || len(got) != MaxFragments {
		t.Errorf("Split into %d fragments = %d, %v", MaxFragments, len(got), err)
	}
}

func TestSplitReassemble(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for _, version := range []int{3, 4} {
		hdr := headerLen3
		if version == 4 {
			hdr = headerLen4
		}
		for _, room := range []int{1, 2, 3, 7, 16, 100} {
			maxSize := hdr + 1 + room
			for _, msgLen := range []int{1, room, room + 1, 2 * room, 2*room + 1, 3 * room, 10*room - 1, 10 * room, 257} {
				b := []byte("?OTR:")
				for len(b) < msgLen-1 {
					b = append(b, b64[rng.IntN(len(b64))])
				}
				msg := string(append(b, '.'))
				frags, err := Split(msg, maxSize, version, 0xabcdef, 0x100, 0x12345678)
				if err != nil {
					t.Fatalf("v%d Split(len %d, max %d) error = %v", version, len(msg), maxSize, err)
				}
				if len(msg) <= maxSize {
					if len(frags) != 1 || frags[0] != msg {
						t.Fatalf("v%d Split(len %d, max %d) = %q, want unchanged", version, len(msg), maxSize, frags)
					}
					continue
				}
				if want := (len(msg) + room - 1) / room; len(frags) != want {
					t.Errorf("v%d Split(len %d, max %d) gave %d fragments, want %d", version, len(msg), maxSize, len(frags), want)
				}
				parsed := make([]Fragment, len(frags))
				for i, s := range frags {
					if len(s) > maxSize {
						t.Fatalf("fragment %d has %d bytes, max %d", i, len(s), maxSize)
					}
					f, err := Parse(s)
					if err != nil {
						t.Fatalf("Parse(%q) error = %v", s, err)
					}
					if f.Version != version || f.Sender != 0x100 || f.Receiver != 0x12345678 ||
						int(f.K) != i+1 || int(f.N) != len(frags) || (version == 4 && f.ID != 0xabcdef) {
						t.Fatalf("Parse(%q) = %+v", s, f)
					}
					parsed[i] = f
				}
				if version == 4 {
					rng.Shuffle(len(parsed), func(i, j int) { parsed[i], parsed[j] = parsed[j], parsed[i] })
				}
				a := NewAssembler(Limits{}, nil)
				var got string
				for i, f := range parsed {
					m, done, err := a.Add(f)
					if err != nil {
						t.Fatalf("Add(%d) error = %v", i, err)
					}
					if done != (i == len(parsed)-1) {
						t.Fatalf("Add(%d) complete = %v", i, done)
					}
					got = m
				}
				if got != msg {
					t.Errorf("v%d reassembled %q, want %q", version, got, msg)
				}
				if a.Incomplete() != 0 || a.Buffered() != 0 {
					t.Errorf("after completion: %d incomplete, %d bytes buffered", a.Incomplete(), a.Buffered())
				}
			}
		}
	}
}

func BenchmarkSplit(b *testing.B) {
	msg := "?OTR:" + strings.Repeat("A", 10<<10-6) + "."
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, err := Split(msg, 150, 4, 1, 0x100, 0x101); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAdd(b *testing.B) {
	msg := "?OTR:" + strings.Repeat("A", 10<<10-6) + "."
	for _, version := range []int{3, 4} {
		frags, err := Split(msg, 150, version, 1, 0x100, 0x101)
		if err != nil {
			b.Fatal(err)
		}
		parsed := make([]Fragment, len(frags))
		for i, s := range frags {
			if parsed[i], err = Parse(s); err != nil {
				b.Fatal(err)
			}
		}
		name := "v3"
		if version == 4 {
			name = "v4"
		}
		b.Run(name, func(b *testing.B) {
			a := NewAssembler(Limits{}, NewBudget(1<<20))
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				for _, f := range parsed {
					if _, _, err := a.Add(f); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// twstrikeLast is the last fragment of a long message as twstrike/otr3
// (CoyIM's library) sent it: the piece is empty.
const twstrikeLast = "?OTR|48f4f279|d66418fc,00068,00068,,"

// TestTwstrikeEmptyLastFragment reassembles a message whose last fragment
// is twstrikeLast, in OTR3 order, and the same shape in OTRv4 in any order,
// where a later duplicate of the last index is still refused.
func TestTwstrikeEmptyLastFragment(t *testing.T) {
	last, err := Parse(twstrikeLast)
	if want := (Fragment{Version: 3, Sender: 0x48f4f279, Receiver: 0xd66418fc, K: 68, N: 68}); err != nil || last != want {
		t.Fatalf("Parse(%q) = %+v, %v; want %+v", twstrikeLast, last, err, want)
	}
	if got := last.String(); got != twstrikeLast {
		t.Errorf("String() = %q, want %q", got, twstrikeLast)
	}
	// Pieces 1 to 67 carry the message, 50 bytes each.
	const room = 50
	msg := "?OTR:" + strings.Repeat("A", 67*room-6) + "."
	var frags []string
	for k := 1; k <= 67; k++ {
		frags = append(frags, fmt.Sprintf("?OTR|48f4f279|d66418fc,%05d,00068,%s,", k, msg[(k-1)*room:k*room]))
	}
	frags = append(frags, twstrikeLast)

	t.Run("OTR3", func(t *testing.T) {
		a := NewAssembler(Limits{}, nil)
		for i, s := range frags {
			f, err := Parse(s)
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", s, err)
			}
			got, done, err := a.Add(f)
			if err != nil || done != (i == len(frags)-1) {
				t.Fatalf("Add(fragment %d) = %v, %v", i+1, done, err)
			}
			if done && got != msg {
				t.Errorf("reassembled %q, want %q", got, msg)
			}
		}
		if a.Incomplete() != 0 || a.Buffered() != 0 {
			t.Errorf("after completion: %d incomplete, %d bytes", a.Incomplete(), a.Buffered())
		}
		// Out of sequence, the empty last piece is discarded like any other.
		a.Add(must(t, frags[0]))
		if _, _, err := a.Add(last); !errors.Is(err, ErrDiscarded) {
			t.Errorf("empty last piece out of sequence: error %v, want ErrDiscarded", err)
		}
	})

	t.Run("OTRv4", func(t *testing.T) {
		v4 := func(k int, piece string) Fragment {
			return Fragment{Version: 4, ID: 9, Sender: 0x48f4f279, Receiver: 0xd66418fc, K: uint16(k), N: 68, Piece: piece}
		}
		for _, tc := range []struct {
			name  string
			first Fragment // arrives before pieces 1..67
			dup   Fragment // a later fragment with index 68
		}{
			{"empty, then a duplicate with content", v4(68, ""), v4(68, "XXXX")},
			{"empty, then an empty duplicate", v4(68, ""), v4(68, "")},
		} {
			t.Run(tc.name, func(t *testing.T) {
				a := NewAssembler(Limits{}, nil)
				add := func(f Fragment) (string, bool) {
					t.Helper()
					got, done, err := a.Add(f)
					if err != nil {
						t.Fatalf("Add(k=%d, %q) error = %v", f.K, f.Piece, err)
					}
					return got, done
				}
				add(tc.first)
				add(tc.dup) // ignored: a filled slot is never overwritten
				rng := rand.New(rand.NewPCG(3, 4))
				order := rng.Perm(67)
				for i, j := range order {
					got, done := add(v4(j+1, msg[j*room:(j+1)*room]))
					if done != (i == len(order)-1) {
						t.Fatalf("complete = %v after %d of 67 pieces", done, i+1)
					}
					if done && got != msg {
						t.Errorf("reassembled %d bytes, want the %d-byte message", len(got), len(msg))
					}
				}
			})
		}
		// An empty last piece alone completes nothing.
		a := NewAssembler(Limits{}, nil)
		if _, done, err := a.Add(v4(68, "")); done || err != nil {
			t.Fatalf("lone empty last piece: complete %v, error %v", done, err)
		}
	})

	t.Run("still refused", func(t *testing.T) {
		for _, s := range []string{
			"?OTR|48f4f279|d66418fc,00067,00068,,", // not the last
			"?OTR|48f4f279|d66418fc,00001,00001,,", // a whole empty message
			"?OTR|48f4f279|d66418fc,00068,00068,",  // no piece field at all
		} {
			if _, err := Parse(s); !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q) error = %v, want ErrMalformed", s, err)
			}
		}
		a := NewAssembler(Limits{}, nil)
		for _, f := range []Fragment{f3(1, 1, 1, ""), f3(1, 1, 2, ""), f4(1, 1, 2, 3, ""), f4(1, 1, 1, 1, "")} {
			if _, _, err := a.Add(f); !errors.Is(err, ErrMalformed) {
				t.Errorf("Add(%+v) error = %v, want ErrMalformed", f, err)
			}
		}
	})
}

func must(t *testing.T, s string) Fragment {
	t.Helper()
	f, err := Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestSplitNoEmptyPiece: Split never emits an empty piece, also when the
// message length is a multiple of the room per fragment (where twstrike/otr3
// adds an empty last fragment).
func TestSplitNoEmptyPiece(t *testing.T) {
	for _, version := range []int{3, 4} {
		hdr := headerLen3
		if version == 4 {
			hdr = headerLen4
		}
		for _, room := range []int{1, 2, 3, 50, 149} {
			for _, mult := range []int{2, 3, 5, 40, 1000} {
				for _, msgLen := range []int{mult*room - 1, mult * room, mult*room + 1} {
					if msgLen < 7 || msgLen <= hdr+1+room {
						continue // too short for "?OTR:" + "." or not fragmented
					}
					msg := "?OTR:" + strings.Repeat("A", msgLen-6) + "."
					frags, err := Split(msg, hdr+1+room, version, 7, 0x100, 0x101)
					if err != nil {
						t.Fatal(err)
					}
					for i, s := range frags {
						f, err := Parse(s)
						if err != nil || f.Piece == "" {
							t.Fatalf("v%d Split(len %d, room %d) fragment %d = %q (%v)", version, len(msg), room, i+1, s, err)
						}
					}
				}
			}
		}
	}
}
