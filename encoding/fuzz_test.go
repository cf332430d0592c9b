package encoding

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

func FuzzParseEnvelope(f *testing.F) {
	for _, s := range []string{"", "hello", "?OTR", "?OTR?", "?OTRv", "?OTR?v", "?OTRv34?", "?OTR?v23? hi",
		"?OTRv?4?", "?OTR Error: x", "?OTR:AAMD.", "?OTR:AAMD", "?OTR|1|2,1,1,x,", "?OTR,1,1,x,",
		"x" + WhitespaceTag(V3|V4) + "y", whitespaceBase + "        "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		env, err := ParseEnvelope(msg)
		if err != nil {
			if env.Kind != KindPlaintext || env.Text != "" || env.Payload != nil {
				t.Fatalf("ParseEnvelope(%q) = %+v with error %v", msg, env, err)
			}
			return
		}
		switch env.Kind {
		case KindEncoded:
			again, err := ParseEnvelope(EncodeMessage(env.Payload))
			if err != nil || !bytes.Equal(again.Payload, env.Payload) {
				t.Fatalf("encoded payload %x does not round-trip: %v", env.Payload, err)
			}
		case KindPlaintext:
			if env.Versions == 0 && !strings.Contains(msg, whitespaceBase) && env.Text != msg {
				t.Fatalf("ParseEnvelope(%q) changed untagged text to %q", msg, env.Text)
			}
			if len(env.Text) > len(msg) {
				t.Fatalf("ParseEnvelope(%q) grew the text", msg)
			}
		case KindQuery, KindError, KindFragment:
			if env.Payload != nil {
				t.Fatalf("ParseEnvelope(%q) = %+v has a payload", msg, env)
			}
		default:
			t.Fatalf("ParseEnvelope(%q) kind %v", msg, env.Kind)
		}
	})
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0, 3, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0xaa})
	f.Add([]byte{0, 4, 0x35, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add([]byte{0, 2, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, body, err := ParseHeader(in)
		if err != nil {
			if h != (Header{}) || body != nil {
				t.Fatalf("ParseHeader(%x) = %+v, %x with an error", in, h, body)
			}
			return
		}
		if got := Marshal(h, rawBody(body)); !bytes.Equal(got, in) {
			t.Fatalf("Marshal(ParseHeader(%x)) = %x", in, got)
		}
	})
}

type rawBody []byte

func (r rawBody) Marshal(b *cryptobyte.Builder) { b.AddBytes(r) }

// FuzzOTR3Message parses an encoded payload as the OTR3 message its header
// names and checks that marshaling the result gives the input back.
func FuzzOTR3Message(f *testing.F) {
	r := newRand(6)
	for _, tc := range bodyCases(r) {
		typ := map[string]MsgType{"DHCommit": MsgDHCommit, "DHKey": MsgDHKey, "RevealSig": MsgRevealSig,
			"Sig": MsgSig, "DataMessage": MsgData}[tc.name]
		if typ == 0 {
			continue
		}
		f.Add(Marshal(Header{Version: Version3, Type: typ, Sender: 0x100, Receiver: 0x200}, tc.full))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		h, b, err := ParseHeader(in)
		if err != nil {
			return
		}
		var m body
		switch h.Type {
		case MsgDHCommit:
			m = new(DHCommit)
		case MsgDHKey:
			m = new(DHKey)
		case MsgRevealSig:
			m = new(RevealSig)
		case MsgSig:
			m = new(Sig)
		case MsgData:
			m = new(DataMessage)
		default:
			return
		}
		if err := m.Unmarshal(b); err != nil {
			zero := reflect.New(reflect.TypeOf(m).Elem()).Interface()
			if !reflect.DeepEqual(m, zero) {
				t.Fatalf("Unmarshal(%x) left %+v with error %v", b, m, err)
			}
			return
		}
		if got := Marshal(h, m); !bytes.Equal(got, in) {
			t.Fatalf("Marshal(parse(%x)) = %x", in, got)
		}
		if dm, ok := m.(*DataMessage); ok {
			if auth := dm.AuthenticatedPart(h); !bytes.HasPrefix(in, auth) {
				t.Fatalf("AuthenticatedPart %x is not a prefix of %x", auth, in)
			}
		}
	})
}

func FuzzSignedKey(f *testing.F) {
	r := newRand(7)
	key := randDSAPublicKey(r)
	f.Add(marshalBody(&SignedKey{PublicKey: key, KeyID: 1, Sig: randBytes(r, 2*len(key.Q))}))
	f.Fuzz(func(t *testing.T, in []byte) {
		var m SignedKey
		if err := m.Unmarshal(in); err != nil {
			if !reflect.DeepEqual(m, SignedKey{}) {
				t.Fatalf("Unmarshal(%x) left %+v", in, m)
			}
			return
		}
		if got := marshalBody(&m); !bytes.Equal(got, in) {
			t.Fatalf("Marshal(Unmarshal(%x)) = %x", in, got)
		}
	})
}

func FuzzParsePlaintext(f *testing.F) {
	for _, s := range []string{"", "6869", "686900", "00" + "00010000", "6869" + "00" + "000000056865" + "6c6c6f", "000001"} {
		in, _ := hex.DecodeString(s)
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		msg, tlvs, err := ParsePlaintext(in)
		if err != nil {
			if msg != nil || tlvs != nil {
				t.Fatalf("ParsePlaintext(%x) = %x, %v with an error", in, msg, tlvs)
			}
			return
		}
		want := in
		if len(in) > 0 && len(tlvs) == 0 && bytes.IndexByte(in, 0) == len(in)-1 {
			want = in[:len(in)-1] // a NUL followed by no TLVs is not re-marshaled
		}
		if got := MarshalPlaintext(msg, tlvs); !bytes.Equal(got, want) {
			t.Fatalf("MarshalPlaintext(ParsePlaintext(%x)) = %x", in, got)
		}
	})
}
