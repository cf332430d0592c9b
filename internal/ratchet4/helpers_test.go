package ratchet4

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/internal/vectors"
)

// queueReader hands out recorded random draws in order and fails once they
// run out, so that a test notices any unexpected draw.
type queueReader struct{ buf []byte }

func (q *queueReader) push(b ...[]byte) {
	for _, v := range b {
		q.buf = append(q.buf, v...)
	}
}

func (q *queueReader) Read(p []byte) (int, error) {
	if len(q.buf) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, q.buf)
	q.buf = q.buf[n:]
	return n, nil
}

// seededReader is a deterministic random stream for property tests.
type seededReader struct{ r *rand.ChaCha8 }

func newSeeded(seed byte) *seededReader {
	var s [32]byte
	s[0] = seed
	return &seededReader{rand.NewChaCha8(s)}
}

func (s *seededReader) Read(p []byte) (int, error) { return s.r.Read(p) }

// draw is one recorded random draw of dake.json / ratchet.json.
type draw struct {
	R vectors.Hex `json:"r"`
}

// dakeFile is the part of dake.json the ratchet needs.
// firstKeys are the first ECDH and DH key pairs a DAKE message carries,
// with the random values they were made from.
type firstKeys struct {
	FirstECDH struct {
		R      vectors.Hex `json:"r"`
		Public vectors.Hex `json:"public"`
	} `json:"first_ecdh"`
	FirstDH struct {
		R      vectors.Hex `json:"r"`
		Public vectors.Hex `json:"public"`
	} `json:"first_dh"`
}

type dakeFile struct {
	Parties map[string]struct {
		InstanceTag vectors.Hex `json:"instance_tag"`
	} `json:"parties"`
	Identity     firstKeys `json:"identity_message"`
	AuthR        firstKeys `json:"auth_r"`
	SharedSecret struct {
		K            vectors.Hex `json:"K"`
		FirstRootKey vectors.Hex `json:"first_root_key"`
	} `json:"shared_secret"`
	Init struct {
		PrevRootKey      vectors.Hex `json:"prev_root_key"`
		RootKey          vectors.Hex `json:"root_key"`
		ChainKey         vectors.Hex `json:"chain_key"`
		BraceKey         vectors.Hex `json:"brace_key"`
		AliceSnapshot    snapshot    `json:"alice_snapshot"`
		BobRotationDraws []draw      `json:"bob_rotation_random_draws"`
		BobSnapshot      snapshot    `json:"bob_snapshot_after_rotation"`
	} `json:"double_ratchet_init"`
	DataMessages []messageVector `json:"data_messages"`
}

// snapshot is a party's ratchet state as otr4j recorded it.
type snapshot struct {
	I                 uint32      `json:"i"`
	J                 uint32      `json:"j"`
	K                 uint32      `json:"k"`
	MixedK            vectors.Hex `json:"K"` // exact match, so that "K" does not land in k
	PN                uint32      `json:"pn"`
	NextRotation      string      `json:"next_rotation"`
	RootKey           vectors.Hex `json:"root_key"`
	SendingChainKey   vectors.Hex `json:"sending_chain_key"`
	ReceivingChainKey vectors.Hex `json:"receiving_chain_key"`
	BraceKey          vectors.Hex `json:"brace_key"`
	Stored            *storedKeys `json:"stored_message_keys"`
	Pending           []string    `json:"pending_mac_reveals"`
}

// storedKeys is otr4j's skipped-key store: a list, or for more than 12
// entries a count with the first and last.
type storedKeys struct {
	List  []storedKey
	Count int
	First storedKey
	Last  storedKey
}

type storedKey struct {
	StoredUnder []uint32 `json:"stored_under"`
	KeysOf      string   `json:"keys_of"`
}

