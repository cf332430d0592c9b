package dake

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

// offlineBob is a party that published prekeys: its DAKE config, one
// prekey profile with its shared prekey secret, and a store of prekey
// secrets by id, kept encoded as a host would keep them.
type offlineBob struct {
	cfg    Config
	pp     *PrekeyProfile
	shared *SharedPrekeySecret
	msgs   []*PrekeyMessage
	store  map[uint32][PrekeySecretsSize]byte
}

func newOfflineBob(t testing.TB, tag uint32, seed byte, n int) *offlineBob {
	t.Helper()
	d := testParty(t, tag, seed, "bob", "alice")
	rng := rand.NewChaCha8([32]byte{seed, 'p'})
	pp, shared, err := NewPrekeyProfile(rng, tag, d.cfg.Identity, profileNow.Add(7*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b := &offlineBob{cfg: d.cfg, pp: pp, shared: shared, store: make(map[uint32][PrekeySecretsSize]byte)}
	for range n {
		m, sec, err := NewPrekeyMessage(rng, tag)
		if err != nil {
			t.Fatal(err)
		}
		b.msgs = append(b.msgs, m)
		b.store[m.ID] = sec.Bytes()
	}
	return b
}

func (b *offlineBob) ensemble(i int) *Ensemble {
	return &Ensemble{ClientProfile: b.cfg.Profile, PrekeyProfile: b.pp, PrekeyMessage: b.msgs[i]}
}

// lookup is a PrekeyLookup over the store; it never changes the store.
func (b *offlineBob) lookup(id uint32) (*PrekeySecrets, *SharedPrekeySecret, error) {
	enc, ok := b.store[id]
	if !ok {
		return nil, nil, ErrUnknownPrekey
	}
	sec, err := ParsePrekeySecrets(enc[:])
	return sec, b.shared, err
}

// signPrekeyProfile encodes and signs a prekey profile with arbitrary
// values, as NewPrekeyProfile would (its checks aside).
func signPrekeyProfile(t testing.TB, id *otrcrypto.EdDSAPrivateKey, tag uint32, exp int64, D *otrcrypto.Point) []byte {
	t.Helper()
	var b cryptobyte.Builder
	b.AddUint32(tag)
	b.AddUint64(uint64(exp))
	addSharedPrekey(&b, D)
	m := b.BytesOrPanic()
	sig := id.Sign(m)
	return append(m, sig[:]...)
}

func TestPrekeyProfileRoundTrip(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{9})
	id, _ := otrcrypto.GenerateEdDSAKey(rng)
	exp := profileNow.Add(time.Hour + 300*time.Millisecond)
	p, sec, err := NewPrekeyProfile(rng, 0x1234, id, exp)
	if err != nil {
		t.Fatal(err)
	}
	enc := p.Bytes()
	if len(enc) != PrekeyProfileSize {
		t.Fatalf("len = %d, want %d", len(enc), PrekeyProfileSize)
	}
	// OTRv4 spec, "Prekey Profile Data Type": tag, expiration, type 0x0011
	// little-endian, D, signature.
	D := sec.Public()
	Denc := D.Bytes()
	if binary.BigEndian.Uint32(enc[0:4]) != 0x1234 || int64(binary.BigEndian.Uint64(enc[4:12])) != exp.Unix() ||
		enc[12] != 0x11 || enc[13] != 0x00 || !bytes.Equal(enc[14:71], Denc[:]) {
		t.Errorf("layout = %x", enc)
	}
	q, err := ParsePrekeyProfile(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !q.Equal(p) || q.InstanceTag() != 0x1234 || !q.Expiration().Equal(time.Unix(exp.Unix(), 0)) {
		t.Errorf("parsed = %v %v", q.InstanceTag(), q.Expiration())
	}
	if qD := q.SharedPrekey(); !qD.Equal(&D) {
		t.Errorf("D differs")
	}
	H := id.Public()
	if err := q.Validate(0x1234, &H, profileNow); err != nil {
		t.Errorf("Validate = %v", err)
	}
	for i := range enc {
		if _, err := ParsePrekeyProfile(enc[:i]); !errors.Is(err, otrencoding.ErrMalformed) {
			t.Fatalf("prefix %d: error = %v", i, err)
		}
	}
	if _, err := ParsePrekeyProfile(append(enc, 0)); !errors.Is(err, otrencoding.ErrMalformed) {
		t.Errorf("trailing byte: error = %v", err)
	}
}

func TestPrekeyProfileValidate(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{10})
	id, _ := otrcrypto.GenerateEdDSAKey(rng)
	other, _ := otrcrypto.GenerateEdDSAKey(rng)
	dk, _ := otrcrypto.GenerateECDHKey(rng)
	D := dk.Public()
	H, otherH := id.Public(), other.Public()
	exp := profileNow.Add(time.Hour).Unix()
	good := signPrekeyProfile(t, id, 0x1234, exp, &D)
	flip := func(b []byte, i int) []byte { c := bytes.Clone(b); c[i] ^= 1; return c }
	tests := []struct {
		name string
		enc  []byte
		tag  uint32
		key  *otrcrypto.Point
		now  time.Time
		ok   bool
	}{
		{"valid", good, 0x1234, &H, profileNow, true},
		{"last second", good, 0x1234, &H, time.Unix(exp-1, 0), true},
		{"expired at expiration", good, 0x1234, &H, time.Unix(exp, 0), false},
		{"expired", good, 0x1234, &H, profileNow.Add(2 * time.Hour), false},
		{"bad signature", flip(good, PrekeyProfileSize-1-60), 0x1234, &H, profileNow, false},
		{"expiration changed after signing", flip(good, 11), 0x1234, &H, profileNow, false},
		{"tag changed after signing", flip(good, 3), 0x1235, &H, profileNow, false},
		{"other long-term key", good, 0x1234, &otherH, profileNow, false},
		{"signed by other key", signPrekeyProfile(t, other, 0x1234, exp, &D), 0x1234, &H, profileNow, false},
		{"wrong instance tag", good, 0x1235, &H, profileNow, false},
		{"instance tag below 0x100", signPrekeyProfile(t, id, 0xff, exp, &D), 0xff, &H, profileNow, false},
		{"negative expiration", signPrekeyProfile(t, id, 0x1234, -1, &D), 0x1234, &H, profileNow, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ParsePrekeyProfile(tc.enc)
			if err != nil {
				t.Fatal(err)
			}
			err = p.Validate(tc.tag, tc.key, tc.now)
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrInvalidPrekeyProfile)) {
				t.Errorf("Validate = %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestParsePrekeyProfileRejects(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{11})
	id, _ := otrcrypto.GenerateEdDSAKey(rng)
	dk, _ := otrcrypto.GenerateECDHKey(rng)
	D := dk.Public()
	good := signPrekeyProfile(t, id, 0x1234, profileNow.Unix()+3600, &D)
	with := func(f func(b []byte)) []byte { c := bytes.Clone(good); f(c); return c }
	tests := []struct {
		name string
		in   []byte
	}{
		{"type big-endian", with(func(b []byte) { b[12], b[13] = 0x00, 0x11 })},
		{"type of an identity key", with(func(b []byte) { b[12] = 0x10 })},
		{"D the identity", with(func(b []byte) { id := otrcrypto.NewIdentityPoint().Bytes(); copy(b[14:], id[:]) })},
		{"D not on the curve", with(func(b []byte) { b[14] ^= 1 })},
		{"D with high bits", with(func(b []byte) { b[70] |= 0x01 })},
		{"short", good[:PrekeyProfileSize-1]},
		{"empty", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := ParsePrekeyProfile(tc.in); !errors.Is(err, otrencoding.ErrMalformed) || p != nil {
				t.Errorf("ParsePrekeyProfile(%x) = %v, %v, want ErrMalformed", tc.in, p, err)
			}
		})
	}
}

func TestNewPrekeyProfileErrors(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{12})
	id, _ := otrcrypto.GenerateEdDSAKey(rng)
	if _, _, err := NewPrekeyProfile(rng, 0xff, id, profileNow); !errors.Is(err, ErrInvalidPrekeyProfile) {
		t.Errorf("tag 0xff: error = %v", err)
	}
	if _, _, err := NewPrekeyProfile(bytes.NewReader(make([]byte, 10)), 0x100, id, profileNow); err == nil {
		t.Errorf("short rand: no error")
	}
}

func TestSharedPrekeySecret(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{13})
	id, _ := otrcrypto.GenerateEdDSAKey(rng)
	p, sec, err := NewPrekeyProfile(rng, 0x100, id, profileNow)
	if err != nil {
		t.Fatal(err)
	}
	b := sec.Bytes()
	again, err := NewSharedPrekeySecret(b[:])
	if err != nil {
		t.Fatal(err)
	}
	D, D2 := p.SharedPrekey(), again.Public()
	if !D.Equal(&D2) {
		t.Errorf("rebuilt shared prekey differs")
	}
	// sym_d generates D as generateECDH does.
	k, _ := otrcrypto.NewECDHPrivateKey(b[:])
	if kp := k.Public(); !kp.Equal(&D) {
		t.Errorf("D is not G * sk_d of sym_d")
	}
	if _, err := NewSharedPrekeySecret(b[:56]); err == nil {
		t.Errorf("56 bytes accepted")
	}
	if s := fmt.Sprintf("%v %+v %#v %s", sec, sec, sec, *sec); s != "[redacted] [redacted] [redacted] [redacted]" {
		t.Errorf("formatted = %q", s)
	}
	sec.Wipe()
	if sec.Bytes() != [SharedPrekeySecretSize]byte{} {
		t.Errorf("Wipe left sym_d")
	}
}

