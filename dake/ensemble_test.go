package dake

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

// profileWithVersions signs a client profile with any versions string,
// which NewClientProfile would refuse.
func profileWithVersions(t *testing.T, id *otrcrypto.EdDSAPrivateKey, tag uint32, versions string) *ClientProfile {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{99})
	fk, _ := otrcrypto.GenerateEdDSAKey(rng)
	p := &ClientProfile{instanceTag: tag, identityKey: id.Public(), forgingKey: fk.Public(),
		versions: versions, expiration: profileNow.Add(time.Hour).Unix()}
	p.encodeFields()
	p.sign(id)
	return p
}

func TestValidateEnsemble(t *testing.T) {
	const tag = 0x1000
	bob := newOfflineBob(t, tag, 1, 2)
	rng := rand.NewChaCha8([32]byte{20})
	other, _ := otrcrypto.GenerateEdDSAKey(rng)
	id := bob.cfg.Identity
	D := bob.pp.SharedPrekey()
	pp := func(id *otrcrypto.EdDSAPrivateKey, tag uint32, exp time.Time) *PrekeyProfile {
		p, err := ParsePrekeyProfile(signPrekeyProfile(t, id, tag, exp.Unix(), &D))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	week := profileNow.Add(7 * 24 * time.Hour)
	otherTag := newOfflineBob(t, tag+1, 2, 1) // same layout, another instance
	badSig := func() *ClientProfile {
		enc := bob.cfg.Profile.Bytes()
		enc[len(enc)-1] ^= 1
		p, err := ParseClientProfile(enc)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}()
	badPPSig := func() *PrekeyProfile {
		enc := bob.pp.Bytes()
		enc[len(enc)-1] ^= 1
		p, err := ParsePrekeyProfile(enc)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}()
	msgWithTag := &PrekeyMessage{ID: bob.msgs[0].ID, InstanceTag: tag + 1, Y: bob.msgs[0].Y, B: bob.msgs[0].B}
	ens := func(cp *ClientProfile, p *PrekeyProfile, m *PrekeyMessage) *Ensemble {
		return &Ensemble{ClientProfile: cp, PrekeyProfile: p, PrekeyMessage: m}
	}
	tests := []struct {
		name    string
		e       *Ensemble
		now     time.Time
		wantErr error // nil: valid
	}{
		{"valid", bob.ensemble(0), profileNow, nil},
		{"valid, other prekey message", bob.ensemble(1), profileNow, nil},
		{"client profile expired", bob.ensemble(0), week, ErrInvalidClientProfile},
		{"prekey profile expired", ens(bob.cfg.Profile, pp(id, tag, profileNow.Add(time.Minute)), bob.msgs[0]), profileNow.Add(time.Hour), ErrInvalidPrekeyProfile},
		{"client profile bad signature", ens(badSig, bob.pp, bob.msgs[0]), profileNow, ErrInvalidClientProfile},
		{"prekey profile bad signature", ens(bob.cfg.Profile, badPPSig, bob.msgs[0]), profileNow, ErrInvalidPrekeyProfile},
		{"prekey profile of another long-term key", ens(bob.cfg.Profile, pp(other, tag, week), bob.msgs[0]), profileNow, ErrInvalidPrekeyProfile},
		{"prekey profile tag differs", ens(bob.cfg.Profile, pp(id, tag+1, week), bob.msgs[0]), profileNow, ErrInvalidEnsemble},
		{"prekey message tag differs", ens(bob.cfg.Profile, bob.pp, msgWithTag), profileNow, ErrInvalidEnsemble},
		{"client profile tag differs", ens(otherTag.cfg.Profile, bob.pp, bob.msgs[0]), profileNow, ErrInvalidEnsemble},
		{"client profile of another instance and key", otherTag.ensembleWith(bob.pp, bob.msgs[0]), profileNow, ErrInvalidEnsemble},
		{"versions without 4", ens(profileWithVersions(t, id, tag, "3"), bob.pp, bob.msgs[0]), profileNow, ErrInvalidClientProfile},
		{"versions with 1", ens(profileWithVersions(t, id, tag, "14"), bob.pp, bob.msgs[0]), profileNow, ErrInvalidClientProfile},
		{"versions 5 and 4", ens(profileWithVersions(t, id, tag, "54"), bob.pp, bob.msgs[0]), profileNow, nil},
		{"no client profile", ens(nil, bob.pp, bob.msgs[0]), profileNow, ErrInvalidEnsemble},
		{"no prekey profile", ens(bob.cfg.Profile, nil, bob.msgs[0]), profileNow, ErrInvalidEnsemble},
		{"no prekey message", ens(bob.cfg.Profile, bob.pp, nil), profileNow, ErrInvalidEnsemble},
		{"nil", nil, profileNow, ErrInvalidEnsemble},
		{"prekey message Y the identity", ens(bob.cfg.Profile, bob.pp, &PrekeyMessage{ID: 1, InstanceTag: tag, B: bob.msgs[0].B}), profileNow, ErrInvalidEnsemble},
		{"prekey message B zero", ens(bob.cfg.Profile, bob.pp, &PrekeyMessage{ID: 1, InstanceTag: tag, Y: bob.msgs[0].Y, B: &otrcrypto.DH3072PublicKey{}}), profileNow, ErrInvalidEnsemble},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateEnsemble(tc.e, tc.now)
			if tc.wantErr == nil {
				if err != nil {
					t.Errorf("ValidateEnsemble = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || !errors.Is(err, ErrInvalidEnsemble) {
				t.Errorf("ValidateEnsemble = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func (b *offlineBob) ensembleWith(pp *PrekeyProfile, m *PrekeyMessage) *Ensemble {
	return &Ensemble{ClientProfile: b.cfg.Profile, PrekeyProfile: pp, PrekeyMessage: m}
}

func TestEnsembleRoundTrip(t *testing.T) {
	bob := newOfflineBob(t, 0x1000, 1, 1)
	e := bob.ensemble(0)
	enc := e.Bytes()
	want := append(append(bob.cfg.Profile.Bytes(), bob.pp.Bytes()...), bob.msgs[0].Bytes()...)
	if !bytes.Equal(enc, want) {
		t.Fatalf("encoding is not CLIENT-PROF || PREKEY-PROF || Prekey message")
	}
	p, err := ParseEnsemble(enc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Bytes(), enc) || p.InstanceTag() != 0x1000 {
		t.Errorf("re-encoding differs")
	}
	if err := ValidateEnsemble(p, profileNow); err != nil {
		t.Errorf("ValidateEnsemble = %v", err)
	}
	for i := range enc {
		if _, err := ParseEnsemble(enc[:i]); !errors.Is(err, otrencoding.ErrMalformed) {
			t.Fatalf("prefix %d: error = %v", i, err)
		}
	}
	if _, err := ParseEnsemble(append(enc, 0)); !errors.Is(err, otrencoding.ErrMalformed) {
		t.Errorf("trailing byte: error = %v", err)
	}
	// An invalid point in each part (bits 448..454 set in its last byte;
	// invalid DH values are TestParsePrekeyMessageRejects').
	cpLen := len(bob.cfg.Profile.Bytes())
	for name, last := range map[string]int{
		"client profile's identity key": 4 + (2 + 4) + (2 + 2 + otrcrypto.PointSize) - 1,
		"prekey profile's D":            cpLen + 14 + otrcrypto.PointSize - 1,
		"prekey message's Y":            cpLen + PrekeyProfileSize + 11 + otrcrypto.PointSize - 1,
	} {
		c := bytes.Clone(enc)
		c[last] |= 0x01
		if _, err := ParseEnsemble(c); !errors.Is(err, otrencoding.ErrMalformed) {
			t.Errorf("invalid %s: error = %v", name, err)
		}
	}
}

func TestParseEnsembleRetrieval(t *testing.T) {
	a := newOfflineBob(t, 0x1000, 1, 2)
	b := newOfflineBob(t, 0x2000, 2, 1)
	r := &EnsembleRetrieval{ReceiverInstanceTag: 0x3000, Identity: []byte("bob@example.org"),
		Ensembles: []*Ensemble{a.ensemble(0), a.ensemble(1), b.ensemble(0)}}
	var bld cryptobyte.Builder
	r.Marshal(&bld)
	enc := bld.BytesOrPanic()
	if enc[0] != 0 || enc[1] != 4 || enc[2] != 0x13 {
		t.Fatalf("header = %x", enc[:3])
	}
	got, err := ParseEnsembleRetrieval(enc)
	if err != nil {
		t.Fatal(err)
	}
	if got.ReceiverInstanceTag != 0x3000 || string(got.Identity) != "bob@example.org" || len(got.Ensembles) != 3 || got.Undecodable != 0 {
		t.Fatalf("parsed = %+v", got)
	}
	for i, e := range got.Ensembles {
		if !bytes.Equal(e.Bytes(), r.Ensembles[i].Bytes()) {
			t.Errorf("ensemble %d differs", i)
		}
	}

	// L is the INT after the identity.
	lOff := 2 + 1 + 4 + 4 + len("bob@example.org")
	setL := func(n byte) []byte { c := bytes.Clone(enc); c[lOff+3] = n; return c }
	for name, in := range map[string][]byte{
		"L zero":         setL(0),
		"L too small":    setL(2),
		"L too large":    setL(4),
		"version 3":      append([]byte{0, 3}, enc[2:]...),
		"type 0x0E":      append([]byte{0, 4, 0x0E}, enc[3:]...),
		"trailing bytes": append(bytes.Clone(enc), 0),
		"short":          enc[:len(enc)-1],
		"empty":          nil,
	} {
		if _, err := ParseEnsembleRetrieval(in); !errors.Is(err, otrencoding.ErrMalformed) {
			t.Errorf("%s: error = %v", name, err)
		}
	}

	// An ensemble whose Y is not a point is left out, not fatal.
	c := bytes.Clone(enc)
	first := lOff + 4
	c[first+len(a.cfg.Profile.Bytes())+PrekeyProfileSize+11] ^= 1
	got, err = ParseEnsembleRetrieval(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Ensembles) != 2 || got.Undecodable != 1 {
		t.Errorf("ensembles, undecodable = %d, %d, want 2, 1", len(got.Ensembles), got.Undecodable)
	}
}

func TestSelectEnsembles(t *testing.T) {
	a := newOfflineBob(t, 0x1000, 1, 3)
	b := newOfflineBob(t, 0x2000, 2, 1)
	// A second prekey profile of a's, expiring later.
	rng := rand.NewChaCha8([32]byte{21})
	later, _, err := NewPrekeyProfile(rng, 0x1000, a.cfg.Identity, profileNow.Add(6*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sooner, _, err := NewPrekeyProfile(rng, 0x1000, a.cfg.Identity, profileNow.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	expired, _, err := NewPrekeyProfile(rng, 0x1000, a.cfg.Identity, profileNow.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	a0 := a.ensembleWith(sooner, a.msgs[0])
	a0dup := a.ensembleWith(sooner, a.msgs[0])
	a1 := a.ensembleWith(later, a.msgs[1])
	a2bad := a.ensembleWith(expired, a.msgs[2])
	b0 := b.ensemble(0)
	got := SelectEnsembles([]*Ensemble{a0, b0, a0dup, a2bad, a1}, profileNow)
	want := []*Ensemble{a1, a0, b0}
	if len(got) != len(want) {
		t.Fatalf("got %d ensembles, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("ensemble %d: tag %#x id %#x, want tag %#x id %#x", i,
				got[i].InstanceTag(), got[i].PrekeyMessage.ID, want[i].InstanceTag(), want[i].PrekeyMessage.ID)
		}
	}
	if got := SelectEnsembles([]*Ensemble{a2bad, nil}, profileNow); got != nil {
		t.Errorf("no valid ensemble: got %d", len(got))
	}
}
