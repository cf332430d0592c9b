package encoding

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"golang.org/x/crypto/cryptobyte"
)

// body is what every OTR3 message body implements.
type body interface {
	Marshal(*cryptobyte.Builder)
	Unmarshal([]byte) error
}

func marshalBody(m body) []byte {
	var b cryptobyte.Builder
	m.Marshal(&b)
	return b.BytesOrPanic()
}

// bodyCases returns a fresh empty value and a random valid value per type.
func bodyCases(r *rand.Rand) []struct {
	name        string
	empty, full body
} {
	key := randDSAPublicKey(r)
	var mac [20]byte
	copy(mac[:], randBytes(r, 20))
	var ctr [8]byte
	copy(ctr[:], randBytes(r, 8))
	return []struct {
		name        string
		empty, full body
	}{
		{"DHCommit", new(DHCommit), &DHCommit{EncryptedGX: randBytes(r, r.IntN(200)), HashedGX: randBytes(r, 32)}},
		{"DHKey", new(DHKey), &DHKey{GY: randMPI(r, 192)}},
		{"RevealSig", new(RevealSig), &RevealSig{RevealedKey: randBytes(r, 16), EncryptedSig: randBytes(r, r.IntN(500)), MAC: mac}},
		{"Sig", new(Sig), &Sig{EncryptedSig: randBytes(r, r.IntN(500)), MAC: mac}},
		{"DataMessage", new(DataMessage), &DataMessage{
			Flags: uint8(r.Uint32()), SenderKeyID: r.Uint32(), RecipientKeyID: r.Uint32(),
			NextDH: randMPI(r, 192), Counter: ctr, EncryptedMessage: randBytes(r, r.IntN(100)),
			MAC: mac, OldMACKeys: randBytes(r, 20*r.IntN(4)),
		}},
		{"SignedKey", new(SignedKey), &SignedKey{PublicKey: key, KeyID: r.Uint32(), Sig: randBytes(r, 2*len(key.Q))}},
	}
}

// normalize makes nil and empty slices compare equal.
func normalize(m body) body {
	v := reflect.ValueOf(m).Elem()
	var fix func(v reflect.Value)
	fix = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Slice:
			if v.Type().Elem().Kind() == reflect.Uint8 && v.Len() == 0 {
				v.Set(reflect.Zero(v.Type()))
			}
		case reflect.Struct:
			for i := range v.NumField() {
				fix(v.Field(i))
			}
		}
	}
	fix(v)
	return m
}

func TestBodyRoundTrip(t *testing.T) {
	r := newRand(3)
	for range 30 {
		for _, tc := range bodyCases(r) {
			t.Run(tc.name, func(t *testing.T) {
				enc := marshalBody(tc.full)
				if err := tc.empty.Unmarshal(enc); err != nil {
					t.Fatalf("Unmarshal(%x) error = %v", enc, err)
				}
				if got, want := normalize(tc.empty), normalize(tc.full); !reflect.DeepEqual(got, want) {
					t.Fatalf("Unmarshal(Marshal(x)) = %+v, want %+v", got, want)
				}
				if got := marshalBody(tc.empty); !bytes.Equal(got, enc) {
					t.Fatalf("Marshal(Unmarshal(%x)) = %x", enc, got)
				}
			})
		}
	}
}

func TestBodyPrefixAndTrailing(t *testing.T) {
	r := newRand(4)
	for _, tc := range bodyCases(r) {
		t.Run(tc.name, func(t *testing.T) {
			enc := marshalBody(tc.full)
			zero := reflect.New(reflect.TypeOf(tc.empty).Elem()).Interface()
			for n := range len(enc) {
				// Fill the receiver first: a failed parse must reset it.
				if err := tc.empty.Unmarshal(enc); err != nil {
					t.Fatal(err)
				}
				if err := tc.empty.Unmarshal(enc[:n]); !errors.Is(err, ErrMalformed) {
					t.Fatalf("Unmarshal(%d-byte prefix) error = %v, want ErrMalformed", n, err)
				}
				if !reflect.DeepEqual(tc.empty, zero) {
					t.Fatalf("Unmarshal(%d-byte prefix) left %+v", n, tc.empty)
				}
			}
			if err := tc.empty.Unmarshal(append(enc, 0)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Unmarshal(with trailing byte) error = %v, want ErrMalformed", err)
			}
		})
	}
}

