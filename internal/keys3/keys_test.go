package keys3

import (
	"bytes"
	"crypto/cipher"
	"errors"
	mrand "math/rand/v2"
	"reflect"
	"testing"
	"unsafe"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

func seeded(seed byte) *mrand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return mrand.NewChaCha8(s)
}

// pair returns the data-message states of Alice and Bob as after an AKE.
func pair(t *testing.T) (*State, *State) {
	t.Helper()
	r := seeded(1)
	xa, _ := otrcrypto.GenerateDHKey(r)
	xb, _ := otrcrypto.GenerateDHKey(r)
	pa, _ := otrcrypto.ParseDHPublic(xa.Public())
	pb, _ := otrcrypto.ParseDHPublic(xb.Public())
	a, err := New(r, xa, 1, pb, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(r, xb, 1, pa, 1)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

var hdr = otrencoding.Header{Version: 3, Sender: 0x100, Receiver: 0x200}

func transmit(t *testing.T, from, to *State, text string) ([]byte, error) {
	t.Helper()
	wire, _, err := from.Encrypt(hdr, 0, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return receive(to, wire)
}

func receive(to *State, wire []byte) ([]byte, error) {
	wire = bytes.Clone(wire) // Decrypt works in place
	h, body, err := otrencoding.ParseHeader(wire)
	if err != nil {
		return nil, err
	}
	_ = h
	var m otrencoding.DataMessage
	if err := m.Unmarshal(body); err != nil {
		return nil, err
	}
	dec, err := to.Decrypt(wire[:len(wire)-20-4-len(m.OldMACKeys)], &m)
	return dec.Plaintext, err
}

func TestRotation(t *testing.T) {
	a, b := pair(t)
	var revealed [][]byte
	for i := range 12 {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		text := []byte{byte('a' + i)}
		wire, _, err := from.Encrypt(hdr, 0, text)
		if err != nil {
			t.Fatal(err)
		}
		_, body, _ := otrencoding.ParseHeader(wire)
		var m otrencoding.DataMessage
		if err := m.Unmarshal(body); err != nil {
			t.Fatal(err)
		}
		if len(m.OldMACKeys) > 0 {
			revealed = append(revealed, m.OldMACKeys)
		}
		got, err := receive(to, wire)
		if err != nil || !bytes.Equal(got, text) {
			t.Fatalf("message %d: %q %v", i, got, err)
		}
	}
	// Ping-pong advances both sides' key ids and reveals used MAC keys.
	if a.ourKeyID < 6 || b.ourKeyID < 6 {
		t.Errorf("key ids did not advance: %d %d", a.ourKeyID, b.ourKeyID)
	}
	if len(revealed) == 0 {
		t.Fatal("no MAC keys revealed")
	}
	for _, r := range revealed {
		if len(r)%20 != 0 {
			t.Fatalf("revealed %d bytes", len(r))
		}
	}
}

func TestRejectLeavesStateUnchanged(t *testing.T) {
	a, b := pair(t)
	if _, err := transmit(t, a, b, "one"); err != nil {
		t.Fatal(err)
	}
	wire, _, _ := a.Encrypt(hdr, 0, []byte("two"))
	before := *b
	for i := otrencoding.HeaderLen; i < len(wire); i++ {
		bad := bytes.Clone(wire)
		bad[i] ^= 0x80
		if got, err := receive(b, bad); err == nil {
			t.Fatalf("byte %d flipped: accepted %q", i, got)
		}
		if b.ourKeyID != before.ourKeyID || b.theirKeyID != before.theirKeyID || b.pairs != before.pairs {
			t.Fatalf("byte %d flipped: state changed", i)
		}
	}
	if got, err := receive(b, wire); err != nil || string(got) != "two" {
		t.Fatalf("genuine: %q %v", got, err)
	}
	if _, err := receive(b, wire); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: %v", err)
	}
}

func TestOldKeyIDRejected(t *testing.T) {
	a, b := pair(t)
	old, _, _ := a.Encrypt(hdr, 0, []byte("old"))
	for range 3 {
		transmit(t, a, b, "x")
		transmit(t, b, a, "y")
	}
	if _, err := receive(b, old); !errors.Is(err, ErrKeyID) {
		t.Fatalf("message for forgotten keys: %v", err)
	}
}

func TestExtraKeyAgrees(t *testing.T) {
	a, b := pair(t)
	transmit(t, a, b, "x")
	transmit(t, b, a, "y")
	k1, err := a.SendExtraKey()
	if err != nil {
		t.Fatal(err)
	}
	// The key is derived for messages with TLVs (a NUL, then TLV 8 here).
	wire, k2, _ := a.Encrypt(hdr, 0, []byte("z\x00\x00\x08\x00\x04abcd"))
	_, body, _ := otrencoding.ParseHeader(wire)
	var m otrencoding.DataMessage
	m.Unmarshal(body)
	dec, err := b.Decrypt(wire[:len(wire)-24-len(m.OldMACKeys)], &m)
	if err != nil || k1 != k2 || dec.ExtraKey != k2 {
		t.Fatalf("extra keys differ: %x %x %x %v", k1, k2, dec.ExtraKey, err)
	}
}

func TestWipe(t *testing.T) {
	a, _ := pair(t)
	a.Wipe()
	if _, _, err := a.Encrypt(hdr, 0, nil); !errors.Is(err, ErrWiped) {
		t.Fatalf("Encrypt after Wipe: %v", err)
	}
}

// TestWipeClearsPairKeys checks that Wipe leaves no key material behind in
// memory the pair keys reach: every object reachable from them before Wipe
// (their own struct, secbytes, the cached ciphers and MACs and what those
// hold, such as HMAC's keyed SHA-1 states) must be all zero afterwards. The
// one exception is what a cipher.Block holds: crypto/aes keeps the AES key
// schedule there and offers no way to erase it (see State.Wipe). The test
// keeps the objects alive to read them.
func TestWipeClearsPairKeys(t *testing.T) {
	a, b := pair(t)
	for range 2 {
		transmit(t, a, b, "to b")
		transmit(t, b, a, "to a")
	}
	transmit(t, a, b, "to b")
	w := regionWalker{seen: map[uintptr]bool{}}
	for i := range a.pairs {
		for j := range a.pairs[i] {
			if p := a.pairs[i][j]; p != nil {
				w.walk(reflect.ValueOf(p))
			}
		}
	}
	if len(w.regions) == 0 {
		t.Fatal("no pair keys in use")
	}
	a.Wipe()
	for _, r := range w.regions {
		if mem := unsafe.Slice((*byte)(r.p), r.size); !allZero(mem) {
			t.Errorf("after Wipe, %d bytes of a %v reachable from the pair keys are not zero", r.size, r.typ)
		}
	}
}

// memRegion is an object found by regionWalker; p keeps it alive.
type memRegion struct {
	p    unsafe.Pointer
	size uintptr
	typ  reflect.Type
}

// regionWalker collects every object reachable from a value through
// pointers, slices and interfaces (unexported fields included), except
// through a cipher.Block.
type regionWalker struct {
	seen    map[uintptr]bool
	regions []memRegion
}

var cipherBlockType = reflect.TypeFor[cipher.Block]()

func (w *regionWalker) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() && w.add(v.UnsafePointer(), v.Type().Elem().Size(), v.Type().Elem()) {
			w.walk(v.Elem())
		}
	case reflect.Slice:
		if !v.IsNil() && w.add(v.UnsafePointer(), uintptr(v.Cap())*v.Type().Elem().Size(), v.Type()) {
			for i := range v.Len() {
				w.walk(v.Index(i))
			}
		}
	case reflect.Interface:
		if !v.IsNil() && v.Type() != cipherBlockType {
			w.walk(v.Elem())
		}
	case reflect.Struct:
		for i := range v.NumField() {
			w.walk(v.Field(i))
		}
	case reflect.Array:
		for i := range v.Len() {
			w.walk(v.Index(i))
		}
	}
}

