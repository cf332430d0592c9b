package dake

import (
	"bytes"
	"crypto/hmac"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"golang.org/x/crypto/chacha20"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

const (
	offBobTag   = 0x1000
	offAliceTag = 0x2000
)

// aliceConfig is alice's side of the non-interactive DAKE with bob.
func aliceConfig(t testing.TB, seed byte) Config {
	t.Helper()
	return testParty(t, offAliceTag, seed, "alice", "bob").cfg
}

func mustStartNonInteractive(t testing.TB, cfg Config, e *Ensemble) ([]byte, *Keys) {
	t.Helper()
	msg, k, err := StartNonInteractive(cfg, e, profileNow)
	if err != nil {
		t.Fatal(err)
	}
	return msg, k
}

func splitHeader(t testing.TB, msg []byte) (otrencoding.Header, []byte) {
	t.Helper()
	h, body, err := otrencoding.ParseHeader(msg)
	if err != nil {
		t.Fatal(err)
	}
	return h, body
}

// ratchetStep mirrors a DH ratchet step of internal/ratchet4 (OTRv4 spec,
// "Rotating ECDH Keys and Brace Key", "Deriving Double Ratchet Keys") with
// a new brace key: K = KDF(usage_shared_secret || K_ecdh ||
// KDF(usage_third_brace_key || k_dh, 32), 64), then derive_ratchet_keys.
func ratchetStep(t *testing.T, root *[64]byte, ourECDH *otrcrypto.ECDHPrivateKey, theirECDH *otrcrypto.Point,
	ourDH *otrcrypto.DH3072PrivateKey, theirDH *otrcrypto.DH3072PublicKey) (newRoot, chain [64]byte) {
	t.Helper()
	kECDH, err := ourECDH.SharedSecret(theirECDH)
	if err != nil {
		t.Fatal(err)
	}
	kDH, err := ourDH.SharedSecret(theirDH)
	if err != nil {
		t.Fatal(err)
	}
	var brace [32]byte
	var K [64]byte
	otrcrypto.KDF(brace[:], otrcrypto.UsageThirdBraceKey, kDH)
	otrcrypto.KDF(K[:], otrcrypto.UsageSharedSecret, kECDH[:], brace[:])
	otrcrypto.KDF(newRoot[:], otrcrypto.UsageRootKey, root[:], K[:])
	otrcrypto.KDF(chain[:], otrcrypto.UsageChainKey, root[:], K[:])
	return newRoot, chain
}

// sealData and openData are a data message's encryption and authenticator
// as internal/ratchet4 makes them from a chain key (OTRv4 spec, "When you
// send a Data Message"), without the wire format.
func sealData(ck *[64]byte, msg []byte) (ct []byte, tag [64]byte) {
	var mkEnc, mkMAC [64]byte
	otrcrypto.KDF(mkEnc[:], otrcrypto.UsageMessageKey, ck[:])
	otrcrypto.KDF(mkMAC[:], otrcrypto.UsageMACKey, mkEnc[:])
	c, _ := chacha20.NewUnauthenticatedCipher(mkEnc[:32], make([]byte, chacha20.NonceSize))
	ct = make([]byte, len(msg))
	c.XORKeyStream(ct, msg)
	otrcrypto.KDF(tag[:], otrcrypto.UsageAuthenticator, mkMAC[:], ct)
	return ct, tag
}

func openData(t *testing.T, ck *[64]byte, ct []byte, tag [64]byte) []byte {
	t.Helper()
	var mkEnc, mkMAC, want [64]byte
	otrcrypto.KDF(mkEnc[:], otrcrypto.UsageMessageKey, ck[:])
	otrcrypto.KDF(mkMAC[:], otrcrypto.UsageMACKey, mkEnc[:])
	otrcrypto.KDF(want[:], otrcrypto.UsageAuthenticator, mkMAC[:], ct)
	if !hmac.Equal(want[:], tag[:]) {
		t.Fatal("authenticator does not verify")
	}
	c, _ := chacha20.NewUnauthenticatedCipher(mkEnc[:32], make([]byte, chacha20.NonceSize))
	pt := make([]byte, len(ct))
	c.XORKeyStream(pt, ct)
	return pt
}

// TestNonInteractiveRoundTrip: alice completes the DAKE with bob's
// ensemble, bob verifies her message, and both hold the same keys, set up
// for the double ratchet as docs/offline.md, "Double ratchet", maps them.
func TestNonInteractiveRoundTrip(t *testing.T) {
	bob := newOfflineBob(t, offBobTag, 1, 3)
	e := bob.ensemble(1)
	msg, ka := mustStartNonInteractive(t, aliceConfig(t, 2), e)
	h, body := splitHeader(t, msg)
	if h.Version != 4 || h.Type != MsgNonInteractiveAuth || h.Sender != offAliceTag || h.Receiver != offBobTag {
		t.Fatalf("header = %+v", h)
	}
	var returned *PrekeySecrets
	lookup := func(id uint32) (*PrekeySecrets, *SharedPrekeySecret, error) {
		s, d, err := bob.lookup(id)
		returned = s
		return s, d, err
	}
	kb, consumed, err := ReceiveNonInteractive(bob.cfg, h, body, lookup, profileNow)
	if err != nil {
		t.Fatal(err)
	}
	if consumed != e.PrekeyMessage.ID {
		t.Errorf("consumed id = %#x, want %#x", consumed, e.PrekeyMessage.ID)
	}
	if b := returned.Bytes(); !bytes.Equal(b[8:], make([]byte, PrekeySecretsSize-8)) {
		t.Errorf("consumed prekey secrets not wiped")
	}

	// The DAKE's outputs.
	if ka.SharedSecret != kb.SharedSecret || ka.SSID != kb.SSID || ka.RootKey != kb.RootKey {
		t.Fatalf("K, SSID or root key differ")
	}
	var wantRoot [64]byte
	otrcrypto.KDF(wantRoot[:], otrcrypto.UsageRootKey, ka.SharedSecret[:])
	if ka.RootKey != wantRoot {
		t.Errorf("RootKey is not KDF(usage_root_key || K, 64)")
	}
	var wantSSID [8]byte
	otrcrypto.KDF(wantSSID[:], otrcrypto.UsageSSID, ka.SharedSecret[:])
	if ka.SSID != wantSSID {
		t.Errorf("SSID is not HWC(usage_SSID || K, 8)")
	}
	if !ka.IsAlice || kb.IsAlice {
		t.Errorf("IsAlice: alice %v, bob %v", ka.IsAlice, kb.IsAlice)
	}
	if ka.TheirInstanceTag != offBobTag || kb.TheirInstanceTag != offAliceTag {
		t.Errorf("instance tags %#x, %#x", ka.TheirInstanceTag, kb.TheirInstanceTag)
	}
	if !ka.TheirProfile.Equal(bob.cfg.Profile) || !kb.TheirProfile.Equal(aliceConfig(t, 2).Profile) {
		t.Errorf("profiles differ")
	}
	// Alice: her first keys as ours, bob's prekeys as theirs. Bob: no key
	// pair of his own, alice's first keys as theirs.
	aFirst := ka.OurECDH.Public()
	if !kb.TheirECDH.Equal(&aFirst) || !kb.TheirDH.Equal(ka.OurDH.Public()) {
		t.Errorf("bob's TheirECDH/TheirDH are not alice's first keys")
	}
	if !ka.TheirECDH.Equal(&e.PrekeyMessage.Y) || !ka.TheirDH.Equal(e.PrekeyMessage.B) {
		t.Errorf("alice's TheirECDH/TheirDH are not Y and B")
	}
	if kb.OurECDH != nil || kb.OurDH != nil {
		t.Errorf("bob has key pairs")
	}

	// Alice's first message: chain_key_s = KDF(usage_chain_key || K, 64);
	// bob's chain_key_r the same from his K.
	var chainA, chainB [64]byte
	otrcrypto.KDF(chainA[:], otrcrypto.UsageChainKey, ka.SharedSecret[:])
	otrcrypto.KDF(chainB[:], otrcrypto.UsageChainKey, kb.SharedSecret[:])
	ct, tag := sealData(&chainA, []byte("offline hello"))
	if got := openData(t, &chainB, ct, tag); string(got) != "offline hello" {
		t.Errorf("bob read %q", got)
	}
	// Bob's first reply is a DH ratchet step with fresh key pairs against
	// alice's first keys; alice's receiving step uses her first secrets.
	rng := rand.NewChaCha8([32]byte{3})
	bobECDH, _ := otrcrypto.GenerateECDHKey(rng)
	bobDH, _ := otrcrypto.GenerateDH3072Key(rng)
	rootB, sendB := ratchetStep(t, &kb.RootKey, bobECDH, &kb.TheirECDH, bobDH, kb.TheirDH)
	bobPub := bobECDH.Public()
	rootA, recvA := ratchetStep(t, &ka.RootKey, ka.OurECDH, &bobPub, ka.OurDH, bobDH.Public())
	if rootA != rootB || recvA != sendB {
		t.Fatalf("first ratchet step differs")
	}
	ct, tag = sealData(&sendB, []byte("reply"))
	if got := openData(t, &recvA, ct, tag); string(got) != "reply" {
		t.Errorf("alice read %q", got)
	}

	ka.Wipe()
	kb.Wipe()
}

// TestNonInteractiveAuthLayout checks the message against the spec's
// field list, and that parse then marshal gives it back.
func TestNonInteractiveAuthLayout(t *testing.T) {
	bob := newOfflineBob(t, offBobTag, 1, 1)
	cfg := aliceConfig(t, 2)
	msg, ka := mustStartNonInteractive(t, cfg, bob.ensemble(0))
	_, body := splitHeader(t, msg)
	m, err := ParseNonInteractiveAuthMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(otrencoding.Marshal(otrencoding.Header{Version: 4, Type: MsgNonInteractiveAuth, Sender: offAliceTag, Receiver: offBobTag}, m), msg) {
		t.Errorf("re-encoding differs")
	}
	if !m.Profile.Equal(cfg.Profile) || m.PrekeyMessageID != bob.msgs[0].ID {
		t.Errorf("profile or prekey id")
	}
	first := ka.OurECDH.Public()
	if !m.FirstECDH.Equal(&first) || !m.FirstDH.Equal(ka.OurDH.Public()) {
		t.Errorf("trailing keys are not alice's first keys")
	}
	if m.X.Equal(&first) {
		t.Errorf("X is the first ECDH key")
	}
	// Offsets: profile, X, MPI A, sigma, INT id, MAC, first ECDH, MPI first DH.
	off := len(cfg.Profile.Bytes()) + otrcrypto.PointSize + 4 + len(m.A.Bytes()) + otrcrypto.RingSignatureSize
	if got := body[off : off+4]; !bytes.Equal(got, []byte{byte(m.PrekeyMessageID >> 24), byte(m.PrekeyMessageID >> 16), byte(m.PrekeyMessageID >> 8), byte(m.PrekeyMessageID)}) {
		t.Errorf("prekey id at %d = %x", off, got)
	}
	if !bytes.Equal(body[off+4:off+4+AuthMACSize], m.AuthMAC[:]) {
		t.Errorf("MAC position")
	}
	for i := range body {
		if _, err := ParseNonInteractiveAuthMessage(body[:i]); !errors.Is(err, otrencoding.ErrMalformed) {
			t.Fatalf("prefix %d: error = %v", i, err)
		}
	}
	if _, err := ParseNonInteractiveAuthMessage(append(bytes.Clone(body), 0)); !errors.Is(err, otrencoding.ErrMalformed) {
		t.Errorf("trailing byte accepted")
	}
	if _, ok := skimNonInteractiveAuth(append(bytes.Clone(body), 0)); ok {
		t.Errorf("skim: trailing byte accepted")
	}
}

// TestNonInteractiveTamper: a change to any byte of the message (header
// included) is refused, and the refusals consume nothing.
func TestNonInteractiveTamper(t *testing.T) {
	bob := newOfflineBob(t, offBobTag, 1, 1)
	msg, _ := mustStartNonInteractive(t, aliceConfig(t, 2), bob.ensemble(0))
	before := bob.store[bob.msgs[0].ID]
	step := 1
	if testing.Short() {
		step = 7
	}
	for i := 0; i < len(msg); i += step {
		c := bytes.Clone(msg)
		c[i] ^= 0x01
		h, body, err := otrencoding.ParseHeader(c)
		if err != nil {
			continue // not a version 3 or 4 header: refused before us
		}
		if _, _, err := ReceiveNonInteractive(bob.cfg, h, body, bob.lookup, profileNow); err == nil {
			t.Fatalf("byte %d changed: accepted", i)
		}
	}
	if bob.store[bob.msgs[0].ID] != before {
		t.Fatalf("store changed")
	}
	h, body := splitHeader(t, msg)
	if _, _, err := ReceiveNonInteractive(bob.cfg, h, body, bob.lookup, profileNow); err != nil {
		t.Fatalf("genuine message after the tampered ones: %v", err)
	}
}

// TestNonInteractiveReplay: once the prekey is consumed (the host deleted
// it), the same message is refused.
func TestNonInteractiveReplay(t *testing.T) {
	bob := newOfflineBob(t, offBobTag, 1, 2)
	msg, _ := mustStartNonInteractive(t, aliceConfig(t, 2), bob.ensemble(0))
	h, body := splitHeader(t, msg)
	_, id, err := ReceiveNonInteractive(bob.cfg, h, body, bob.lookup, profileNow)
	if err != nil {
		t.Fatal(err)
	}
	delete(bob.store, id) // what the root asks its host to do
	if _, _, err := ReceiveNonInteractive(bob.cfg, h, body, bob.lookup, profileNow); !errors.Is(err, ErrUnknownPrekey) {
		t.Errorf("replay: error = %v, want ErrUnknownPrekey", err)
	}
}

// TestNonInteractiveCheapChecksFirst: header, profile tag and expiry are
// checked and the prekey id looked up before any value is decoded or any
// signature or scalar multiplication computed.
func TestNonInteractiveCheapChecksFirst(t *testing.T) {
	bob := newOfflineBob(t, offBobTag, 1, 2)
	msg, _ := mustStartNonInteractive(t, aliceConfig(t, 2), bob.ensemble(0))
	h, body := splitHeader(t, msg)
	m, err := ParseNonInteractiveAuthMessage(body)
	if err != nil {
		t.Fatal(err)
	}
	profLen := len(m.Profile.Bytes())
	idOff := profLen + otrcrypto.PointSize + 4 + len(m.A.Bytes()) + otrcrypto.RingSignatureSize
	unknownID := bytes.Clone(body)
	unknownID[idOff] ^= 0xff
	// Unknown id and X not a point: a decode before the lookup would say
	// malformed.
	unknownIDBadX := bytes.Clone(unknownID)
	unknownIDBadX[profLen+otrcrypto.PointSize-1] |= 0x01
	wrongReceiver := h
	wrongReceiver.Receiver++
	later := profileNow.Add(8 * 24 * time.Hour) // alice's profile has expired

	full := []string{traceSkim, traceLookup, traceDecode, traceProfile, traceSigma, traceECDH, traceMAC}
	tests := []struct {
		name      string
		h         otrencoding.Header
		body      []byte
		now       time.Time
		wantErr   error
		wantTrace []string
	}{
		{"genuine", h, body, profileNow, nil, full},
		{"unknown prekey id", h, unknownID, profileNow, ErrUnknownPrekey, []string{traceSkim, traceLookup}},
		{"unknown prekey id, X invalid", h, unknownIDBadX, profileNow, ErrUnknownPrekey, []string{traceSkim, traceLookup}},
		{"known prekey id, X invalid", h, func() []byte { c := bytes.Clone(body); c[profLen+otrcrypto.PointSize-1] |= 1; return c }(),
			profileNow, otrencoding.ErrMalformed, []string{traceSkim, traceLookup, traceDecode}},
		{"alice's profile expired", h, body, later, ErrInvalidClientProfile, []string{traceSkim}},
		{"receiver tag not ours", wrongReceiver, body, profileNow, ErrUnexpectedMessage, nil},
		{"cut short", h, body[:len(body)-1], profileNow, otrencoding.ErrMalformed, []string{traceSkim}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var trace []string
			lookups := 0
			lookup := func(id uint32) (*PrekeySecrets, *SharedPrekeySecret, error) {
				lookups++
				return bob.lookup(id)
			}
			_, _, err := receiveNonInteractive(bob.cfg, tc.h, tc.body, lookup, tc.now,
				func(s string) { trace = append(trace, s) }, nil)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
			if !slices.Equal(trace, tc.wantTrace) {
				t.Errorf("steps = %v, want %v", trace, tc.wantTrace)
			}
			if want := 0; slices.Contains(tc.wantTrace, traceLookup) {
				want = 1
				if lookups != want {
					t.Errorf("lookups = %d, want %d", lookups, want)
				}
			} else if lookups != want {
				t.Errorf("lookups = %d, want %d", lookups, want)
			}
		})
	}
}

