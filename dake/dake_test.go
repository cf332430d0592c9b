package dake

import (
	"bytes"
	"crypto/sha3"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/internal/vectors"
)

// shakeStream is otr4j's deterministic random stream of dake.json:
// SHAKE-256 over the ASCII label, read sequentially.
func shakeStream(label string) *sha3.SHAKE {
	h := sha3.NewSHAKE256()
	h.Write([]byte(label))
	return h
}

func mustReceive(t testing.TB, d *DAKE, msg []byte) Result {
	t.Helper()
	h, body, err := otrencoding.ParseHeader(msg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := d.Receive(h, body, profileNow)
	if err != nil {
		t.Fatalf("Receive(%v) in %v: %v", h.Type, d.State(), err)
	}
	return r
}

// TestDAKEVectors runs the whole DAKE of dake.json with otr4j's random
// streams: every message must be byte-exact, and both sides must derive the
// recorded SSID and first root key.
func dakeJSONExchange(t *testing.T) {
	type party struct {
		InstanceTag       vectors.Hex `json:"instance_tag"`
		AccountID         string      `json:"account_id"`
		PeerAccountID     string      `json:"peer_account_id"`
		IdentitySecretKey vectors.Hex `json:"identity_secret_key"`
		ClientProfile     vectors.Hex `json:"client_profile"`
		Label             string      `json:"random_stream_label"`
	}
	type msg struct {
		Encoded   vectors.Hex `json:"encoded"`
		FirstECDH struct {
			Public vectors.Hex `json:"public"`
		} `json:"first_ecdh"`
		FirstDH struct {
			Public vectors.Hex `json:"public"`
		} `json:"first_dh"`
	}
	var f struct {
		Parties struct {
			Bob   party `json:"bob"`
			Alice party `json:"alice"`
		} `json:"parties"`
		Identity msg `json:"identity_message"`
		AuthR    msg `json:"auth_r"`
		AuthI    msg `json:"auth_i"`
		Shared   struct {
			SSID         vectors.Hex `json:"ssid"`
			FirstRootKey vectors.Hex `json:"first_root_key"`
		} `json:"shared_secret"`
	}
	vectors.Load(t, "otrv4/dake.json", &f)
	newParty := func(p party) *DAKE {
		id, err := otrcrypto.NewEdDSAPrivateKey(p.IdentitySecretKey)
		if err != nil {
			t.Fatal(err)
		}
		prof, err := ParseClientProfile(p.ClientProfile)
		if err != nil {
			t.Fatal(err)
		}
		d, err := New(Config{
			InstanceTag: binary.BigEndian.Uint32(p.InstanceTag), AccountID: p.AccountID, PeerAccountID: p.PeerAccountID,
			Profile: prof, Identity: id, Rand: shakeStream(p.Label),
		})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	bob, alice := newParty(f.Parties.Bob), newParty(f.Parties.Alice)

	r1, err := bob.Start()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r1.Send, f.Identity.Encoded) {
		t.Fatalf("Identity = %x, want %x", r1.Send, []byte(f.Identity.Encoded))
	}
	r2 := mustReceive(t, alice, r1.Send)
	if !bytes.Equal(r2.Send, f.AuthR.Encoded) {
		t.Fatalf("Auth-R = %x, want %x", r2.Send, []byte(f.AuthR.Encoded))
	}
	r3 := mustReceive(t, bob, r2.Send)
	if !bytes.Equal(r3.Send, f.AuthI.Encoded) {
		t.Fatalf("Auth-I = %x, want %x", r3.Send, []byte(f.AuthI.Encoded))
	}
	r4 := mustReceive(t, alice, r3.Send)
	if r4.Send != nil || r3.Keys == nil || r4.Keys == nil {
		t.Fatalf("DAKE did not complete")
	}
	kb, ka := r3.Keys, r4.Keys
	if kb.IsAlice || !ka.IsAlice {
		t.Errorf("roles: bob IsAlice=%v, alice IsAlice=%v", kb.IsAlice, ka.IsAlice)
	}
	for _, k := range []*Keys{kb, ka} {
		if !bytes.Equal(k.SSID[:], f.Shared.SSID) || !bytes.Equal(k.RootKey[:], f.Shared.FirstRootKey) {
			t.Errorf("SSID, root key = %x, %x, want %x, %x", k.SSID, k.RootKey, []byte(f.Shared.SSID), []byte(f.Shared.FirstRootKey))
		}
	}
	bobFirst, aliceFirst := kb.OurECDH.Public(), ka.OurECDH.Public()
	if b := bobFirst.Bytes(); !bytes.Equal(b[:], f.Identity.FirstECDH.Public) || !ka.TheirECDH.Equal(&bobFirst) {
		t.Errorf("bob's first ECDH key differs")
	}
	if b := aliceFirst.Bytes(); !bytes.Equal(b[:], f.AuthR.FirstECDH.Public) || !kb.TheirECDH.Equal(&aliceFirst) {
		t.Errorf("alice's first ECDH key differs")
	}
	if !bytes.Equal(kb.OurDH.Public().Bytes(), f.Identity.FirstDH.Public) || !ka.TheirDH.Equal(kb.OurDH.Public()) {
		t.Errorf("bob's first DH key differs")
	}
	if !bytes.Equal(ka.OurDH.Public().Bytes(), f.AuthR.FirstDH.Public) || !kb.TheirDH.Equal(ka.OurDH.Public()) {
		t.Errorf("alice's first DH key differs")
	}
	if kb.TheirInstanceTag != binary.BigEndian.Uint32(f.Parties.Alice.InstanceTag) || !kb.TheirProfile.Equal(alice.cfg.Profile) {
		t.Errorf("bob's view of alice differs")
	}
	if bob.State() != StateStart || alice.State() != StateStart {
		t.Errorf("states after the DAKE: %v, %v", bob.State(), alice.State())
	}
}

// testParty makes a DAKE with fresh keys from a seeded stream.
func testParty(t testing.TB, tag uint32, seed byte, account, peer string) *DAKE {
	t.Helper()
	rng := rand.NewChaCha8([32]byte{seed})
	id, _ := otrcrypto.GenerateEdDSAKey(rng)
	fk, _ := otrcrypto.GenerateEdDSAKey(rng)
	forging := fk.Public()
	prof, err := NewClientProfile(rng, tag, id, &forging, "4", profileNow.Add(7*24*time.Hour), nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := New(Config{InstanceTag: tag, AccountID: account, PeerAccountID: peer, Profile: prof, Identity: id, Rand: rng})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

type dakeSnapshot struct {
	state State
	wR    *waitingAuthR
	wI    *waitingAuthI
}

func snapshot(d *DAKE) dakeSnapshot { return dakeSnapshot{d.state, d.wAuthR, d.wAuthI} }

// TestDAKETransitions has a row for every (state, message) pair.
func TestDAKETransitions(t *testing.T) {
	const bobTag, aliceTag = 0x1000, 0x2000
	// Messages of a reference run: bob's Identity, alice's Auth-R to it,
	// bob's Auth-I.
	refBob := testParty(t, bobTag, 1, "bob", "alice")
	refAlice := testParty(t, aliceTag, 2, "alice", "bob")
	identity, _ := refBob.Start()
	authR := mustReceive(t, refAlice, identity.Send)
	authI := mustReceive(t, refBob, authR.Send)
	// Another Identity message of bob's (a new DAKE of his).
	identity2 := mustStart(t, testParty(t, bobTag, 3, "bob", "alice"))

	// setup puts a fresh copy of the reference alice or bob into a state.
	setup := func(t *testing.T, who string, s State) *DAKE {
		t.Helper()
		switch who {
		case "bob": // bob's keys; in WAITING_AUTH_R with the reference Identity
			d := testParty(t, bobTag, 1, "bob", "alice")
			if s == StateWaitingAuthR {
				d.Start()
			}
			if s == StateWaitingAuthI {
				mustReceive(t, d, mustStart(t, testParty(t, aliceTag, 2, "alice", "bob")))
			}
			return d
		default: // alice
			d := testParty(t, aliceTag, 2, "alice", "bob")
			if s == StateWaitingAuthR {
				d.Start()
			}
			if s == StateWaitingAuthI {
				mustReceive(t, d, identity.Send)
			}
			return d
		}
	}
	trailing := func(b []byte) []byte { return append(bytes.Clone(b), 0) }
	cases := []struct {
		name      string
		who       string
		state     State
		msg       []byte
		wantErr   error
		wantState State
		wantSend  bool
		wantKeys  bool
	}{
		{"start/identity", "alice", StateStart, identity.Send, nil, StateWaitingAuthI, true, false},
		{"start/auth-r", "bob", StateStart, authR.Send, ErrUnexpectedMessage, StateStart, false, false},
		{"start/auth-i", "alice", StateStart, authI.Send, ErrUnexpectedMessage, StateStart, false, false},
		{"waiting-auth-r/auth-r", "bob", StateWaitingAuthR, authR.Send, nil, StateStart, true, true},
		{"waiting-auth-r/auth-r tampered sigma", "bob", StateWaitingAuthR, tamperSigma(t, authR.Send), ErrAuthFailed, StateWaitingAuthR, false, false},
		{"waiting-auth-r/auth-i", "bob", StateWaitingAuthR, authI.Send, ErrUnexpectedMessage, StateWaitingAuthR, false, false},
		{"waiting-auth-i/identity again (same Auth-R)", "alice", StateWaitingAuthI, identity.Send, nil, StateWaitingAuthI, true, false},
		{"waiting-auth-i/new identity (fresh Auth-R)", "alice", StateWaitingAuthI, identity2, nil, StateWaitingAuthI, true, false},
		{"waiting-auth-i/auth-r", "alice", StateWaitingAuthI, authR.Send, ErrUnexpectedMessage, StateWaitingAuthI, false, false},
		{"waiting-auth-i/auth-i", "alice", StateWaitingAuthI, authI.Send, nil, StateStart, false, true},
		{"waiting-auth-i/auth-i tampered", "alice", StateWaitingAuthI, tamperSigma(t, authI.Send), ErrAuthFailed, StateWaitingAuthI, false, false},
		{"waiting-auth-i/auth-i malformed", "alice", StateWaitingAuthI, authI.Send[:len(authI.Send)-1], otrencoding.ErrMalformed, StateWaitingAuthI, false, false},
		{"start/identity malformed", "alice", StateStart, trailing(identity.Send), otrencoding.ErrMalformed, StateStart, false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := setup(t, tc.who, tc.state)
			before := snapshot(d)
			h, body, err := otrencoding.ParseHeader(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			r, err := d.Receive(h, body, profileNow)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Receive error = %v, want %v", err, tc.wantErr)
			}
			if d.State() != tc.wantState {
				t.Errorf("state = %v, want %v", d.State(), tc.wantState)
			}
			if err != nil && snapshot(d) != before {
				t.Errorf("rejected input changed the state")
			}
			if (r.Send != nil) != tc.wantSend || (r.Keys != nil) != tc.wantKeys {
				t.Errorf("send %v keys %v, want %v %v", r.Send != nil, r.Keys != nil, tc.wantSend, tc.wantKeys)
			}
			// A duplicate of the Identity message we answered gets the same
			// Auth-R (else the peer's Auth-I for it would be orphaned); a new
			// one gets fresh key material (docs/interop.md, "DAKE").
			if tc.name == "waiting-auth-i/identity again (same Auth-R)" && !bytes.Equal(r.Send, authR.Send) {
				t.Errorf("answered a duplicate Identity with a new Auth-R")
			}
			if tc.name == "waiting-auth-i/new identity (fresh Auth-R)" && bytes.Equal(r.Send, authR.Send) {
				t.Errorf("answered a new Identity with the same Auth-R, want fresh key material")
			}
		})
	}
}

func mustStart(t testing.TB, d *DAKE) []byte {
	t.Helper()
	r, err := d.Start()
	if err != nil {
		t.Fatal(err)
	}
	return r.Send
}

// tamperSigma flips a bit of c1 in the sigma of an Auth-R or Auth-I message
// while keeping it a valid scalar.
func tamperSigma(t *testing.T, msg []byte) []byte {
	t.Helper()
	h, body, err := otrencoding.ParseHeader(msg)
	if err != nil {
		t.Fatal(err)
	}
	c := bytes.Clone(msg)
	off := otrencoding.HeaderLen
	if h.Type == otrencoding.MsgAuthR {
		m, err := ParseAuthRMessage(body)
		if err != nil {
			t.Fatal(err)
		}
		off += len(m.Profile.Bytes()) + otrcrypto.PointSize + 4 + len(m.A.Bytes())
	}
	c[off] ^= 1 // lowest byte of c1: stays below q
	return c
}

// TestDAKESimultaneousStart: both send Identity; exactly one side keeps its
// own (resends it), the other answers, and the DAKE completes.
func TestDAKESimultaneousStart(t *testing.T) {
	bob := testParty(t, 0x1000, 1, "bob", "alice")
	alice := testParty(t, 0x2000, 2, "alice", "bob")
	ib, ia := mustStart(t, bob), mustStart(t, alice)
	rb := mustReceive(t, bob, ia)
	ra := mustReceive(t, alice, ib)
	// One resent its Identity (state WAITING_AUTH_R), the other sent Auth-R.
	var keeper, answerer *DAKE
	var authR []byte
	switch {
	case bob.State() == StateWaitingAuthR && alice.State() == StateWaitingAuthI:
		keeper, answerer, authR = bob, alice, ra.Send
		if !bytes.Equal(rb.Send, ib) {
			t.Errorf("keeper did not resend its Identity message")
		}
	case alice.State() == StateWaitingAuthR && bob.State() == StateWaitingAuthI:
		keeper, answerer, authR = alice, bob, rb.Send
		if !bytes.Equal(ra.Send, ia) {
			t.Errorf("keeper did not resend its Identity message")
		}
	default:
		t.Fatalf("states %v, %v", bob.State(), alice.State())
	}
	r := mustReceive(t, keeper, authR)
	r2 := mustReceive(t, answerer, r.Send)
	if r.Keys == nil || r2.Keys == nil || r.Keys.SSID != r2.Keys.SSID || r.Keys.RootKey != r2.Keys.RootKey {
		t.Fatalf("DAKE after a simultaneous start did not agree")
	}
}

func TestDAKEWrongAccountIDs(t *testing.T) {
	bob := testParty(t, 0x1000, 1, "bob", "alice")
	alice := testParty(t, 0x2000, 2, "alice", "mallory") // disagrees on phi
	r := mustReceive(t, alice, mustStart(t, bob))
	h, body, _ := otrencoding.ParseHeader(r.Send)
	if _, err := bob.Receive(h, body, profileNow); !errors.Is(err, ErrAuthFailed) {
		t.Errorf("Receive(Auth-R with another phi) = %v, want ErrAuthFailed", err)
	}
}

func TestDAKEExpiredProfile(t *testing.T) {
	bob := testParty(t, 0x1000, 1, "bob", "alice")
	alice := testParty(t, 0x2000, 2, "alice", "bob")
	h, body, _ := otrencoding.ParseHeader(mustStart(t, bob))
	if _, err := alice.Receive(h, body, profileNow.Add(8*24*time.Hour)); !errors.Is(err, ErrInvalidClientProfile) {
		t.Errorf("Receive(expired profile) = %v, want ErrInvalidClientProfile", err)
	}
	if alice.State() != StateStart {
		t.Errorf("state changed")
	}
}

// TestOTR4JDakeJSON runs the DAKE part of otr4j's dake.json (one test for
// the file in this package): the three messages byte for byte, the
// transcript values (phi, t, K, SSID, first root key) and the whole
// exchange through the state machine. The data-message part is run by
// internal/ratchet4 (TestDAKEVectors there).
func TestOTR4JDakeJSON(t *testing.T) {
	t.Run("messages", dakeJSONMessages)
	t.Run("transcript", dakeJSONTranscript)
	t.Run("exchange", dakeJSONExchange)
}
