package ake3

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/internal/vectors"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOtrJSKey checks otrjsKey against the hex round trip of otr.js 0.2.16
// worked by hand: bigInt2str drops leading zeros, Hex.parse reads pairs
// from the left and an odd last digit alone.
func TestOtrJSKey(t *testing.T) {
	tests := []struct {
		name    string
		r       string
		wantKey string // "" for not ok
	}{
		{"r >= 2^124: key is r", "10000000000000000000000000000000", ""},
		{"r = 2^128-1", "ffffffffffffffffffffffffffffffff", ""},
		{"31 digits", "0123456789abcdef0123456789abcdef", "123456789abcdef0123456789abcde0f"},
		{"2^124-1", "0fffffffffffffffffffffffffffffff", "ffffffffffffffffffffffffffffff0f"},
		{"2^120", "01000000000000000000000000000000", "10000000000000000000000000000000"},
		{"30 digits, 16-byte form", "00ffeeddccbbaa998877665544332211", "ffeeddccbbaa998877665544332211"},
		{"30 digits, minimal form", "ffeeddccbbaa998877665544332211", "ffeeddccbbaa998877665544332211"},
		{"29 digits, minimal form", "0feeddccbbaa998877665544332211", "feeddccbbaa9988776655443322101"},
		{"28 digits", "eeddccbbaa998877665544332211", "eeddccbbaa998877665544332211"},
		{"one digit", "07", "07"},
		{"short form with a leading zero byte", "00ff", ""},
		{"15 bytes with a leading zero byte", "00eeddccbbaa998877665544332211", ""},
		{"zero", "00000000000000000000000000000000", ""},
		{"empty", "", ""},
		{"17 bytes", "0000000000000000000000000000000001", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, ok := otrjsKey(unhex(t, tc.r))
			if got := hex.EncodeToString(key); ok != (tc.wantKey != "") || got != tc.wantKey {
				t.Errorf("otrjsKey(%s) = %s, %v; want %q", tc.r, got, ok, tc.wantKey)
			}
		})
	}
}

// TestCryptoJSAESIsAES128: for 16-byte keys the CryptoJS emulation is
// AES-128-CTR, which pins its S-box, rounds, key schedule and counter.
func TestCryptoJSAESIsAES128(t *testing.T) {
	rnd := seeded(90)
	for i := range 50 {
		key := make([]byte, 16)
		src := make([]byte, i*7)
		rnd.Read(key)
		rnd.Read(src)
		got := make([]byte, len(src))
		cryptojsAESCTR(key, got, src)
		block, err := aes.NewCipher(key)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]byte, len(src))
		cipher.NewCTR(block, make([]byte, 16)).XORKeyStream(want, src)
		if !bytes.Equal(got, want) {
			t.Fatalf("cryptojsAESCTR(%x) over %d bytes differs from AES-128-CTR", key, len(src))
		}
	}
}

// otrjsCommitVector is one D-H Commit recorded from otr.js 0.2.16 with its
// random source forced (ake3/testdata/otrjs_commit.json).
type otrjsCommitVector struct {
	TCID        int         `json:"tcId"`
	Comment     string      `json:"comment"`
	R           vectors.Hex `json:"r"`        // the value forced into BigInt.randBigInt(128)
	Revealed    vectors.Hex `json:"revealed"` // HLP.packMPI(r) without its length: what its Reveal Signature carries
	X           vectors.Hex `json:"x"`        // the D-H secret forced into BigInt.randBigInt(320)
	GXMPI       vectors.Hex `json:"gxmpi"`
	EncryptedGX vectors.Hex `json:"encryptedGX"`
	HashedGX    vectors.Hex `json:"hashedGX"`
	Result      string      `json:"result"`
}