func (w *regionWalker) add(p unsafe.Pointer, size uintptr, typ reflect.Type) bool {
	if size == 0 || w.seen[uintptr(p)] {
		return false
	}
	w.seen[uintptr(p)] = true
	w.regions = append(w.regions, memRegion{p, size, typ})
	return true
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func TestNoExtraKeyWithoutTLVs(t *testing.T) {
	a, _ := pair(t)
	if _, k, _ := a.Encrypt(hdr, 0, []byte("plain")); k != ([32]byte{}) {
		t.Fatal("extra key computed for a message without TLVs")
	}
}

// BenchmarkOneWay100B encrypts a 100-byte message on one side and parses and
// decrypts it on the other, always in the same direction (no D-H rotation).
func BenchmarkOneWay100B(b *testing.B) {
	r := seeded(2)
	xa, _ := otrcrypto.GenerateDHKey(r)
	xb, _ := otrcrypto.GenerateDHKey(r)
	pa, _ := otrcrypto.ParseDHPublic(xa.Public())
	pb, _ := otrcrypto.ParseDHPublic(xb.Public())
	alice, _ := New(r, xa, 1, pb, 1)
	bob, _ := New(r, xb, 1, pa, 1)
	text := bytes.Repeat([]byte("a"), 100)
	for b.Loop() {
		wire, _, err := alice.Encrypt(hdr, 0, text)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := receive(bob, wire); err != nil {
			b.Fatal(err)
		}
	}
}
