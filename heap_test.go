package otr_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/otrgo/otr"
)

// receiverGrowth sends n one-way OTRv4 messages from alice to bob with a
// frozen clock (no heartbeat ever falls due) and returns how much bob's
// retained heap grew, in bytes, from the secure idle session.
func receiverGrowth(t testing.TB, n int) int64 {
	clk := time.Unix(1_750_000_000, 0)
	opts := &otr.Options{Now: func() time.Time { return clk }}
	alice := newPeer(t, "alice", "bob", 0, 401, opts, 0)
	bob := newPeer(t, "bob", "alice", 1, 402, opts, 0)
	secure(t, alice, bob)
	send(t, alice, bob, "warm up")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		res, err := alice.sess.Send(0, "one way")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range res.Send {
			r, err := bob.sess.Receive(m.Text)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			// bob's replies (heartbeats revealing MAC keys) go back to alice.
			for _, back := range r.Send {
				if _, err := alice.sess.Receive(back.Text); err != nil {
					t.Fatalf("bob's reply after message %d: %v", i, err)
				}
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(alice)
	runtime.KeepAlive(bob)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// A receiver that never writes does not grow with the messages it reads:
// the MAC keys it owes the contact are revealed (a heartbeat) past
// Options.MaxPendingMACKeys.
func TestReceiverHeapBounded(t *testing.T) {
	n := 20000
	if testing.Short() {
		n = 5000
	}
	if g := receiverGrowth(t, n); g > 64<<10 {
		t.Fatalf("bob's heap grew %d bytes over %d one-way messages; want at most 64 KiB", g, n)
	}
}

// BenchmarkReceiverHeap reports the receiver's retained heap after 100,000
// one-way OTRv4 messages with a frozen clock (bytes above the idle secure
// session).
func BenchmarkReceiverHeap(b *testing.B) {
	for b.Loop() {
		b.ReportMetric(float64(receiverGrowth(b, 100_000)), "retained-bytes")
	}
}