func TestPrekeyMessageRoundTrip(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{14})
	m, sec, err := NewPrekeyMessage(rng, 0x4321)
	if err != nil {
		t.Fatal(err)
	}
	// The id comes first from rand.
	want := rand.NewChaCha8([32]byte{14})
	var idb [4]byte
	want.Read(idb[:])
	if m.ID != binary.BigEndian.Uint32(idb[:]) || m.InstanceTag != 0x4321 || sec.ID() != m.ID || sec.InstanceTag() != 0x4321 {
		t.Errorf("id, tag = %#x, %#x", m.ID, m.InstanceTag)
	}
	enc := m.Bytes()
	// OTRv4 spec, "Prekey Message": version, type, id, tag, Y, MPI(B).
	if binary.BigEndian.Uint16(enc) != 4 || enc[2] != 0x0F || binary.BigEndian.Uint32(enc[3:]) != m.ID ||
		binary.BigEndian.Uint32(enc[7:]) != 0x4321 || len(enc) != prekeyMessageFixedSize+4+len(m.B.Bytes()) {
		t.Errorf("layout = %x", enc)
	}
	p, err := ParsePrekeyMessage(enc)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != m.ID || p.InstanceTag != m.InstanceTag || !p.Y.Equal(&m.Y) || !p.B.Equal(m.B) {
		t.Errorf("parsed differs")
	}
	for i := range enc {
		if _, err := ParsePrekeyMessage(enc[:i]); !errors.Is(err, otrencoding.ErrMalformed) {
			t.Fatalf("prefix %d: error = %v", i, err)
		}
	}
	if _, err := ParsePrekeyMessage(append(enc, 0)); !errors.Is(err, otrencoding.ErrMalformed) {
		t.Errorf("trailing byte: error = %v", err)
	}
}

