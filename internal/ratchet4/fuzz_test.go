package ratchet4

import (
	"bytes"
	"testing"
)

// fuzzTemplate is bob in mid-conversation: keys stored for two skipped
// messages of alice's first chain, alice's second ratchet not seen yet.
// undelivered maps the plaintexts of genuine messages bob may still
// accept; seeds are wire messages to start the fuzzer from.
func fuzzTemplate(tb testing.TB) (bob *State, undelivered map[string]bool, seeds [][]byte) {
	alice, bob := newPair(tb, 42, Options{MaxSkipped: 50, MaxSkipAhead: 20})
	var a [4][]byte
	for n := range a {
		a[n] = mustEncrypt(tb, alice, hAB, "a"+string(rune('0'+n)))
	}
	mustDecrypt(tb, bob, a[3], "a3")
	mustDecrypt(tb, bob, a[0], "a0")
	mustDecrypt(tb, alice, mustEncrypt(tb, bob, hBA, "b0"), "b0")
	n0 := mustEncrypt(tb, alice, hAB, "n0")
	n1 := mustEncrypt(tb, alice, hAB, "n1")
	undelivered = map[string]bool{"a1": true, "a2": true, "n0": true, "n1": true}
	seeds = [][]byte{a[0], a[1], a[2], a[3], n0, n1, tamper(tb, n1)}
	return bob, undelivered, seeds
}

// FuzzDecrypt feeds arbitrary payloads to a State in mid-conversation: no
// panic, a rejected payload leaves the state exactly as it was, and only a
// genuine message not yet delivered is ever accepted.
func FuzzDecrypt(f *testing.F) {
	template, undelivered, seeds := fuzzTemplate(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{0, 4, 3, 0, 0, 1, 0, 0, 0, 2, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		s := clone(template)
		before := digest(s)
		in0 := bytes.Clone(in)
		got, err := s.Decrypt(testNow, in)
		if !bytes.Equal(in, in0) {
			t.Fatalf("Decrypt modified its input")
		}
		if err != nil {
			if digest(s) != before {
				t.Fatalf("rejected payload changed the state: %v", err)
			}
			if got.Plaintext != nil {
				t.Fatalf("plaintext returned with error %v", err)
			}
			return
		}
		if !undelivered[string(got.Plaintext)] {
			t.Fatalf("accepted %q, which was never sent or was already delivered", got.Plaintext)
		}
		if digest(s) == before {
			t.Fatalf("accepted message did not change the state")
		}
	})
}