func (s *storedKeys) UnmarshalJSON(b []byte) error {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		if err := json.Unmarshal(b, &s.List); err != nil {
			return err
		}
		s.Count = len(s.List)
		return nil
	}
	var v struct {
		Count int       `json:"count"`
		First storedKey `json:"first"`
		Last  storedKey `json:"last"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s.Count, s.First, s.Last = v.Count, v.First, v.Last
	return nil
}

// messageVector is one data message of dake.json or ratchet.json.
type messageVector struct {
	Comment            string      `json:"comment"`
	Index              int         `json:"index"`
	Sender             string      `json:"sender"`
	Flags              uint8       `json:"flags"`
	PN                 uint32      `json:"pn"`
	RatchetID          uint32      `json:"ratchet_id"`
	MessageID          uint32      `json:"message_id"`
	SenderRotated      bool        `json:"sender_rotated"`
	RotationDraws      []draw      `json:"rotation_random_draws"`
	ChainKey           vectors.Hex `json:"chain_key"`
	MKEnc              vectors.Hex `json:"mk_enc"`
	MKMAC              vectors.Hex `json:"mk_mac"`
	ExtraSymmetricKey  vectors.Hex `json:"extra_symmetric_key"`
	Plaintext          vectors.Hex `json:"plaintext"`
	Ciphertext         vectors.Hex `json:"ciphertext"`
	AuthenticatedBytes vectors.Hex `json:"authenticated_bytes"`
	Authenticator      vectors.Hex `json:"authenticator"`
	RevealedMACKeys    vectors.Hex `json:"revealed_mac_keys"`
	Encoded            vectors.Hex `json:"encoded"`
	SenderAfter        snapshot    `json:"sender_snapshot_after"`
	ReceiverAfter      snapshot    `json:"receiver_snapshot_after"`
	SenderStateAfter   snapshot    `json:"sender_state_after"`
}

// parties is a fresh pair of States right after dake.json's DAKE, with the
// random queues that feed their ratchet steps.
type parties struct {
	alice, bob         *State
	aliceRand, bobRand *queueReader
	aliceTag, bobTag   uint32
}

func loadDAKE(t *testing.T) *dakeFile {
	t.Helper()
	var f dakeFile
	vectors.Load(t, "otrv4/dake.json", &f)
	if len(f.DataMessages) != 6 || len(f.SharedSecret.K) != 64 {
		t.Fatalf("dake.json: %d data messages, K of %d bytes", len(f.DataMessages), len(f.SharedSecret.K))
	}
	return &f
}

func mustECDH(t *testing.T, r []byte) *otrcrypto.ECDHPrivateKey {
	t.Helper()
	k, err := otrcrypto.NewECDHPrivateKey(r)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustDH(t *testing.T, r []byte) *otrcrypto.DH3072PrivateKey {
	t.Helper()
	k, err := otrcrypto.NewDH3072PrivateKey(r)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustPoint(t *testing.T, b []byte) otrcrypto.Point {
	t.Helper()
	p, err := otrcrypto.ParsePoint(b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func mustDHPub(t *testing.T, b []byte) *otrcrypto.DH3072PublicKey {
	t.Helper()
	k, err := otrcrypto.ParseDH3072PublicKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// newParties starts both States from the recorded DAKE secrets.
func newParties(t *testing.T, f *dakeFile, opts Options) *parties {
	t.Helper()
	p := &parties{aliceRand: new(queueReader), bobRand: new(queueReader)}
	p.aliceTag = binary.BigEndian.Uint32(f.Parties["alice"].InstanceTag)
	p.bobTag = binary.BigEndian.Uint32(f.Parties["bob"].InstanceTag)
	var K [64]byte
	copy(K[:], f.SharedSecret.K)
	var err error
	p.alice, err = New(Config{
		Role: RoleAlice, SharedSecret: K,
		OurECDH: mustECDH(t, f.AuthR.FirstECDH.R), OurDH: mustDH(t, f.AuthR.FirstDH.R),
		TheirECDH: mustPoint(t, f.Identity.FirstECDH.Public), TheirDH: mustDHPub(t, f.Identity.FirstDH.Public),
		Rand: p.aliceRand, Options: opts,
	})
	if err != nil {
		t.Fatalf("New(alice) error = %v", err)
	}
	for _, d := range f.Init.BobRotationDraws {
		p.bobRand.push(d.R)
	}
	p.bob, err = New(Config{
		Role: RoleBob, SharedSecret: K,
		OurECDH: mustECDH(t, f.Identity.FirstECDH.R), OurDH: mustDH(t, f.Identity.FirstDH.R),
		TheirECDH: mustPoint(t, f.AuthR.FirstECDH.Public), TheirDH: mustDHPub(t, f.AuthR.FirstDH.Public),
		Rand: p.bobRand, Options: opts,
	})
	if err != nil {
		t.Fatalf("New(bob) error = %v", err)
	}
	if len(p.bobRand.buf) != 0 {
		t.Fatalf("bob's immediate rotation left %d recorded random bytes unread", len(p.bobRand.buf))
	}
	return p
}

// send encrypts v's plaintext from its sender, feeding the recorded draws of
// its ratchet step, and returns the encoded message.
func (p *parties) send(t *testing.T, v *messageVector) ([]byte, [64]byte) {
	t.Helper()
	s, q, h := p.alice, p.aliceRand, otrencoding.Header{Sender: p.aliceTag, Receiver: p.bobTag}
	if v.Sender == "bob" {
		s, q, h = p.bob, p.bobRand, otrencoding.Header{Sender: p.bobTag, Receiver: p.aliceTag}
	}
	for _, d := range v.RotationDraws {
		q.push(d.R)
	}
	out, extra, err := s.Encrypt(h, v.Flags, v.Plaintext)
	if err != nil {
		t.Fatalf("%s: Encrypt error = %v", v.Comment, err)
	}
	if len(q.buf) != 0 {
		t.Fatalf("%s: %d recorded random bytes unread", v.Comment, len(q.buf))
	}
	return out, extra
}

func (p *parties) receiver(v *messageVector) *State {
	if v.Sender == "bob" {
		return p.alice
	}
	return p.bob
}

// checkSnapshot compares the ratchet state with otr4j's record. A chain key
// recorded as all zero means otr4j has none (ours is then unused).
func checkSnapshot(t *testing.T, who string, s *State, want *snapshot) {
	t.Helper()
	if s.i != want.I || s.j != want.J || s.k != want.K || s.pn != want.PN {
		t.Errorf("%s: i, j, k, pn = %d %d %d %d, want %d %d %d %d", who, s.i, s.j, s.k, s.pn, want.I, want.J, want.K, want.PN)
	}
	if got := map[bool]string{true: "SENDING", false: "RECEIVING"}[s.rotate]; got != want.NextRotation {
		t.Errorf("%s: next rotation %s, want %s", who, got, want.NextRotation)
	}
	if !bytes.Equal(s.root[:], want.RootKey) {
		t.Errorf("%s: root key %x, want %x", who, s.root, []byte(want.RootKey))
	}
	if want.BraceKey != nil && !bytes.Equal(s.braceKey[:], want.BraceKey) {
		t.Errorf("%s: brace key %x, want %x", who, s.braceKey, []byte(want.BraceKey))
	}
	zero := make([]byte, 64)
	if !bytes.Equal(want.SendingChainKey, zero) && !s.rotate && !bytes.Equal(s.chainS[:], want.SendingChainKey) {
		t.Errorf("%s: sending chain key %x, want %x", who, s.chainS, []byte(want.SendingChainKey))
	}
	if !bytes.Equal(want.ReceivingChainKey, zero) && !bytes.Equal(s.chainR[:], want.ReceivingChainKey) {
		t.Errorf("%s: receiving chain key %x, want %x", who, s.chainR, []byte(want.ReceivingChainKey))
	}
	if bytes.Equal(want.ReceivingChainKey, zero) && s.haveRecv {
		t.Errorf("%s: has a receiving chain, otr4j has none", who)
	}
}

// digest hashes every field of the ratchet state of s, secrets included, so
// that a test can tell whether a call changed anything. It leaves out what a
// rejected message may change (the package doc): the cached unverified
// ratchet step, the throttle and the work counters.
func digest(s *State) [32]byte {
	h := sha256.New()
	w := func(v ...any) {
		for _, x := range v {
			if err := binary.Write(h, binary.BigEndian, x); err != nil {
				panic(err)
			}
		}
	}
	w(s.wiped, s.i, s.j, s.k, s.pn, s.sendI, s.recvI, s.haveRecv, s.rotate, s.root, s.chainS, s.chainR, s.braceKey, s.ourECDHBytes, s.theirECDHBytes)
	if s.ourECDH != nil {
		sc := s.ourECDH.SecretScalar()
		w(sc.Bytes())
	}
	if s.ourDH != nil {
		h.Write(s.ourDH.Public().Bytes())
	}
	h.Write(s.ourDHPub)
	pt := s.theirECDH.Bytes()
	h.Write(pt[:])
	if s.theirDH != nil {
		h.Write(s.theirDH.Bytes())
	}
	w(uint64(len(s.skipped)))
	for _, e := range s.skipped {
		w(e.ratchetID, e.messageID, e.mkEnc, e.extra, e.stored.UnixNano())
	}
	w(uint64(len(s.pending)), uint64(len(s.reveal)))
	for _, k := range s.pending {
		h.Write(k[:])
	}
	for _, k := range s.reveal {
		h.Write(k[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

var testNow = time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)

func mustParseDHPub(b []byte) *otrcrypto.DH3072PublicKey {
	k, err := otrcrypto.ParseDH3072PublicKey(b)
	if err != nil {
		panic(err)
	}
	return k
}
