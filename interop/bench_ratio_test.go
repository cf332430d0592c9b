package interop

import (
	"fmt"
	"testing"
	"time"
)

// benchKinds are the operations measured on both libraries. Data messages
// come in two sizes, as sub-benchmarks.
var benchKinds = []struct {
	name  string
	sizes []int
	batch int // units per timed stretch in BenchmarkRatio
}{
	{"AKE", nil, 1},
	{"DataMessage", []int{100, 10 << 10}, 4},         // ping-pong: every message turns the D-H ratchet
	{"DataMessageOneWay", []int{100, 10 << 10}, 256}, // one direction: no new D-H key
	{"SMP", nil, 1},
}

// sizeName names a message size as the sub-benchmarks do.
func sizeName(n int) string {
	if n >= 1<<10 {
		return fmt.Sprintf("%dKiB", n>>10)
	}
	return fmt.Sprintf("%dB", n)
}

type opFunc func(tb testing.TB, kind string, size int) (op, check func())

// runBench runs kind on one library as a plain benchmark, with
// sub-benchmarks per message size.
func runBench(b *testing.B, mk opFunc, kind string) {
	for _, k := range benchKinds {
		if k.name != kind {
			continue
		}
		if k.sizes == nil {
			op, check := mk(b, kind, 0)
			for b.Loop() {
				op()
			}
			check()
			return
		}
		for _, size := range k.sizes {
			b.Run(sizeName(size), func(b *testing.B) {
				op, check := mk(b, kind, size)
				b.SetBytes(int64(size))
				for b.Loop() {
					op()
				}
				check()
			})
		}
	}
}

// BenchmarkRatio measures our library and libotr on the same operations
// in alternating stretches of a few units each, so that both see the same
// machine: on a shared machine whose speed drifts, separate benchmarks can
// run minutes apart. It reports ours-ns/op, libotr-ns/op and their ratio
// ours/libotr (below 1: we are faster).
func BenchmarkRatio(b *testing.B) {
	for _, k := range benchKinds {
		sizes := k.sizes
		if sizes == nil {
			sizes = []int{0}
		}
		for _, size := range sizes {
			name := k.name
			if size > 0 {
				name += "/" + sizeName(size)
			}
			b.Run(name, func(b *testing.B) {
				ours, oursCheck := ourOp(b, k.name, size)
				lib, libCheck := libotrOp(b, k.name, size)
				var tOurs, tLib time.Duration
				units := 0
				for b.Loop() {
					start := time.Now()
					for range k.batch {
						ours()
					}
					mid := time.Now()
					for range k.batch {
						lib()
					}
					tLib += time.Since(mid)
					tOurs += mid.Sub(start)
					units += k.batch
				}
				oursCheck()
				libCheck()
				b.ReportMetric(float64(tOurs.Nanoseconds())/float64(units), "ours-ns/op")
				b.ReportMetric(float64(tLib.Nanoseconds())/float64(units), "libotr-ns/op")
				b.ReportMetric(float64(tOurs)/float64(tLib), "ours/libotr")
			})
		}
	}
}
