package dake

import (
	"bytes"
	"testing"

	"golang.org/x/crypto/cryptobyte"

	otrencoding "github.com/otrgo/otr/encoding"
)

// FuzzParsePrekeyProfile: no panic; an accepted profile re-encodes to its
// input and Validate does not panic.
func FuzzParsePrekeyProfile(f *testing.F) {
	bob := newOfflineBob(f, offBobTag, 1, 0)
	f.Add(bob.pp.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePrekeyProfile(b)
		if err != nil {
			if p != nil {
				t.Fatalf("error with a partial value")
			}
			return
		}
		if !bytes.Equal(p.Bytes(), b) {
			t.Fatalf("re-encoding differs")
		}
		H := bob.cfg.Profile.IdentityKey()
		_ = p.Validate(p.InstanceTag(), &H, profileNow)
	})
}

// FuzzParsePrekeyMessage: no panic; an accepted message re-encodes to its
// input.
func FuzzParsePrekeyMessage(f *testing.F) {
	bob := newOfflineBob(f, offBobTag, 1, 1)
	f.Add(bob.msgs[0].Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParsePrekeyMessage(b)
		if err != nil {
			if m != nil {
				t.Fatalf("error with a partial value")
			}
			return
		}
		if !bytes.Equal(m.Bytes(), b) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzParseEnsemble feeds the input to ParseEnsemble and to
// ParseEnsembleRetrieval: no panic, no partial value, accepted input
// re-encodes to itself, and validation does not panic.
func FuzzParseEnsemble(f *testing.F) {
	bob := newOfflineBob(f, offBobTag, 1, 2)
	f.Add(bob.ensemble(0).Bytes())
	var b cryptobyte.Builder
	(&EnsembleRetrieval{ReceiverInstanceTag: offAliceTag, Identity: []byte("bob"),
		Ensembles: []*Ensemble{bob.ensemble(0), bob.ensemble(1)}}).Marshal(&b)
	f.Add(b.BytesOrPanic())
	f.Fuzz(func(t *testing.T, in []byte) {
		if e, err := ParseEnsemble(in); err != nil {
			if e != nil {
				t.Fatalf("error with a partial value")
			}
		} else {
			if !bytes.Equal(e.Bytes(), in) {
				t.Fatalf("ensemble re-encoding differs")
			}
			_ = ValidateEnsemble(e, profileNow)
		}
		r, err := ParseEnsembleRetrieval(in)
		if err != nil {
			if r != nil {
				t.Fatalf("error with a partial value")
			}
			return
		}
		if r.Undecodable == 0 {
			var b cryptobyte.Builder
			r.Marshal(&b)
			if !bytes.Equal(b.BytesOrPanic(), in) {
				t.Fatalf("retrieval re-encoding differs")
			}
		}
		_ = SelectEnsembles(r.Ensembles, profileNow)
	})
}

// FuzzReceiveNonInteractive feeds encoded messages to bob: no panic; a
// rejected message changes neither the store nor the secrets the lookup
// returned; an accepted one returns keys, names a prekey of the store and
// leaves its returned secrets wiped.
func FuzzReceiveNonInteractive(f *testing.F) {
	bob := newOfflineBob(f, offBobTag, 1, 2)
	msg, _ := mustStartNonInteractive(f, aliceConfig(f, 2), bob.ensemble(0))
	f.Add(msg)
	_, body, _ := otrencoding.ParseHeader(msg)
	m, err := ParseNonInteractiveAuthMessage(body)
	if err != nil {
		f.Fatal(err)
	}
	unknown := bytes.Clone(msg)
	unknown[len(unknown)-(4+len(m.FirstDH.Bytes())+57+AuthMACSize+4)] ^= 0xff // the prekey id
	f.Add(unknown)
	f.Add(msg[:otrencoding.HeaderLen])
	storeBefore := func() map[uint32][PrekeySecretsSize]byte {
		c := make(map[uint32][PrekeySecretsSize]byte, len(bob.store))
		for k, v := range bob.store {
			c[k] = v
		}
		return c
	}()
	f.Fuzz(func(t *testing.T, in []byte) {
		h, body, err := otrencoding.ParseHeader(in)
		if err != nil {
			return
		}
		var got *PrekeySecrets
		var gotBytes [PrekeySecretsSize]byte
		lookup := func(id uint32) (*PrekeySecrets, *SharedPrekeySecret, error) {
			s, d, err := bob.lookup(id)
			if s != nil {
				got, gotBytes = s, s.Bytes()
			}
			return s, d, err
		}
		k, id, err := ReceiveNonInteractive(bob.cfg, h, body, lookup, profileNow)
		for id, v := range storeBefore {
			if bob.store[id] != v {
				t.Fatalf("store changed")
			}
		}
		if err != nil {
			if k != nil {
				t.Fatalf("keys with an error")
			}
			if got != nil && got.Bytes() != gotBytes {
				t.Fatalf("rejected message changed the prekey secrets")
			}
			return
		}
		if _, ok := bob.store[id]; !ok || k == nil || got == nil {
			t.Fatalf("accepted: id %#x, keys %v", id, k != nil)
		}
		if b := got.Bytes(); !bytes.Equal(b[8:], make([]byte, PrekeySecretsSize-8)) {
			t.Fatalf("accepted message left the consumed secrets")
		}
	})
}
