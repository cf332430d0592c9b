package smp

import (
	"golang.org/x/crypto/cryptobyte"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

// OTRv4 SMP TLV values (OTRv4 spec, "SMP Message 1" to "SMP Message 4"): a
// fixed sequence of 57-byte POINTs and SCALARs, message 1 preceded by the
// question as DATA. Names follow the spec.

// smp4Msg1Fixed is the size of message 1 after its question: G2a, c2, d2,
// G3a, c3, d3.
const smp4Msg1Fixed = 2*otrcrypto.PointSize + 4*otrcrypto.ScalarSize

// maxQuestionLen4 keeps message 1 (DATA question, then the fixed part)
// within the 16-bit TLV length.
const maxQuestionLen4 = 0xFFFF - 4 - smp4Msg1Fixed

// smp4Msg1 is SMP message 1 (TLV type 2).
type smp4Msg1 struct {
	question []byte
	g2a      otrcrypto.Point
	c2, d2   otrcrypto.Scalar
	g3a      otrcrypto.Point
	c3, d3   otrcrypto.Scalar
}

// smp4Msg2 is SMP message 2 (TLV type 3).
type smp4Msg2 struct {
	g2b        otrcrypto.Point
	c2, d2     otrcrypto.Scalar
	g3b        otrcrypto.Point
	c3, d3     otrcrypto.Scalar
	pb, qb     otrcrypto.Point
	cp, d5, d6 otrcrypto.Scalar
}

// smp4Msg3 is SMP message 3 (TLV type 4).
type smp4Msg3 struct {
	pa, qa     otrcrypto.Point
	cp, d5, d6 otrcrypto.Scalar
	ra         otrcrypto.Point
	cr, d7     otrcrypto.Scalar
}

// smp4Msg4 is SMP message 4 (TLV type 5).
type smp4Msg4 struct {
	rb     otrcrypto.Point
	cr, d7 otrcrypto.Scalar
}

func smp4AddPoint(b *cryptobyte.Builder, p *otrcrypto.Point) {
	v := p.Bytes()
	b.AddBytes(v[:])
}

func smp4AddScalar(b *cryptobyte.Builder, s *otrcrypto.Scalar) {
	v := s.Bytes()
	b.AddBytes(v[:])
}

// smp4ReadPoint reads a POINT validated by ParsePoint: 57 bytes, canonical,
// on the curve, not the identity, in the prime-order subgroup (OTRv4 spec,
// "Verifying that a point is on the curve").
func smp4ReadPoint(s *cryptobyte.String, p *otrcrypto.Point) bool {
	var v []byte
	if !s.ReadBytes(&v, otrcrypto.PointSize) {
		return false
	}
	var err error
	*p, err = otrcrypto.ParsePoint(v)
	return err == nil
}

// smp4ReadScalar reads a SCALAR. ParseScalar rejects zero and values >= q
// where the spec (and otr4j) would reduce: docs/interop.md (OTRv4), "A zero
// scalar ... from the wire is an error"; otr4j only sends reduced scalars.
func smp4ReadScalar(s *cryptobyte.String, x *otrcrypto.Scalar) bool {
	var v []byte
	if !s.ReadBytes(&v, otrcrypto.ScalarSize) {
		return false
	}
	var err error
	*x, err = otrcrypto.ParseScalar(v)
	return err == nil
}

// smp4Bytes returns what b built. The builders here write fixed sizes and a
// question bounded by the callers, so an error is a broken invariant.
func smp4Bytes(b *cryptobyte.Builder) []byte {
	out, err := b.Bytes()
	if err != nil {
		panic("otr: internal error: " + err.Error())
	}
	return out
}

func (m *smp4Msg1) marshal() []byte {
	b := cryptobyte.NewFixedBuilder(make([]byte, 0, 4+len(m.question)+smp4Msg1Fixed))
	// "If there is no question input from the user, the length of this is 0".
	otrencoding.AddData(b, m.question)
	smp4AddPoint(b, &m.g2a)
	smp4AddScalar(b, &m.c2)
	smp4AddScalar(b, &m.d2)
	smp4AddPoint(b, &m.g3a)
	smp4AddScalar(b, &m.c3)
	smp4AddScalar(b, &m.d3)
	return smp4Bytes(b)
}

// parse resets m and reads exactly payload; on failure m holds no partial
// value.
func (m *smp4Msg1) parse(payload []byte) bool {
	*m = smp4Msg1{}
	s := cryptobyte.String(payload)
	var v smp4Msg1
	if !otrencoding.ReadData(&s, &v.question) ||
		!smp4ReadPoint(&s, &v.g2a) || !smp4ReadScalar(&s, &v.c2) || !smp4ReadScalar(&s, &v.d2) ||
		!smp4ReadPoint(&s, &v.g3a) || !smp4ReadScalar(&s, &v.c3) || !smp4ReadScalar(&s, &v.d3) ||
		!s.Empty() {
		return false
	}
	*m = v
	return true
}

func (m *smp4Msg2) marshal() []byte {
	b := cryptobyte.NewFixedBuilder(make([]byte, 0, 4*otrcrypto.PointSize+7*otrcrypto.ScalarSize))
	smp4AddPoint(b, &m.g2b)
	smp4AddScalar(b, &m.c2)
	smp4AddScalar(b, &m.d2)
	smp4AddPoint(b, &m.g3b)
	smp4AddScalar(b, &m.c3)
	smp4AddScalar(b, &m.d3)
	smp4AddPoint(b, &m.pb)
	smp4AddPoint(b, &m.qb)
	smp4AddScalar(b, &m.cp)
	smp4AddScalar(b, &m.d5)
	smp4AddScalar(b, &m.d6)
	return smp4Bytes(b)
}

func (m *smp4Msg2) parse(payload []byte) bool {
	*m = smp4Msg2{}
	s := cryptobyte.String(payload)
	var v smp4Msg2
	if !smp4ReadPoint(&s, &v.g2b) || !smp4ReadScalar(&s, &v.c2) || !smp4ReadScalar(&s, &v.d2) ||
		!smp4ReadPoint(&s, &v.g3b) || !smp4ReadScalar(&s, &v.c3) || !smp4ReadScalar(&s, &v.d3) ||
		!smp4ReadPoint(&s, &v.pb) || !smp4ReadPoint(&s, &v.qb) ||
		!smp4ReadScalar(&s, &v.cp) || !smp4ReadScalar(&s, &v.d5) || !smp4ReadScalar(&s, &v.d6) ||
		!s.Empty() {
		return false
	}
	*m = v
	return true
}

func (m *smp4Msg3) marshal() []byte {
	b := cryptobyte.NewFixedBuilder(make([]byte, 0, 3*otrcrypto.PointSize+5*otrcrypto.ScalarSize))
	smp4AddPoint(b, &m.pa)
	smp4AddPoint(b, &m.qa)
	smp4AddScalar(b, &m.cp)
	smp4AddScalar(b, &m.d5)
	smp4AddScalar(b, &m.d6)
	smp4AddPoint(b, &m.ra)
	smp4AddScalar(b, &m.cr)
	smp4AddScalar(b, &m.d7)
	return smp4Bytes(b)
}

func (m *smp4Msg3) parse(payload []byte) bool {
	*m = smp4Msg3{}
	s := cryptobyte.String(payload)
	var v smp4Msg3
	if !smp4ReadPoint(&s, &v.pa) || !smp4ReadPoint(&s, &v.qa) ||
		!smp4ReadScalar(&s, &v.cp) || !smp4ReadScalar(&s, &v.d5) || !smp4ReadScalar(&s, &v.d6) ||
		!smp4ReadPoint(&s, &v.ra) || !smp4ReadScalar(&s, &v.cr) || !smp4ReadScalar(&s, &v.d7) ||
		!s.Empty() {
		return false
	}
	*m = v
	return true
}

func (m *smp4Msg4) marshal() []byte {
	b := cryptobyte.NewFixedBuilder(make([]byte, 0, otrcrypto.PointSize+2*otrcrypto.ScalarSize))
	smp4AddPoint(b, &m.rb)
	smp4AddScalar(b, &m.cr)
	smp4AddScalar(b, &m.d7)
	return smp4Bytes(b)
}

func (m *smp4Msg4) parse(payload []byte) bool {
	*m = smp4Msg4{}
	s := cryptobyte.String(payload)
	var v smp4Msg4
	if !smp4ReadPoint(&s, &v.rb) || !smp4ReadScalar(&s, &v.cr) || !smp4ReadScalar(&s, &v.d7) || !s.Empty() {
		return false
	}
	*m = v
	return true
}