func loadOtrJSCommitVectors(t testing.TB) []otrjsCommitVector {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "otrjs_commit.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Source  string              `json:"source"`
		Vectors []otrjsCommitVector `json:"vectors"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if file.Source == "" || len(file.Vectors) == 0 {
		t.Fatal("otrjs_commit.json: no source or no vectors")
	}
	return file.Vectors
}

// TestOtrJSCommitVectors opens D-H Commits that otr.js 0.2.16 itself made,
// for r on both sides of 2^124 and 2^120: the spec's key opens those with
// r >= 2^124, otrjsDecrypt (with the revealed bytes) opens them all.
func TestOtrJSCommitVectors(t *testing.T) {
	for _, v := range loadOtrJSCommitVectors(t) {
		t.Run(v.Comment, func(t *testing.T) {
			if h := sha256.Sum256(v.GXMPI); !bytes.Equal(h[:], v.HashedGX) {
				t.Fatalf("hashedGX is not SHA-256(gxmpi)")
			}
			got := make([]byte, len(v.EncryptedGX))
			_, ok := otrjsKey(v.Revealed)
			if len(v.Revealed) == 16 && !ok {
				otrcrypto.AESCTR(v.Revealed, [8]byte{}, got, v.EncryptedGX)
			} else if !otrjsDecrypt(v.Revealed, got, v.EncryptedGX) {
				t.Fatalf("otrjsDecrypt(%x) not applicable", v.Revealed)
			}
			if !bytes.Equal(got, v.GXMPI) {
				t.Errorf("decrypted %x, want %x", got, v.GXMPI)
			}
		})
	}
}

// scripted returns a reader that yields parts in order, then seeded bytes.
func scripted(seed byte, parts ...[]byte) io.Reader {
	rs := make([]io.Reader, 0, len(parts)+1)
	for _, p := range parts {
		rs = append(rs, bytes.NewReader(p))
	}
	return io.MultiReader(append(rs, seeded(seed))...)
}

// otrjsAccepts is otr.js 0.2.16 receiving our Reveal Signature (lib/ake.js,
// handleAKE case '\x11'): it decrypts our committed g^x under its function
// of the revealed r and compares the hash.
func otrjsAccepts(commit, reveal []byte) bool {
	var c otrencoding.DHCommit
	var rs otrencoding.RevealSig
	if c.Unmarshal(commit) != nil || rs.Unmarshal(reveal) != nil {
		return false
	}
	gxmpi := make([]byte, len(c.EncryptedGX))
	if !otrjsDecrypt(rs.RevealedKey, gxmpi, c.EncryptedGX) {
		otrcrypto.AESCTR(rs.RevealedKey, [8]byte{}, gxmpi, c.EncryptedGX)
	}
	h := sha256.Sum256(gxmpi)
	return bytes.Equal(h[:], c.HashedGX)
}

// TestStartNeverRevealsSmallR forces r < 2^124 through the injected
// randomness: Start draws again, and otr.js accepts what we reveal.
func TestStartNeverRevealsSmallR(t *testing.T) {
	dhx := bytes.Repeat([]byte{0x5a}, 40) // GenerateDHKey reads 40 bytes
	small := func(first byte) []byte { return append([]byte{first}, bytes.Repeat([]byte{0xa5}, 15)...) }
	tests := []struct {
		name  string
		draws [][]byte
		want  []byte
	}{
		{"top byte 0x0f", [][]byte{small(0x0f), small(0x10)}, small(0x10)},
		{"top byte 0x00", [][]byte{small(0x00), small(0xff)}, small(0xff)},
		{"three small in a row", [][]byte{small(0x01), small(0x00), small(0x0e), small(0x80)}, small(0x80)},
		{"2^124 is kept", [][]byte{small(0x10)}, small(0x10)},
	}
	a, b := testKeys(t)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			bob, alice := New(b), New(a)
			commit, err := bob.Start(scripted(100, append([][]byte{dhx}, tc.draws...)...))
			if err != nil {
				t.Fatal(err)
			}
			rnd := seeded(101)
			rs, _, err := alice.Receive(rnd, commit.Type, commit.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			dhkey := one(t, rs)
			rs, _, err = bob.Receive(rnd, dhkey.t, dhkey.body)
			if err != nil {
				t.Fatal(err)
			}
			reveal := one(t, rs)
			var m otrencoding.RevealSig
			if err := m.Unmarshal(reveal.body); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(m.RevealedKey, tc.want) {
				t.Errorf("revealed r = %x, want %x", m.RevealedKey, tc.want)
			}
			if !otrjsAccepts(commit.Bytes(), reveal.body) {
				t.Errorf("otr.js would refuse our Reveal Signature (r = %x)", m.RevealedKey)
			}
			if _, ka, err := alice.Receive(rnd, reveal.t, reveal.body); err != nil || ka == nil {
				t.Errorf("our own side refuses it: %v", err)
			}
		})
	}
	// A reader that fails on the redraw fails Start and changes nothing.
	bob := New(b)
	if _, err := bob.Start(io.MultiReader(bytes.NewReader(dhx), bytes.NewReader(small(0x01)))); err == nil || bob.State() != StateNone {
		t.Errorf("Start with randomness failing on the redraw: %v, state %v; want an error, %v", err, bob.State(), StateNone)
	}
}

// otrjsStart makes bob a D-H Commit sender with the given r (16 bytes)
// whose commit encrypts g^x with seal, as otr.js 0.2.16 does with its own
// function of r (sealOtrJS) or a spec-following sender with r (sealSpec).
func otrjsStart(t *testing.T, bob *AKE, r []byte, seal func(r, gxmpi []byte) []byte) Reply {
	t.Helper()
	if _, err := bob.Start(seeded(110)); err != nil {
		t.Fatal(err)
	}
	copy(bob.r[:], r)
	gxmpi := mpi(bob.ourDH.Public())
	h := otrcrypto.SHA256(gxmpi)
	bob.commit = &otrencoding.DHCommit{EncryptedGX: seal(r, gxmpi), HashedGX: h[:]}
	return Reply{otrencoding.MsgDHCommit, bob.commit}
}

func sealSpec(r, gxmpi []byte) []byte {
	enc := make([]byte, len(gxmpi))
	otrcrypto.AESCTR(r, [8]byte{}, enc, gxmpi)
	return enc
}

// sealOtrJS is lib/ake.js initiateAKE: HLP.encryptAes(gxmpi, key,
// HLP.packCtr(0)) with key from the hex round trip of r.
func sealOtrJS(r, gxmpi []byte) []byte {
	enc := make([]byte, len(gxmpi))
	if !otrjsDecrypt(minimalR(r), enc, gxmpi) {
		otrcrypto.AESCTR(r, [8]byte{}, enc, gxmpi)
	}
	return enc
}

// minimalR is r as otr.js reveals it, HLP.packMPI(r) without the length.
func minimalR(r []byte) []byte { return bytes.TrimLeft(r, "\x00") }

// TestOtrJSCommitSender runs exchanges whose D-H Commit comes from an
// otr.js-like sender: for r < 2^124 we accept otr.js's key, checked against
// the committed hash; nothing else is accepted that was refused before.
func TestOtrJSCommitSender(t *testing.T) {
	const (
		r31   = "0123456789abcdef0123456789abcdef"
		rMax  = "0fffffffffffffffffffffffffffffff"
		r2120 = "01000000000000000000000000000000"
		r30   = "00ffeeddccbbaa998877665544332211"
		r29   = "000feeddccbbaa998877665544332211"
		r28   = "0000eeddccbbaa998877665544332211"
		rOne  = "00000000000000000000000000000007"
		rBig  = "1123456789abcdef0123456789abcdef"
	)
	a, b := testKeys(t)
	// sealOtherGX encrypts another g^x than the committed hash's, under
	// otr.js's key.
	other, err := otrcrypto.GenerateDHKey(seeded(111))
	if err != nil {
		t.Fatal(err)
	}
	sealOtherGX := func(r, _ []byte) []byte { return sealOtrJS(r, mpi(other.Public())) }
	// sealShifted applies otr.js's transform to an r >= 2^124, which
	// otr.js itself never does.
	// sealShifted uses the 31-digit form of otr.js's key, ((r >> 4) << 8) |
	// (r & 0xf), for an r >= 2^124, where otr.js itself uses r.
	sealShifted := func(r, gxmpi []byte) []byte {
		h := hex.EncodeToString(r)
		k, _ := hex.DecodeString(h[1:31] + "0" + h[31:])
		return sealSpec(k, gxmpi)
	}
	sealThird := func(r, gxmpi []byte) []byte {
		k := append([]byte{}, r...)
		k[15] ^= 1
		return sealOtrJS(k, gxmpi)
	}
	tests := []struct {
		name     string
		r        string
		seal     func(r, gxmpi []byte) []byte
		revealed func(r []byte) []byte // nil: as otr.js, minimalR
		wantErr  error
	}{
		{"otr.js 2^120 <= r < 2^124", r31, sealOtrJS, nil, nil},
		{"otr.js r = 2^124-1", rMax, sealOtrJS, nil, nil},
		{"otr.js r = 2^120", r2120, sealOtrJS, nil, nil},
		{"otr.js r < 2^120, 15-byte key", r30, sealOtrJS, nil, nil},
		{"otr.js r < 2^116, 15-byte key", r29, sealOtrJS, nil, nil},
		{"otr.js r < 2^112, 14-byte key", r28, sealOtrJS, nil, nil},
		{"otr.js r = 7, 1-byte key", rOne, sealOtrJS, nil, nil},
		{"otr.js r >= 2^124", rBig, sealOtrJS, nil, nil},
		{"otr.js key, r in 16 bytes", r30, sealOtrJS, bytes.Clone, nil},
		{"spec sender, r < 2^124", rMax, sealSpec, bytes.Clone, nil},
		{"spec sender, r < 2^120", r30, sealSpec, bytes.Clone, nil},

		{"otr.js key, revealed with a leading zero byte", r28, sealOtrJS,
			func(r []byte) []byte { return r[1:] }, ErrVerify},
		{"otr.js key, 17-byte reveal", r31, sealOtrJS,
			func(r []byte) []byte { return append([]byte{0}, r...) }, ErrVerify},
		{"otr.js key, another r revealed", r31, sealOtrJS,
			func(r []byte) []byte { k := bytes.Clone(r); k[15] ^= 1; return k }, ErrVerify},
		{"otr.js transform of r >= 2^124", rBig, sealShifted, nil, ErrVerify},
		{"a third key", r31, sealThird, nil, ErrVerify},
		{"a third key, r < 2^120", r30, sealThird, nil, ErrVerify},
		{"otr.js key, another g^x than committed", r31, sealOtherGX, nil, ErrVerify},
		{"otr.js key, another g^x than committed, r < 2^120", r29, sealOtherGX, nil, ErrVerify},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := unhex(t, tc.r)
			bob, alice := New(b), New(a)
			commit := otrjsStart(t, bob, r, tc.seal)
			rnd := seeded(112)
			rs, _, err := alice.Receive(rnd, commit.Type, commit.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			dhkey := one(t, rs)
			rs, _, err = bob.Receive(rnd, dhkey.t, dhkey.body)
			if err != nil {
				t.Fatal(err)
			}
			var m otrencoding.RevealSig
			if err := m.Unmarshal(one(t, rs).body); err != nil {
				t.Fatal(err)
			}
			correct := m.RevealedKey
			if tc.revealed == nil {
				m.RevealedKey = minimalR(correct)
			} else {
				m.RevealedKey = tc.revealed(correct)
			}
			reveal := Reply{otrencoding.MsgRevealSig, &m}
			rs, ka, err := alice.Receive(rnd, reveal.Type, reveal.Bytes())
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Reveal Signature with r = %x: error %v, want %v", m.RevealedKey, err, tc.wantErr)
			}
			if tc.wantErr != nil {
				if ka != nil || len(rs) != 0 || alice.State() != StateAwaitingRevealSig {
					t.Fatalf("rejected reveal: keys %v, %d replies, state %v; want none, 0, %v", ka != nil, len(rs), alice.State(), StateAwaitingRevealSig)
				}
				return
			}
			if ka == nil {
				t.Fatal("no keys")
			}
			sig := one(t, rs)
			_, kb, err := bob.Receive(rnd, sig.t, sig.body)
			if err != nil || kb == nil {
				t.Fatalf("bob refuses our Signature: %v", err)
			}
			if ka.SSID != kb.SSID || !otrcrypto.Equal(ka.TheirDH.Bytes(), kb.OurDH.Public()) {
				t.Error("the two sides disagree on the keys")
			}
		})
	}
}

// TestOtrJSRejectedRevealLeavesState: a reveal refused on both keys leaves
// the exchange as it was, and the right reveal then completes it.
func TestOtrJSRejectedRevealLeavesState(t *testing.T) {
	a, b := testKeys(t)
	r := unhex(t, "000feeddccbbaa998877665544332211")
	bob, alice := New(b), New(a)
	commit := otrjsStart(t, bob, r, sealOtrJS)
	rnd := seeded(113)
	rs, _, err := alice.Receive(rnd, commit.Type, commit.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	dhkey := one(t, rs)
	rs, _, err = bob.Receive(rnd, dhkey.t, dhkey.body)
	if err != nil {
		t.Fatal(err)
	}
	var m otrencoding.RevealSig
	if err := m.Unmarshal(one(t, rs).body); err != nil {
		t.Fatal(err)
	}
	good := minimalR(m.RevealedKey)
	before := alice.Copy()
	for _, bad := range [][]byte{append([]byte{0xff}, good[1:]...), good[:len(good)-1], bytes.Repeat([]byte{0x0f}, 16)} {
		m.RevealedKey = bad
		body := Reply{otrencoding.MsgRevealSig, &m}.Bytes()
		if _, ka, err := alice.Receive(rnd, otrencoding.MsgRevealSig, body); !errors.Is(err, ErrVerify) || ka != nil {
			t.Fatalf("reveal %x: keys %v, error %v; want %v", bad, ka != nil, err, ErrVerify)
		}
		if alice.State() != before.State() || !bytes.Equal(alice.theirCommit.EncryptedGX, before.theirCommit.EncryptedGX) ||
			!bytes.Equal(alice.ourDH.Public(), before.ourDH.Public()) {
			t.Fatalf("reveal %x changed the exchange", bad)
		}
	}
	m.RevealedKey = good
	if _, ka, err := alice.Receive(rnd, otrencoding.MsgRevealSig, Reply{otrencoding.MsgRevealSig, &m}.Bytes()); err != nil || ka == nil {
		t.Fatalf("the right reveal after refused ones: %v", err)
	}
}

// FuzzOtrJSKey: any revealed key, the otr.js path never panics, gives a key
// of 1 to 16 bytes exactly when r is in otr.js's domain, and its cipher is
// an involution (CTR).
func FuzzOtrJSKey(f *testing.F) {
	f.Add([]byte{0x01, 0x23}, []byte("g^x"))
	f.Add(bytes.Repeat([]byte{0x0f}, 16), make([]byte, 197))
	f.Add(make([]byte, 16), []byte{1})
	f.Fuzz(func(t *testing.T, r, src []byte) {
		key, ok := otrjsKey(r)
		inDomain := len(r) >= 1 && len(r) <= 16 && (len(r) == 16 || r[0] != 0) &&
			(len(r) < 16 || r[0] < 0x10) && len(bytes.TrimLeft(r, "\x00")) > 0
		if ok != inDomain || (ok && (len(key) == 0 || len(key) > 16)) {
			t.Fatalf("otrjsKey(%x) = %x, %v; in otr.js's domain %v", r, key, ok, inDomain)
		}
		dst := make([]byte, len(src))
		if otrjsDecrypt(r, dst, src) != ok {
			t.Fatalf("otrjsDecrypt(%x) disagrees with otrjsKey", r)
		}
		if !ok {
			return
		}
		back := make([]byte, len(src))
		otrjsDecrypt(r, back, dst)
		if !bytes.Equal(back, src) {
			t.Fatalf("otrjsDecrypt(%x) twice does not give the input back", r)
		}
	})
}
