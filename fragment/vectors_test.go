package fragment

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/otrgo/otr/internal/vectors"
)

// fragmentVectors is the layout of testdata/vectors/otrv4/fragment.json:
// OTRv4 fragments written by otr4j's Fragmenter and reassembled by its
// Assembler.
type fragmentVectors struct {
	Vectors []struct {
		Comment          string      `json:"comment"`
		MaxFragmentSize  int         `json:"max_fragment_size"`
		SenderTag        vectors.Hex `json:"sender_tag"`
		ReceiverTag      vectors.Hex `json:"receiver_tag"`
		RandomBytes      vectors.Hex `json:"random_bytes"`
		Identifier       vectors.Hex `json:"identifier"`
		Message          string      `json:"message"`
		Fragments        []string    `json:"fragments"`
		ReassembledOrder *string     `json:"reassembled_in_order"`
		ReassembledRev   *string     `json:"reassembled_reverse_order"`
	} `json:"vectors"`
}

func tag32(t *testing.T, name string, h vectors.Hex) uint32 {
	t.Helper()
	if len(h) != 4 {
		t.Fatalf("%s: %d bytes, want 4", name, len(h))
	}
	return binary.BigEndian.Uint32(h)
}

// TestOTR4JFragmentVectors splits each vector's message as otr4j did (same
// identifier, tags and maximum size) and checks the fragments byte for
// byte, then reassembles them in order, in reverse order and shuffled with
// duplicates, as otr4j's Assembler did.
func TestOTR4JFragmentVectors(t *testing.T) {
	var f fragmentVectors
	vectors.Load(t, "otrv4/fragment.json", &f)
	if len(f.Vectors) == 0 {
		t.Fatal("no vectors")
	}
	for i, v := range f.Vectors {
		t.Run(v.Comment, func(t *testing.T) {
			t.Parallel()
			sender := tag32(t, "sender_tag", v.SenderTag)
			receiver := tag32(t, "receiver_tag", v.ReceiverTag)
			var id uint32
			if len(v.Identifier) > 0 {
				id = tag32(t, "identifier", v.Identifier)
				// otr4j draws the identifier as SecureRandom.nextInt(): the
				// four random bytes read big-endian.
				if got := tag32(t, "random_bytes", v.RandomBytes); got != id {
					t.Fatalf("identifier %08x, random bytes %08x", id, got)
				}
			}
			got, err := Split(v.Message, v.MaxFragmentSize, 4, id, sender, receiver)
			if err != nil {
				t.Fatalf("Split: %v", err)
			}
			if !slices.Equal(got, v.Fragments) {
				t.Fatalf("Split =\n%q\nwant\n%q", got, v.Fragments)
			}
			for _, fr := range got {
				if len(fr) > v.MaxFragmentSize {
					t.Errorf("fragment of %d bytes exceeds %d", len(fr), v.MaxFragmentSize)
				}
			}
			if len(v.Fragments) == 1 {
				// Not fragmented: the message goes out as is and is not a
				// fragment.
				if v.Fragments[0] != v.Message || v.ReassembledOrder != nil {
					t.Fatalf("unfragmented vector: fragments %q", v.Fragments)
				}
				if _, err := Parse(v.Fragments[0]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse(unfragmented message) error = %v, want ErrMalformed", err)
				}
				return
			}

			n := uint16(len(v.Fragments))
			parsed := make([]Fragment, len(v.Fragments))
			for k, s := range v.Fragments {
				fr, err := Parse(s)
				if err != nil {
					t.Fatalf("Parse(fragment %d): %v", k+1, err)
				}
				if fr.Version != 4 || fr.ID != id || fr.Sender != sender || fr.Receiver != receiver || fr.K != uint16(k+1) || fr.N != n {
					t.Fatalf("Parse(fragment %d) = %+v", k+1, fr)
				}
				if fr.String() != s {
					t.Fatalf("fragment %d: String() = %q, want %q", k+1, fr.String(), s)
				}
				parsed[k] = fr
			}

			reverse := slices.Clone(parsed)
			slices.Reverse(reverse)
			r := rand.New(rand.NewPCG(uint64(i), 7))
			shuffled := slices.Clone(parsed)
			// Every fragment twice, in a random order: a duplicate index
			// before completion is ignored.
			shuffled = append(shuffled, parsed[:len(parsed)-1]...)
			r.Shuffle(len(shuffled), func(a, b int) { shuffled[a], shuffled[b] = shuffled[b], shuffled[a] })
			for _, order := range []struct {
				name  string
				frags []Fragment
				want  *string
			}{
				{"in order", parsed, v.ReassembledOrder},
				{"reverse order", reverse, v.ReassembledRev},
				{"shuffled with duplicates", shuffled, &v.Message},
			} {
				if order.want == nil {
					t.Fatalf("%s: vector has no reassembled message", order.name)
				}
				budget := NewBudget(1 << 20)
				a := NewAssembler(Limits{}, budget)
				seen := make(map[uint16]bool)
				var msg string
				done := false
				for j, fr := range order.frags {
					m, complete, err := a.Add(fr)
					if err != nil {
						t.Fatalf("%s: Add(fragment %d of %d, step %d): %v", order.name, fr.K, fr.N, j, err)
					}
					seen[fr.K] = true
					if wantComplete := len(seen) == int(n) && !done; complete != wantComplete {
						t.Fatalf("%s: step %d (fragment %d): complete = %v, want %v", order.name, j, fr.K, complete, wantComplete)
					}
					if complete {
						msg, done = m, true
						break
					}
				}
				if !done {
					t.Fatalf("%s: never complete", order.name)
				}
				if msg != *order.want || msg != v.Message {
					t.Fatalf("%s: reassembled %q, want %q", order.name, msg, *order.want)
				}
				if used := budget.Used(); used != 0 {
					t.Fatalf("%s: %d bytes still charged after completion", order.name, used)
				}
			}
		})
	}
}
