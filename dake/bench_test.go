package dake

import (
	"testing"
)

// BenchmarkDAKE runs a whole interactive DAKE (both sides).
func BenchmarkDAKE(b *testing.B) {
	bob := testParty(b, 0x1000, 1, "bob", "alice")
	alice := testParty(b, 0x2000, 2, "alice", "bob")
	for b.Loop() {
		r1, _ := bob.Start()
		r2 := mustReceive(b, alice, r1.Send)
		r3 := mustReceive(b, bob, r2.Send)
		r4 := mustReceive(b, alice, r3.Send)
		if r3.Keys == nil || r4.Keys == nil {
			b.Fatal("DAKE did not complete")
		}
	}
}