func TestParsePrekeyMessageRejects(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{15})
	m, _, err := NewPrekeyMessage(rng, 0x4321)
	if err != nil {
		t.Fatal(err)
	}
	good := m.Bytes()
	with := func(f func(b []byte)) []byte { c := bytes.Clone(good); f(c); return c }
	withB := func(B []byte) []byte {
		var b cryptobyte.Builder
		b.AddBytes(good[:prekeyMessageFixedSize])
		otrencoding.AddData(&b, B)
		return b.BytesOrPanic()
	}
	allOnes := bytes.Repeat([]byte{0xff}, otrcrypto.DH3072Size)
	nonMinimal := append([]byte{0}, m.B.Bytes()...)
	tests := []struct {
		name string
		in   []byte
	}{
		{"version 3", with(func(b []byte) { b[1] = 3 })},
		{"type Non-Interactive-Auth", with(func(b []byte) { b[2] = 0x0D })},
		{"Y the identity", with(func(b []byte) { id := otrcrypto.NewIdentityPoint().Bytes(); copy(b[11:], id[:]) })},
		{"Y not on the curve", with(func(b []byte) { b[11] ^= 1 })},
		{"B zero", withB(nil)},
		{"B one", withB([]byte{1})},
		{"B above p", withB(allOnes)},
		{"B not minimal", withB(nonMinimal)},
		{"B not in the subgroup", withB(nonResidue(t))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if p, err := ParsePrekeyMessage(tc.in); !errors.Is(err, otrencoding.ErrMalformed) || p != nil {
				t.Errorf("ParsePrekeyMessage = %v, %v, want ErrMalformed", p, err)
			}
		})
	}
}

