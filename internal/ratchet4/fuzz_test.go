package ratchet4

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// fuzzTemplate is bob in mid-conversation: keys stored for two skipped
// messages of alice's first chain, alice's second ratchet not seen yet.
// undelivered maps the plaintexts of genuine messages bob may still
// accept; seeds are wire messages to start the fuzzer from.
func fuzzTemplate(tb testing.TB) (bob *State, undelivered map[string]bool, seeds [][]byte) {
	alice, bob := newPair(tb, 42, Options{MaxSkipped: 50, MaxSkipAhead: 20, MaxUnverifiedRatchets: 2})
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

// sequence encodes messages for FuzzDecryptSequence: each is a control byte
// (bit 0: the clock moves on by the throttle's interval first), a 2-byte
// length and the message.
func sequence(advance []bool, msgs ...[]byte) []byte {
	var out []byte
	for n, m := range msgs {
		ctl := byte(0)
		if n < len(advance) && advance[n] {
			ctl = 1
		}
		out = append(out, ctl)
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

// FuzzDecryptSequence feeds several payloads in turn to one State, so that
// later ones meet the cached ratchet step and the throttle that earlier
// ones left. Besides FuzzDecrypt's invariants: the cache never changes a
// result (a twin without it, and with a fresh budget, answers the same
// unless we were throttled), nothing is delivered twice, and between
// verified messages no more than MaxUnverifiedRatchets ratchet steps are
// computed per interval.
func FuzzDecryptSequence(f *testing.F) {
	template, undelivered, seeds := fuzzTemplate(f)
	n0, n1, a1 := seeds[4], seeds[5], seeds[1]
	forge := newForger(f, n0, 99)
	fa, fb, fc := forge.next(0), forge.next(3), forge.next(7)
	f.Add(sequence(nil, fa, withID(f, fa, 5), n0, n1))
	f.Add(sequence([]bool{false, false, false, true}, fa, fb, fc, fc, n1, n0))
	f.Add(sequence(nil, tamper(f, n0), withID(f, tamper(f, n0), 1), n1, n0))
	f.Add(sequence(nil, fa, a1, fb, fc, n0, a1))
	f.Add(sequence(nil, fa, fb, n0, fc, n1))
	const interval = DefaultUnverifiedRatchetInterval
	f.Fuzz(func(t *testing.T, in []byte) {
		s := clone(template)
		delivered := map[string]bool{}
		now := testNow
		base := s.work.ratchets // at the last verified message or clock move
		for n := 0; n < 8 && len(in) > 0; n++ {
			if in[0]&1 != 0 {
				now = now.Add(interval)
				base = s.work.ratchets
			}
			in = in[1:]
			size := len(in)
			if len(in) >= 2 {
				size = min(int(binary.BigEndian.Uint16(in)), len(in)-2)
				in = in[2:]
			}
			msg := in[:size]
			in = in[size:]

			twin := clone(s)
			twin.pre, twin.throttle = nil, throttle{}
			before := digest(s)
			got, err := s.Decrypt(now, msg)
			if s.work.ratchets-base > uint64(s.opts.MaxUnverifiedRatchets) {
				t.Fatalf("%d ratchet steps computed without a verified message", s.work.ratchets-base)
			}
			if !errors.Is(err, ErrThrottled) {
				tgot, terr := twin.Decrypt(now, msg)
				if (err == nil) != (terr == nil) || (err != nil && err.Error() != terr.Error()) ||
					!bytes.Equal(got.Plaintext, tgot.Plaintext) || digest(s) != digest(twin) {
					t.Fatalf("message %d: %q, %v; without the cache %q, %v", n, got.Plaintext, err, tgot.Plaintext, terr)
				}
			}
			if err != nil {
				if digest(s) != before {
					t.Fatalf("message %d: rejected payload changed the state: %v", n, err)
				}
				if got.Plaintext != nil {
					t.Fatalf("message %d: plaintext returned with error %v", n, err)
				}
				continue
			}
			p := string(got.Plaintext)
			if !undelivered[p] || delivered[p] {
				t.Fatalf("message %d: accepted %q, which was never sent or was already delivered", n, got.Plaintext)
			}
			delivered[p] = true
			base = s.work.ratchets
		}
	})
}
