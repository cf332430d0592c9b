package smp

import (
	"bytes"
	"encoding/binary"
)

// OTR3 SMP TLV values carry "the number of MPIs ... followed by the MPIs"
// (OTR3 spec, "Data Message", SMP Message TLVs); type 7 prefixes them with a
// NUL-terminated question.

// mpiMaxLen3 bounds every MPI of an OTR3 SMP message: group elements and
// exponents are at most 192 bytes (1536 bits).
const mpiMaxLen3 = 192

// appendMPIs3 appends the count and the MPIs (minimal encodings) to dst.
func appendMPIs3(dst []byte, vals ...[]byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(vals)))
	for _, v := range vals {
		for len(v) > 0 && v[0] == 0 {
			v = v[1:]
		}
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// parseMPIs3 parses exactly want MPIs. The declared count must equal want
// and is checked before anything is allocated; every MPI must be minimal
// and at most 192 bytes, and nothing may follow the last one. The returned
// slices alias payload.
func parseMPIs3(payload []byte, want int) ([][]byte, bool) {
	if len(payload) < 4 || binary.BigEndian.Uint32(payload) != uint32(want) {
		return nil, false
	}
	s := payload[4:]
	out := make([][]byte, want)
	for i := range out {
		if len(s) < 4 {
			return nil, false
		}
		n := binary.BigEndian.Uint32(s)
		if n > mpiMaxLen3 || int(n) > len(s)-4 {
			return nil, false
		}
		v := s[4 : 4+n]
		if n > 0 && v[0] == 0 {
			return nil, false
		}
		out[i] = v
		s = s[4+n:]
	}
	return out, len(s) == 0
}

// splitQuestion3 splits a type 7 value into the question and the rest.
func splitQuestion3(payload []byte) (question string, rest []byte, ok bool) {
	i := bytes.IndexByte(payload, 0)
	if i < 0 {
		return "", nil, false
	}
	return string(payload[:i]), payload[i+1:], true
}