// nonResidue returns the first small integer CheckDH3072Public refuses: in
// 2..p-2 but not a square mod p, so outside the DH subgroup.
func nonResidue(t *testing.T) []byte {
	t.Helper()
	for v := byte(3); v < 255; v++ {
		if otrcrypto.CheckDH3072Public([]byte{v}) != nil {
			return []byte{v}
		}
	}
	t.Fatal("no small non-residue")
	return nil
}

func TestPrekeySecrets(t *testing.T) {
	rng := rand.NewChaCha8([32]byte{16})
	m, sec, err := NewPrekeyMessage(rng, 0x4321)
	if err != nil {
		t.Fatal(err)
	}
	enc := sec.Bytes()
	again, err := ParsePrekeySecrets(enc[:])
	if err != nil {
		t.Fatal(err)
	}
	if am := again.Message(); !bytes.Equal(am.Bytes(), m.Bytes()) {
		t.Errorf("rebuilt message differs")
	}
	if _, err := ParsePrekeySecrets(enc[:PrekeySecretsSize-1]); err == nil {
		t.Errorf("short encoding accepted")
	}
	low := enc
	binary.BigEndian.PutUint32(low[4:], 0xff)
	if _, err := ParsePrekeySecrets(low[:]); err == nil {
		t.Errorf("instance tag 0xff accepted")
	}
	zeroDH := sec.Bytes()
	clear(zeroDH[8+otrcrypto.ECDHRandomSize:])
	if _, err := ParsePrekeySecrets(zeroDH[:]); err == nil {
		t.Errorf("zero DH secret accepted")
	}
	if _, _, err := NewPrekeyMessage(rng, 0xff); err == nil {
		t.Errorf("NewPrekeyMessage(0xff) accepted")
	}
	if _, _, err := NewPrekeyMessage(bytes.NewReader(make([]byte, 60)), 0x100); err == nil {
		t.Errorf("short rand: no error")
	}
	if s := fmt.Sprintf("%v %+v %#v", sec, sec, sec); s != "[redacted] [redacted] [redacted]" {
		t.Errorf("formatted = %q", s)
	}
	again.Wipe()
	if b := again.Bytes(); !bytes.Equal(b[8:], make([]byte, PrekeySecretsSize-8)) {
		t.Errorf("Wipe left secrets")
	}
}
