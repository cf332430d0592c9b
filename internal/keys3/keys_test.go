package keys3

import (
	"bytes"
	"errors"
	mrand "math/rand/v2"
	"testing"

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

func TestNoExtraKeyWithoutTLVs(t *testing.T) {
	a, _ := pair(t)
	if _, k, _ := a.Encrypt(hdr, 0, []byte("plain")); k != ([32]byte{}) {
		t.Fatal("extra key computed for a message without TLVs")
	}
}