func TestBodyRejects(t *testing.T) {
	tests := []struct {
		name string
		m    body
		in   string
	}{
		{"DHCommit short hash", new(DHCommit), "00000001aa" + "00000002bbbb"},
		{"DHCommit long hash", new(DHCommit), "00000000" + "00000021" + "00000000000000000000000000000000000000000000000000000000000000000000"},
		{"DHKey non-minimal", new(DHKey), "000000020001"},
		{"DHKey zero byte", new(DHKey), "0000000100"},
		{"Data non-minimal next DH", new(DataMessage), "00" + "00000001" + "00000001" + "000000020001" +
			"0000000000000001" + "00000000" + "0000000000000000000000000000000000000000" + "00000000"},
		{"Data odd old MAC keys", new(DataMessage), "00" + "00000001" + "00000001" + "0000000101" +
			"0000000000000001" + "00000000" + "0000000000000000000000000000000000000000" + "00000001ff"},
		{"SignedKey wrong sig length", new(SignedKey), "0000" + "0000000101" + "0000000102" + "0000000103" + "0000000104" +
			"00000001" + "010203"},
		{"SignedKey empty q", new(SignedKey), "0000" + "0000000101" + "00000000" + "0000000103" + "0000000104" +
			"00000001"},
		{"SignedKey wrong key type", new(SignedKey), "0001" + "0000000101" + "0000000102" + "0000000103" + "0000000104" +
			"00000001" + "0102"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, err := hex.DecodeString(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.m.Unmarshal(in); !errors.Is(err, ErrMalformed) {
				t.Errorf("Unmarshal(%s) error = %v, want ErrMalformed", tc.in, err)
			}
		})
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     Header
		wantBody string
		wantErr  error
		wantErr2 error
	}{
		{name: "v3 data", in: "0003" + "03" + "00000100" + "12345678" + "aabb",
			want: Header{Version: 3, Type: MsgData, Sender: 0x100, Receiver: 0x12345678}, wantBody: "aabb"},
		{name: "v4 identity", in: "0004" + "35" + "ffffffff" + "00000000",
			want: Header{Version: 4, Type: MsgIdentity, Sender: 0xffffffff}, wantBody: ""},
		{name: "v2", in: "0002" + "02" + "00000001", wantErr: ErrMalformed, wantErr2: ErrUnsupportedVersion},
		{name: "v1", in: "0001" + "02" + "00000100" + "00000000", wantErr: ErrMalformed, wantErr2: ErrUnsupportedVersion},
		{name: "short", in: "0003" + "03" + "00000100" + "123456", wantErr: ErrMalformed},
		{name: "empty", in: "", wantErr: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in, _ := hex.DecodeString(tc.in)
			h, body, err := ParseHeader(in)
			if !errors.Is(err, tc.wantErr) || (tc.wantErr2 != nil && !errors.Is(err, tc.wantErr2)) {
				t.Fatalf("ParseHeader(%s) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if err != nil {
				if h != (Header{}) || body != nil {
					t.Errorf("ParseHeader(%s) = %+v, %x with an error", tc.in, h, body)
				}
				return
			}
			if h != tc.want || hex.EncodeToString(body) != tc.wantBody {
				t.Errorf("ParseHeader(%s) = %+v, %x, want %+v, %s", tc.in, h, body, tc.want, tc.wantBody)
			}
		})
	}
}

func TestMarshalMessage(t *testing.T) {
	h := Header{Version: Version3, Type: MsgDHKey, Sender: 0x101, Receiver: 0x202}
	got := Marshal(h, &DHKey{GY: []byte{0x00, 0xc0, 0x01}})
	want, _ := hex.DecodeString("0003" + "0a" + "00000101" + "00000202" + "00000002c001")
	if !bytes.Equal(got, want) {
		t.Fatalf("Marshal() = %x, want %x", got, want)
	}
	gotH, body, err := ParseHeader(got)
	if err != nil || gotH != h {
		t.Fatalf("ParseHeader() = %+v, %v", gotH, err)
	}
	var m DHKey
	if err := m.Unmarshal(body); err != nil || !bytes.Equal(m.GY, []byte{0xc0, 0x01}) {
		t.Fatalf("Unmarshal() = %+v, %v", m, err)
	}
}

// TestDataMessageLayout checks the exact bytes of OTR3 spec, "Data Message".
func TestDataMessageLayout(t *testing.T) {
	h := Header{Version: Version3, Type: MsgData, Sender: 0x11111111, Receiver: 0x22222222}
	m := DataMessage{
		Flags:            FlagIgnoreUnreadable,
		SenderKeyID:      3,
		RecipientKeyID:   4,
		NextDH:           []byte{0x05, 0x06},
		Counter:          [8]byte{0, 0, 0, 0, 0, 0, 0, 7},
		EncryptedMessage: []byte("hi"),
		MAC:              [20]byte{19: 0xee},
		OldMACKeys:       bytes.Repeat([]byte{0xaa}, 20),
	}
	authWant := "0003" + "03" + "11111111" + "22222222" + // header
		"01" + "00000003" + "00000004" + // flags, sender keyid, recipient keyid
		"000000020506" + // DH y (MPI)
		"0000000000000007" + // top half of counter
		"000000026869" // encrypted message (DATA)
	fullWant := authWant + "00000000000000000000000000000000000000ee" + // MAC
		"00000014" + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" // old MAC keys
	if got := hex.EncodeToString(Marshal(h, &m)); got != fullWant {
		t.Errorf("Marshal() = %s, want %s", got, fullWant)
	}
	if got := hex.EncodeToString(m.AuthenticatedPart(h)); got != authWant {
		t.Errorf("AuthenticatedPart() = %s, want %s", got, authWant)
	}
}

func TestMarshalMB(t *testing.T) {
	pub := DSAPublicKey{P: []byte{1}, Q: []byte{2}, G: []byte{3}, Y: []byte{4}}
	got := hex.EncodeToString(MarshalMB([]byte{0x00, 0xaa}, []byte{0xbb}, &pub, 7))
	want := "00000001aa" + "00000001bb" + "0000" + "0000000101" + "0000000102" + "0000000103" + "0000000104" + "00000007"
	if got != want {
		t.Errorf("MarshalMB() = %s, want %s", got, want)
	}
}

func TestMsgTypeString(t *testing.T) {
	if got := MsgRevealSig.String(); got != "Reveal-Signature" {
		t.Errorf("MsgRevealSig.String() = %q", got)
	}
	if got := MsgType(0x99).String(); got != "MsgType(0x99)" {
		t.Errorf("MsgType(0x99).String() = %q", got)
	}
}
