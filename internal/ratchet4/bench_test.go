package ratchet4

import (
	"fmt"
	"runtime"
	"testing"
)

// BenchmarkEncryptDecrypt is one message sent and received within a chain
// (no ratchet step).
func BenchmarkEncryptDecrypt(b *testing.B) {
	for _, size := range []int{100, 10 << 10} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			alice, bob := newPair(b, 20, Options{})
			msg := make([]byte, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				out, _, err := alice.Encrypt(hAB, 0, msg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := bob.Decrypt(testNow, out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRatchetStep is one sending ratchet step: a new ECDH key pair and
// shared secret, plus for every third ratchet a new 3072-bit DH key pair and
// shared secret.
func BenchmarkRatchetStep(b *testing.B) {
	for _, tc := range []struct {
		name string
		i    uint32
	}{{"ECDH", 1}, {"ECDH+DH3072", 3}} {
		b.Run(tc.name, func(b *testing.B) {
			alice, _ := newPair(b, 21, Options{})
			for b.Loop() {
				alice.i, alice.rotate = tc.i, true
				if err := alice.rotateSending(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIdleState reports the heap held by an idle State (after the DAKE
// hand-over and a short exchange, nothing stored), measured over many
// copies.
func BenchmarkIdleState(b *testing.B) {
	alice, bob := newPair(b, 22, Options{})
	mustDecrypt(b, bob, mustEncrypt(b, alice, hAB, "x"), "x")
	mustDecrypt(b, alice, mustEncrypt(b, bob, hBA, "y"), "y")
	b.ReportMetric(float64(idleStateBytes(bob)), "bytes/state")
	for b.Loop() {
		_ = clone(bob)
	}
}

// idleStateBytes measures the heap held by copies of s, per copy.
func idleStateBytes(s *State) uint64 {
	const n = 2000
	keep := make([]*State, n)
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	for i := range keep {
		keep[i] = clone(s)
		// clone shares the immutable public-key slices; copy them too so the
		// figure counts everything a State owns.
		keep[i].ourDHPub = append([]byte(nil), s.ourDHPub...)
		if s.theirDH != nil {
			keep[i].theirDH = mustParseDHPub(s.theirDH.Bytes())
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	runtime.KeepAlive(keep)
	return (m1.HeapAlloc - m0.HeapAlloc) / n
}

func TestIdleStateSize(t *testing.T) {
	alice, bob := newPair(t, 23, Options{})
	mustDecrypt(t, bob, mustEncrypt(t, alice, hAB, "x"), "x")
	mustDecrypt(t, alice, mustEncrypt(t, bob, hBA, "y"), "y")
	t.Logf("idle State: about %d bytes (alice), %d bytes (bob)", idleStateBytes(alice), idleStateBytes(bob))
}
