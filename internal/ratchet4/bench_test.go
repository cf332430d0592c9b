package ratchet4

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"testing"

	otrencoding "github.com/otrgo/otr/encoding"
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

// BenchmarkForgedRatchet is the cost to us of one forged message announcing
// new ratchet keys (its authenticator fails): the first time we see its keys
// (a new triple every message), again with the same keys (the cached
// ratchet step), and once the throttle is spent. "far" messages ask for the
// most chain keys allowed: pn and message id MaxSkipAhead ahead.
func BenchmarkForgedRatchet(b *testing.B) {
	for _, kind := range []struct {
		name      string
		ratchetID uint32
	}{{"ECDH", 1}, {"ECDH+DH3072", 3}} {
		for _, far := range []bool{false, true} {
			for _, mode := range []string{"first", "repeated", "throttled"} {
				name := fmt.Sprintf("%s/near/%s", kind.name, mode)
				if far {
					name = fmt.Sprintf("%s/far/%s", kind.name, mode)
				}
				b.Run(name, func(b *testing.B) {
					opts := Options{MaxUnverifiedRatchets: math.MaxInt}
					wantErr := ErrBadMAC
					if mode == "throttled" {
						opts.MaxUnverifiedRatchets = 1
						wantErr = ErrThrottled
					}
					_, bob, genuine, _ := toRatchet(b, 120, opts, kind.ratchetID)
					f := newForger(b, genuine, 220)
					pool := make([][]byte, 16)
					for n := range pool {
						pool[n] = f.next(0)
						if far {
							pool[n] = editMsg(b, pool[n], func(m *otrencoding.DataMessage4) {
								m.PN = bob.k + DefaultMaxSkipAhead
								m.MessageID = DefaultMaxSkipAhead
							})
						}
					}
					switch mode {
					case "repeated":
						pool = pool[:1]
						fallthrough
					case "throttled":
						if _, err := bob.Decrypt(testNow, pool[0]); !errors.Is(err, ErrBadMAC) {
							b.Fatal(err)
						}
						pool = pool[len(pool)-1:]
					}
					n := 0
					for b.Loop() {
						if _, err := bob.Decrypt(testNow, pool[n%len(pool)]); !errors.Is(err, wantErr) {
							b.Fatalf("Decrypt error = %v, want %v", err, wantErr)
						}
						n++
					}
				})
			}
		}
	}
}

// BenchmarkForgedCurrentChain is the cost of one forged message of the
// current receiving chain whose message id is MaxSkipAhead ahead: no ratchet
// step, so never throttled, but a walk along the chain.
func BenchmarkForgedCurrentChain(b *testing.B) {
	_, bob, _, late := toRatchet(b, 121, Options{}, 1)
	forged := editMsg(b, tamper(b, late), func(m *otrencoding.DataMessage4) {
		m.MessageID = bob.k + DefaultMaxSkipAhead
	})
	for b.Loop() {
		if _, err := bob.Decrypt(testNow, forged); !errors.Is(err, ErrBadMAC) {
			b.Fatal(err)
		}
	}
}
