package encoding

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/otrgo/otr/internal/vectors"
	"golang.org/x/crypto/cryptobyte"
)

func randDataMessage4(r *rand.Rand) DataMessage4 {
	m := DataMessage4{
		Flags: uint8(r.Uint32()), PN: r.Uint32(), RatchetID: r.Uint32(), MessageID: r.Uint32(),
		Ciphertext:      randBytes(r, r.IntN(300)),
		RevealedMACKeys: randBytes(r, AuthenticatorLen*r.IntN(4)),
	}
	copy(m.ECDH[:], randBytes(r, PointLen))
	copy(m.Authenticator[:], randBytes(r, AuthenticatorLen))
	if r.IntN(2) == 0 {
		m.DH = randMPI(r, 384)
	}
	if len(m.DH) == 0 {
		m.DH = nil
	}
	if len(m.Ciphertext) == 0 {
		m.Ciphertext = nil
	}
	if len(m.RevealedMACKeys) == 0 {
		m.RevealedMACKeys = nil
	}
	return m
}

func marshalDataMessage4(h Header, m *DataMessage4) []byte {
	var b cryptobyte.Builder
	h.Marshal(&b)
	m.Marshal(&b)
	return b.BytesOrPanic()
}

var testHeader4 = Header{Version: Version4, Type: MsgData, Sender: 0x9c3d2b77, Receiver: 0x4f8e5a01}

func TestDataMessage4RoundTrip(t *testing.T) {
	r := newRand(44)
	for n := range 40 {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			m := randDataMessage4(r)
			enc := marshalDataMessage4(testHeader4, &m)
			h, got, authLen, err := ParseDataMessage4(enc)
			if err != nil {
				t.Fatalf("ParseDataMessage4 error = %v", err)
			}
			if h != testHeader4 || !reflect.DeepEqual(got, m) {
				t.Fatalf("ParseDataMessage4 = %+v, %x, want %+v, %x", h, marshalDataMessage4(h, &got), testHeader4, enc)
			}
			if auth := m.AuthenticatedPart(h); !bytes.Equal(enc[:authLen], auth) {
				t.Errorf("authenticated prefix %x, AuthenticatedPart %x", enc[:authLen], auth)
			}
			// Every strict prefix must fail, and so must a trailing byte.
			for i := range enc {
				if _, _, _, err := ParseDataMessage4(enc[:i]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("ParseDataMessage4(prefix %d of %d) error = %v, want ErrMalformed", i, len(enc), err)
				}
			}
			var again DataMessage4
			if err := again.Unmarshal(append(enc[HeaderLen:], 0)); !errors.Is(err, ErrMalformed) || !reflect.DeepEqual(again, DataMessage4{}) {
				t.Errorf("Unmarshal(with trailing byte) = %+v, %v", again, err)
			}
		})
	}
}

func TestDataMessage4Reject(t *testing.T) {
	r := newRand(45)
	m := randDataMessage4(r)
	m.DH = []byte{1, 2, 3}
	m.RevealedMACKeys = nil
	good := marshalDataMessage4(testHeader4, &m)
	dhAt := HeaderLen + 1 + 12 + PointLen
	tests := []struct {
		name string
		in   []byte
	}{
		{"version 3", append([]byte{0, 3}, good[2:]...)},
		{"wrong type", append([]byte{0, 4, byte(MsgIdentity)}, good[3:]...)},
		{"non-minimal DH", func() []byte {
			b := bytes.Clone(good[:dhAt])
			b = append(b, 0, 0, 0, 4, 0, 1, 2, 3)
			return append(b, good[dhAt+7:]...)
		}()},
		{"revealed keys not a multiple of 64", func() []byte {
			b := bytes.Clone(good[:len(good)-4])
			return append(b, 0, 0, 0, 3, 1, 2, 3)
		}()},
		{"DH longer than 384 bytes", func() []byte {
			m2 := m
			m2.DH = append([]byte{1}, make([]byte, 384)...)
			return marshalDataMessage4(testHeader4, &m2)
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h, got, n, err := ParseDataMessage4(tc.in)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseDataMessage4 error = %v, want ErrMalformed", err)
			}
			if h != (Header{}) || !reflect.DeepEqual(got, DataMessage4{}) || n != 0 {
				t.Errorf("ParseDataMessage4 returned a partial value with its error")
			}
		})
	}
}