// TestReceiveNonInteractiveRejects covers each rule of bob's side; every
// rejection leaves the store and the looked-up secrets as they were.
func TestReceiveNonInteractiveRejects(t *testing.T) {
	bob := newOfflineBob(t, offBobTag, 1, 2)
	aliceCfg := aliceConfig(t, 2)
	msg, _ := mustStartNonInteractive(t, aliceCfg, bob.ensemble(0))
	h, body := splitHeader(t, msg)
	m, _ := ParseNonInteractiveAuthMessage(body)
	macOff := len(m.Profile.Bytes()) + otrcrypto.PointSize + 4 + len(m.A.Bytes()) + otrcrypto.RingSignatureSize + 4

	// Bob renewed his client profile (same keys) after publishing.
	renewed, err := NewClientProfile(rand.NewChaCha8([32]byte{5}), offBobTag, bob.cfg.Identity,
		ptr(bob.cfg.Profile.ForgingKey()), "4", profileNow.Add(14*24*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	renewedCfg := bob.cfg
	renewedCfg.Profile = renewed
	otherShared := newOfflineBob(t, offBobTag, 3, 0).shared
	otherTagSecrets := func() PrekeyLookup {
		// The same id, made for another instance tag of ours.
		enc := bob.store[bob.msgs[0].ID]
		enc[7]++
		return func(uint32) (*PrekeySecrets, *SharedPrekeySecret, error) {
			s, err := ParsePrekeySecrets(enc[:])
			return s, bob.shared, err
		}
	}()
	with := func(f func(*Config)) Config { c := bob.cfg; f(&c); return c }
	hdr := func(f func(*otrencoding.Header)) otrencoding.Header { c := h; f(&c); return c }
	tamper := func(off int) []byte { c := bytes.Clone(body); c[off] ^= 1; return c }

	tests := []struct {
		name    string
		cfg     Config
		h       otrencoding.Header
		body    []byte
		lookup  PrekeyLookup
		now     time.Time
		earlier []*ClientProfile
		wantErr error // nil: accepted
	}{
		{"genuine", bob.cfg, h, body, bob.lookup, profileNow, nil, nil},
		{"version 3", bob.cfg, hdr(func(h *otrencoding.Header) { h.Version = 3 }), body, bob.lookup, profileNow, nil, ErrUnexpectedMessage},
		{"type Auth-R", bob.cfg, hdr(func(h *otrencoding.Header) { h.Type = otrencoding.MsgAuthR }), body, bob.lookup, profileNow, nil, ErrUnexpectedMessage},
		{"receiver 0", bob.cfg, hdr(func(h *otrencoding.Header) { h.Receiver = 0 }), body, bob.lookup, profileNow, nil, ErrUnexpectedMessage},
		{"sender below 0x100", bob.cfg, hdr(func(h *otrencoding.Header) { h.Sender = 0xff }), body, bob.lookup, profileNow, nil, ErrUnexpectedMessage},
		{"sender is us", bob.cfg, hdr(func(h *otrencoding.Header) { h.Sender = offBobTag }), body, bob.lookup, profileNow, nil, ErrUnexpectedMessage},
		{"sender differs from alice's profile", bob.cfg, hdr(func(h *otrencoding.Header) { h.Sender++ }), body, bob.lookup, profileNow, nil, ErrInvalidClientProfile},
		{"alice's profile expired", bob.cfg, h, body, bob.lookup, profileNow.Add(7 * 24 * time.Hour), nil, ErrInvalidClientProfile},
		{"alice's profile signature", bob.cfg, h, tamper(len(m.Profile.Bytes()) - 1), bob.lookup, profileNow, nil, ErrInvalidClientProfile},
		{"lookup error", bob.cfg, h, body, func(uint32) (*PrekeySecrets, *SharedPrekeySecret, error) { return nil, nil, errors.New("disk") }, profileNow, nil, ErrUnknownPrekey},
		{"lookup nil", bob.cfg, h, body, func(uint32) (*PrekeySecrets, *SharedPrekeySecret, error) { return nil, nil, nil }, profileNow, nil, ErrUnknownPrekey},
		{"prekey of another instance tag", bob.cfg, h, body, otherTagSecrets, profileNow, nil, ErrUnknownPrekey},
		{"other shared prekey", bob.cfg, h, body, func(id uint32) (*PrekeySecrets, *SharedPrekeySecret, error) {
			s, _, err := bob.lookup(id)
			return s, otherShared, err
		}, profileNow, nil, ErrAuthFailed},
		{"other prekey message", bob.cfg, h, body, func(uint32) (*PrekeySecrets, *SharedPrekeySecret, error) {
			return bob.lookup(bob.msgs[1].ID)
		}, profileNow, nil, ErrUnknownPrekey}, // its id differs from the one asked for
		{"wrong peer account", with(func(c *Config) { c.PeerAccountID = "mallory" }), h, body, bob.lookup, profileNow, nil, ErrAuthFailed},
		{"wrong own account", with(func(c *Config) { c.AccountID = "bob2" }), h, body, bob.lookup, profileNow, nil, ErrAuthFailed},
		{"profile renewed since publication", renewedCfg, h, body, bob.lookup, profileNow, nil, ErrAuthFailed},
		{"profile renewed, published one given", renewedCfg, h, body, bob.lookup, profileNow, []*ClientProfile{nil, bob.cfg.Profile}, nil},
		{"Auth MAC", bob.cfg, h, tamper(macOff + 5), bob.lookup, profileNow, nil, ErrAuthFailed},
		{"sigma", bob.cfg, h, tamper(macOff - 4 - 100), bob.lookup, profileNow, nil, ErrAuthFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := bob.store[bob.msgs[0].ID]
			var got *PrekeySecrets
			var gotBytes [PrekeySecretsSize]byte
			lookup := func(id uint32) (*PrekeySecrets, *SharedPrekeySecret, error) {
				s, d, err := tc.lookup(id)
				if s != nil {
					got, gotBytes = s, s.Bytes()
				}
				return s, d, err
			}
			k, _, err := ReceiveNonInteractive(tc.cfg, tc.h, tc.body, lookup, tc.now, tc.earlier...)
			if tc.wantErr == nil {
				if err != nil || k == nil {
					t.Errorf("error = %v, want accepted", err)
				}
			} else {
				if !errors.Is(err, tc.wantErr) || k != nil {
					t.Errorf("error = %v, want %v", err, tc.wantErr)
				}
				if got != nil && got.Bytes() != gotBytes {
					t.Errorf("rejection changed the looked-up secrets")
				}
			}
			if bob.store[bob.msgs[0].ID] != before {
				t.Errorf("store changed")
			}
		})
	}

	// Config errors.
	if _, _, err := ReceiveNonInteractive(bob.cfg, h, body, nil, profileNow); err == nil {
		t.Errorf("nil lookup accepted")
	}
	if _, _, err := ReceiveNonInteractive(with(func(c *Config) { c.Profile = aliceCfg.Profile }), h, body, bob.lookup, profileNow); err == nil || errors.Is(err, ErrAuthFailed) {
		t.Errorf("profile of another identity: error = %v, want a config error", err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestStartNonInteractiveRejects(t *testing.T) {
	bob := newOfflineBob(t, offBobTag, 1, 1)
	cfg := aliceConfig(t, 2)
	expiredPP, _, err := NewPrekeyProfile(rand.NewChaCha8([32]byte{6}), offBobTag, bob.cfg.Identity, profileNow)
	if err != nil {
		t.Fatal(err)
	}
	self := newOfflineBob(t, offAliceTag, 2, 1) // alice's own ensemble
	noRand := cfg
	noRand.Rand = nil
	shortRand := cfg
	shortRand.Rand = bytes.NewReader(make([]byte, 100))
	tests := []struct {
		name    string
		cfg     Config
		e       *Ensemble
		wantErr error // nil: any error
	}{
		{"invalid ensemble", cfg, bob.ensembleWith(expiredPP, bob.msgs[0]), ErrInvalidPrekeyProfile},
		{"nil ensemble", cfg, nil, ErrInvalidEnsemble},
		{"our own instance tag", cfg, self.ensemble(0), ErrInvalidEnsemble},
		{"no rand", noRand, bob.ensemble(0), nil},
		{"rand runs dry", shortRand, bob.ensemble(0), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, k, err := StartNonInteractive(tc.cfg, tc.e, profileNow)
			if err == nil || msg != nil || k != nil {
				t.Fatalf("StartNonInteractive = %x, %v, %v", msg, k, err)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("error = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

// TestNonInteractiveSeveralEnsembles: alice may use several ensembles of
// one instance; each message consumes its own prekey, and each run has its
// own keys.
func TestNonInteractiveSeveralEnsembles(t *testing.T) {
	bob := newOfflineBob(t, offBobTag, 1, 3)
	cfg := aliceConfig(t, 2)
	seen := map[[8]byte]bool{}
	for i := range bob.msgs {
		msg, ka := mustStartNonInteractive(t, cfg, bob.ensemble(i))
		h, body := splitHeader(t, msg)
		kb, id, err := ReceiveNonInteractive(bob.cfg, h, body, bob.lookup, profileNow)
		if err != nil {
			t.Fatal(err)
		}
		if id != bob.msgs[i].ID || kb.SSID != ka.SSID || seen[ka.SSID] {
			t.Errorf("ensemble %d: id %#x, SSIDs %x %x", i, id, ka.SSID, kb.SSID)
		}
		seen[ka.SSID] = true
		delete(bob.store, id)
	}
}

// TestNonInteractiveTranscript recomputes alice's values from the spec's
// formulas, written out here with literal usage IDs and byte layouts
// rather than the package's helpers, from her replayed random stream: X,
// A, the first keys, t, the Auth MAC, sigma's message and K. Both sides
// share the helpers, so this is what catches a symmetric slip.
func TestNonInteractiveTranscript(t *testing.T) {
	bob := newOfflineBob(t, offBobTag, 1, 1)
	e := bob.ensemble(0)
	cfg := aliceConfig(t, 2)
	cfg.Rand = rand.NewChaCha8([32]byte{50})
	msg, ka := mustStartNonInteractive(t, cfg, e)
	_, body := splitHeader(t, msg)
	m, err := ParseNonInteractiveAuthMessage(body)
	if err != nil {
		t.Fatal(err)
	}

	// "Non-Interactive-Auth Message", steps 2 to 5: x, a, the first ECDH
	// and DH keys, in this order.
	replay := rand.NewChaCha8([32]byte{50})
	var rx, rfx [57]byte
	var ra, rfa [80]byte
	replay.Read(rx[:])
	replay.Read(ra[:])
	replay.Read(rfx[:])
	replay.Read(rfa[:])
	x, _ := otrcrypto.NewECDHPrivateKey(rx[:])
	a, _ := otrcrypto.NewDH3072PrivateKey(ra[:])
	fx, _ := otrcrypto.NewECDHPrivateKey(rfx[:])
	fa, _ := otrcrypto.NewDH3072PrivateKey(rfa[:])
	X, FX := x.Public(), fx.Public()
	if !m.X.Equal(&X) || !m.A.Equal(a.Public()) || !m.FirstECDH.Equal(&FX) || !m.FirstDH.Equal(fa.Public()) {
		t.Fatalf("ephemeral keys differ from the replayed stream")
	}

	kdf := func(usage byte, n int, parts ...[]byte) []byte {
		out := make([]byte, n)
		otrcrypto.KDF(out, otrcrypto.KDFUsage(usage), parts...)
		return out
	}
	be32 := func(v uint32) []byte { return []byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)} }
	data := func(v []byte) []byte { return append(be32(uint32(len(v))), v...) }
	pt := func(p otrcrypto.Point) []byte { b := p.Bytes(); return b[:] }
	Y, B := e.PrekeyMessage.Y, e.PrekeyMessage.B
	D, Hb, Fb := bob.pp.SharedPrekey(), bob.cfg.Profile.IdentityKey(), bob.cfg.Profile.ForgingKey()

	kECDH, _ := x.SharedSecret(&Y)
	kDb, _ := x.SharedSecret(&D)
	kHb, _ := x.SharedSecret(&Hb)
	kDH, _ := a.SharedSecret(B)
	braceKey := kdf(0x01, 32, kDH)                            // usage_third_brace_key
	tmpK := kdf(0x0C, 64, kECDH[:], kDb[:], kHb[:], braceKey) // usage_tmp_key
	authMACKey := kdf(0x0D, 64, tmpK)                         // usage_auth_MAC_key
	phi := slices.Concat(be32(offAliceTag), be32(offBobTag), pt(FX), data(fa.Public().Bytes()),
		data([]byte("alice")), data([]byte("bob")))
	tt := slices.Concat(
		kdf(0x0E, 64, bob.cfg.Profile.Bytes()), // usage_non_int_auth_bob_client_profile
		kdf(0x0F, 64, cfg.Profile.Bytes()),     // usage_non_int_auth_alice_client_profile
		pt(Y), pt(X), data(B.Bytes()), data(a.Public().Bytes()), pt(D),
		kdf(0x10, 64, phi)) // usage_non_int_auth_phi
	if mac := kdf(0x11, 64, authMACKey, tt); !bytes.Equal(mac, m.AuthMAC[:]) { // usage_auth_MAC
		t.Errorf("Auth MAC = %x, want %x", m.AuthMAC, mac)
	}
	Ha := cfg.Identity.Public()
	if !otrcrypto.RingVerify(&Fb, &Ha, &Y, &m.Sigma, tt) {
		t.Errorf("sigma does not verify over t with the ring {F_b, H_a, Y}")
	}
	if K := kdf(0x03, 64, tmpK); !bytes.Equal(K, ka.SharedSecret[:]) { // usage_shared_secret
		t.Errorf("K differs")
	}
	if ssid := kdf(0x04, 8, ka.SharedSecret[:]); !bytes.Equal(ssid, ka.SSID[:]) { // usage_SSID
		t.Errorf("SSID differs")
	}
	if root := kdf(0x12, 64, ka.SharedSecret[:]); !bytes.Equal(root, ka.RootKey[:]) { // usage_root_key
		t.Errorf("RootKey differs")
	}
}
