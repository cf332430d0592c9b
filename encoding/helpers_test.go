package encoding

import (
	"math/rand/v2"
)

// newRand returns a deterministic source for tests.
func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x6f7472))
}

func randBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// randMPI returns a minimal big-endian value of up to max bytes, sometimes
// zero (the empty value).
func randMPI(r *rand.Rand, max int) []byte {
	n := r.IntN(max + 1)
	b := randBytes(r, n)
	if n > 0 && b[0] == 0 {
		b[0] = 1 + byte(r.IntN(255))
	}
	return b
}

func randDSAPublicKey(r *rand.Rand) DSAPublicKey {
	q := randMPI(r, 32)
	if len(q) == 0 {
		q = []byte{0x80, 0x01}
	}
	return DSAPublicKey{P: randMPI(r, 128), Q: q, G: randMPI(r, 128), Y: randMPI(r, 128)}
}
