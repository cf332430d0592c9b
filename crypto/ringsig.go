package crypto

// OTRv4 ring signatures (OTRv4 spec, appendix "Ring Signature
// Authentication"): sigma = RSig(A_i, a_i, {A1, A2, A3}, m) and
// RVrf({A1, A2, A3}, sigma, m). Names follow the spec (Ti, ci, ri, t).

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"io"
)

// RingSignatureSize is the size of an encoded ring signature (RING-SIG):
// six 57-byte scalars.
const RingSignatureSize = 6 * ScalarSize

// ErrRingSignKey is returned by RingSign when the secret's public key is not
// exactly one of the three ring members (or a ring member is the identity).
var ErrRingSignKey = errors.New("crypto: ring signature key is not exactly one ring member")

// RingSignature is sigma = (c1, r1, c2, r2, c3, r3).
type RingSignature struct {
	C1, R1, C2, R2, C3, R3 Scalar
}

// ParseRingSignature decodes a RING-SIG: six SCALARs, each rejected by
// [ParseScalar] if zero or not below q. otr4j reduces such scalars instead
// (docs/interop.md, OTRv4: this library is deliberately stricter).
func ParseRingSignature(b []byte) (RingSignature, error) {
	var sig RingSignature
	if len(b) != RingSignatureSize {
		return RingSignature{}, ErrInvalidScalar
	}
	for i, p := range sig.scalars() {
		s, err := ParseScalar(b[i*ScalarSize : (i+1)*ScalarSize])
		if err != nil {
			return RingSignature{}, err
		}
		*p = s
	}
	return sig, nil
}

func (sig *RingSignature) scalars() [6]*Scalar {
	return [6]*Scalar{&sig.C1, &sig.R1, &sig.C2, &sig.R2, &sig.C3, &sig.R3}
}

// Bytes returns the RING-SIG encoding c1 || r1 || c2 || r2 || c3 || r3.
func (sig *RingSignature) Bytes() [RingSignatureSize]byte {
	var out [RingSignatureSize]byte
	for i, p := range sig.scalars() {
		b := p.Bytes()
		copy(out[i*ScalarSize:], b[:])
	}
	return out
}

// ringChallenge computes c = HashToScalar(usage_auth || G || q || A1 || A2 ||
// A3 || T1 || T2 || T3 || DATA(m)). docs/interop.md, OTRv4 ("Ring signature
// challenge"): m is length-prefixed (DATA) and q is written as 57 bytes
// little-endian, unreduced, as otr4j does.
func ringChallenge(A, T *[3][PointSize]byte, m []byte) Scalar {
	g := NewGeneratorPoint().Bytes()
	var mlen [4]byte
	binary.BigEndian.PutUint32(mlen[:], uint32(len(m)))
	return HashToScalar(UsageAuth, g[:], ed448Q[:],
		A[0][:], A[1][:], A[2][:], T[0][:], T[1][:], T[2][:], mlen[:], m)
}

// RingSign returns a ring signature of m by the holder of secret, whose
// public key G*secret must be exactly one of a1, a2, a3.
//
// It draws seven random scalars from rand as [GenerateScalar] does, in
// otr4j's order: t, then (c, r) for positions 1, 2 and 3 (the pair of the
// signer's position is drawn and unused). Which position signs is hidden from
// timing: all three branches are computed with constant-time operations and
// the results are chosen by constant-time selection (the spec's
// "constant_time_select").
func RingSign(rand io.Reader, secret *Scalar, a1, a2, a3 *Point, m []byte) (RingSignature, error) {
	var rnd [7]Scalar
	defer func() {
		for i := range rnd {
			rnd[i].Wipe()
		}
	}()
	for i := range rnd {
		var err error
		if rnd[i], err = GenerateScalar(rand); err != nil {
			return RingSignature{}, err
		}
	}
	return ringSign(secret, [3]*Point{a1, a2, a3}, m, &rnd)
}

// ringSign is RingSign with the seven random scalars given: t, c1, r1, c2,
// r2, c3, r3.
func ringSign(secret *Scalar, A [3]*Point, m []byte, rnd *[7]Scalar) (RingSignature, error) {
	t := &rnd[0]
	var Aenc [3][PointSize]byte
	for i, a := range A {
		if a.IsIdentity() {
			return RingSignature{}, ErrRingSignKey
		}
		Aenc[i] = a.Bytes()
	}

	// P = G * ai; eqi = constant_time_eq(P, Ai).
	var P Point
	P.ScalarBaseMult(secret)
	Penc := P.Bytes()
	var eq [3]int
	for i := range A {
		eq[i] = subtle.ConstantTimeCompare(Penc[:], Aenc[i][:])
	}
	if eq[0]+eq[1]+eq[2] != 1 {
		return RingSignature{}, ErrRingSignKey
	}

	// Ti = select(eqi, G * t, G * ri + Ai * ci), every branch computed.
	var tG Point
	tG.ScalarBaseMult(t)
	tGenc := tG.Bytes()
	var T [3][PointSize]byte
	for i := range A {
		ci, ri := &rnd[1+2*i], &rnd[2+2*i]
		var rG, cA Point
		rG.ScalarBaseMult(ri)
		cA.ScalarMult(ci, A[i])
		sim := new(Point).Add(&rG, &cA).Bytes()
		T[i] = sim
		subtle.ConstantTimeCopy(eq[i], T[i][:], tGenc[:])
	}

	c := ringChallenge(&Aenc, &T, m)

	// For the signer's position i: ci = c - cj - ck, ri = t - ci * ai.
	// Computed for every position, kept for the signer's only.
	var sig RingSignature
	out := [3][2]*Scalar{{&sig.C1, &sig.R1}, {&sig.C2, &sig.R2}, {&sig.C3, &sig.R3}}
	for i := range A {
		j, k := (i+1)%3, (i+2)%3
		var ci, ri, tmp Scalar
		ci.Subtract(&c, &rnd[1+2*j])
		ci.Subtract(&ci, &rnd[1+2*k])
		tmp.Multiply(&ci, secret)
		ri.Subtract(t, &tmp)
		out[i][0].ed448Select(eq[i], &ci, &rnd[1+2*i])
		out[i][1].ed448Select(eq[i], &ri, &rnd[2+2*i])
		ci.Wipe()
		ri.Wipe()
		tmp.Wipe()
	}
	c.Wipe()
	return sig, nil
}

// RingVerify reports whether sig is a valid ring signature of m for the ring
// a1, a2, a3 (RVrf). The points must come from [ParsePoint] (or keys of this
// package); an identity member fails verification. It is not constant time:
// all its inputs are public.
func RingVerify(a1, a2, a3 *Point, sig *RingSignature, m []byte) bool {
	A := [3]*Point{a1, a2, a3}
	cr := [3][2]*Scalar{{&sig.C1, &sig.R1}, {&sig.C2, &sig.R2}, {&sig.C3, &sig.R3}}
	var Aenc, T [3][PointSize]byte
	for i, a := range A {
		if a.IsIdentity() {
			return false
		}
		Aenc[i] = a.Bytes()
		// Ti = G * ri + Ai * ci
		T[i] = new(Point).VarTimeDoubleScalarBaseMult(cr[i][0], a, cr[i][1]).Bytes()
	}
	c := ringChallenge(&Aenc, &T, m)
	var sum Scalar
	sum.Add(&sig.C1, &sig.C2)
	sum.Add(&sum, &sig.C3)
	return c.Equal(&sum)
}
