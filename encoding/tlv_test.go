package encoding

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

func TestParsePlaintext(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		wantMsg  string
		wantTLVs []TLV
		wantErr  error
	}{
		{name: "empty", in: ""},
		{name: "text only", in: hex.EncodeToString([]byte("hello")), wantMsg: "hello"},
		{name: "text and NUL", in: "6869" + "00", wantMsg: "hi"},
		// The two TLV examples of OTR3 spec, "Data Message".
		{name: "disconnected", in: "00" + "00010000", wantTLVs: []TLV{{Type: TLVDisconnected, Value: []byte{}}}},
		{name: "padding hello", in: "6869" + "00" + "000000056865" + "6c6c6f", wantMsg: "hi",
			wantTLVs: []TLV{{Type: TLVPadding, Value: []byte("hello")}}},
		{name: "two TLVs", in: "00" + "0006" + "0000" + "0008" + "0004" + "00000001", wantTLVs: []TLV{
			{Type: TLVSMPAbort, Value: []byte{}}, {Type: TLVExtraSymKey, Value: []byte{0, 0, 0, 1}}}},
		{name: "truncated type", in: "00" + "00", wantErr: ErrMalformed},
		{name: "truncated length", in: "00" + "0001" + "00", wantErr: ErrMalformed},
		{name: "truncated value", in: "00" + "0001" + "0002" + "aa", wantErr: ErrMalformed},
		{name: "second truncated", in: "00" + "00010000" + "0001", wantErr: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := hex.DecodeString(tc.in)
			msg, tlvs, err := ParsePlaintext(in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ParsePlaintext(%s) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if err != nil {
				if msg != nil || tlvs != nil {
					t.Errorf("ParsePlaintext(%s) = %q, %v with an error", tc.in, msg, tlvs)
				}
				return
			}
			if string(msg) != tc.wantMsg || !reflect.DeepEqual(tlvs, tc.wantTLVs) {
				t.Errorf("ParsePlaintext(%s) = %q, %v, want %q, %v", tc.in, msg, tlvs, tc.wantMsg, tc.wantTLVs)
			}
		})
	}
}

func TestPlaintextRoundTrip(t *testing.T) {
	r := newRand(5)
	for i := range 100 {
		msg := bytes.ReplaceAll(randBytes(r, r.IntN(30)), []byte{0}, []byte{1})
		var tlvs []TLV
		for range r.IntN(4) {
			tlvs = append(tlvs, TLV{Type: uint16(r.IntN(10)), Value: randBytes(r, r.IntN(50))})
		}
		enc := MarshalPlaintext(msg, tlvs)
		gotMsg, gotTLVs, err := ParsePlaintext(enc)
		if err != nil || !bytes.Equal(gotMsg, msg) || !reflect.DeepEqual(gotTLVs, tlvs) {
			t.Fatalf("%d: ParsePlaintext(MarshalPlaintext(%q, %v)) = %q, %v, %v", i, msg, tlvs, gotMsg, gotTLVs, err)
		}
		// Every strict prefix that cuts into a TLV must fail.
		if len(tlvs) > 0 {
			for n := len(msg) + 2; n < len(enc); n++ {
				_, got, err := ParsePlaintext(enc[:n])
				if err == nil && len(got) == len(tlvs) {
					t.Fatalf("%d: ParsePlaintext accepted the %d-byte prefix with all TLVs", i, n)
				}
			}
		}
	}
}

func TestMarshalPlaintext(t *testing.T) {
	if got := MarshalPlaintext([]byte("hi"), nil); string(got) != "hi" {
		t.Errorf("MarshalPlaintext(hi, nil) = %x", got)
	}
	got := MarshalPlaintext(nil, []TLV{{Type: TLVDisconnected}})
	if want := []byte{0, 0, 1, 0, 0}; !bytes.Equal(got, want) {
		t.Errorf("MarshalPlaintext(nil, disconnected) = %x, want %x", got, want)
	}
}