// v4DataVectors holds the encoded data messages of otr4j's dake.json and
// ratchet.json.
type v4DataVectors struct {
	DataMessages []v4DataVector `json:"data_messages"`
	Conversation []v4DataVector `json:"conversation"`
}

type v4DataVector struct {
	Comment            string      `json:"comment"`
	Flags              uint8       `json:"flags"`
	PN                 uint32      `json:"pn"`
	RatchetID          uint32      `json:"ratchet_id"`
	MessageID          uint32      `json:"message_id"`
	ECDHPublic         vectors.Hex `json:"ecdh_public"`
	DHPublic           vectors.Hex `json:"dh_public"`
	Ciphertext         vectors.Hex `json:"ciphertext"`
	AuthenticatedBytes vectors.Hex `json:"authenticated_bytes"`
	Authenticator      vectors.Hex `json:"authenticator"`
	RevealedMACKeys    vectors.Hex `json:"revealed_mac_keys"`
	Encoded            vectors.Hex `json:"encoded"`
}

// TestDataMessage4Vectors parses every data message otr4j encoded in
// dake.json and ratchet.json, checks each field and marshals it back.
func TestDataMessage4Vectors(t *testing.T) {
	for _, file := range []string{"otrv4/dake.json", "otrv4/ratchet.json"} {
		var f v4DataVectors
		vectors.Load(t, file, &f)
		all := append(f.DataMessages, f.Conversation...)
		if len(all) == 0 {
			t.Fatalf("%s: no data messages", file)
		}
		for i, v := range all {
			t.Run(fmt.Sprintf("%s/%d", file, i), func(t *testing.T) {
				h, m, authLen, err := ParseDataMessage4(v.Encoded)
				if err != nil {
					t.Fatalf("%s: ParseDataMessage4 error = %v", v.Comment, err)
				}
				if h.Version != Version4 || h.Type != MsgData {
					t.Errorf("header = %+v", h)
				}
				if m.Flags != v.Flags || m.PN != v.PN || m.RatchetID != v.RatchetID || m.MessageID != v.MessageID {
					t.Errorf("flags, pn, i, j = %d %d %d %d, want %d %d %d %d", m.Flags, m.PN, m.RatchetID, m.MessageID,
						v.Flags, v.PN, v.RatchetID, v.MessageID)
				}
				if !bytes.Equal(m.ECDH[:], v.ECDHPublic) || !bytes.Equal(m.DH, v.DHPublic) ||
					!bytes.Equal(m.Ciphertext, v.Ciphertext) || !bytes.Equal(m.Authenticator[:], v.Authenticator) ||
					!bytes.Equal(m.RevealedMACKeys, v.RevealedMACKeys) {
					t.Errorf("fields differ from the vector: %+v", m)
				}
				if !bytes.Equal(v.Encoded[:authLen], v.AuthenticatedBytes) {
					t.Errorf("authenticated prefix %x, want %x", v.Encoded[:authLen], v.AuthenticatedBytes)
				}
				if got := marshalDataMessage4(h, &m); !bytes.Equal(got, v.Encoded) {
					t.Errorf("marshal = %x, want %x", got, v.Encoded)
				}
			})
		}
	}
}

// FuzzV4DataMessage checks that a parsed OTRv4 Data message marshals back to
// its input, that the authenticated prefix is consistent, and that an error
// leaves no partial value.
func FuzzV4DataMessage(f *testing.F) {
	r := newRand(46)
	for range 4 {
		m := randDataMessage4(r)
		f.Add(marshalDataMessage4(testHeader4, &m))
	}
	f.Add([]byte{0, 4, 3, 0, 0, 1, 0, 0, 0, 2, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		h, m, authLen, err := ParseDataMessage4(in)
		if err != nil {
			if h != (Header{}) || !reflect.DeepEqual(m, DataMessage4{}) || authLen != 0 {
				t.Fatalf("ParseDataMessage4(%x) returned a partial value with error %v", in, err)
			}
			return
		}
		if got := marshalDataMessage4(h, &m); !bytes.Equal(got, in) {
			t.Fatalf("marshal = %x, want %x", got, in)
		}
		if !bytes.Equal(in[:authLen], m.AuthenticatedPart(h)) {
			t.Fatalf("authenticated prefix mismatch")
		}
	})
}
