// Package keys3 keeps the encrypted-message state of one OTR version 3
// conversation: the two most recent D-H key pairs of each side, key rotation,
// counters and the MAC keys waiting to be revealed (OTR3 spec, "Key
// Management", "Data Message", "Revealing MAC keys").
//
// Every received message is checked completely before anything changes: a
// rejected message leaves the state exactly as it was.
package keys3

import (
	"bytes"
	"errors"
	"io"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
	"golang.org/x/crypto/cryptobyte"
)

// Errors for rejected data messages, sentinels for errors.Is.
var (
	ErrKeyID   = errors.New("keys3: unknown key id")
	ErrBadMAC  = errors.New("keys3: MAC did not verify")
	ErrReplay  = errors.New("keys3: counter not increasing")
	ErrBadKey  = errors.New("keys3: invalid next D-H key")
	ErrWiped   = errors.New("keys3: keys already wiped")
	ErrCounter = errors.New("keys3: counter exhausted")
)

// pairKeys are the session keys of one (our key, their key) pair, OTR3 spec
// "Computing AES keys, MAC keys, and the secure session id".
type pairKeys struct {
	secbytes         []byte // MPI(s), kept for the extra symmetric key
	sendAES, recvAES [16]byte
	sendMAC, recvMAC [20]byte
	sendCtr          uint64
	recvCtr          [8]byte // last counter seen
	recvMACUsed      bool

	// Keyed once per pair: keying per message made a 100-byte one-way
	// data message about 1.6 times slower, AES key expansion alone adding
	// over 20 %. The AES key schedules are the one thing wipe cannot erase
	// (see State.Wipe).
	sendCipher, recvCipher *otrcrypto.AES128
	sendHMAC, recvHMAC     *otrcrypto.MACSHA1
}

func (p *pairKeys) wipe() {
	otrcrypto.Wipe(p.secbytes)
	for _, c := range []*otrcrypto.AES128{p.sendCipher, p.recvCipher} {
		if c != nil {
			c.Wipe()
		}
	}
	for _, m := range []*otrcrypto.MACSHA1{p.sendHMAC, p.recvHMAC} {
		if m != nil {
			m.Wipe()
		}
	}
	*p = pairKeys{}
}

// State is one conversation's data-message keys. It is not safe for
// concurrent use.
type State struct {
	rand io.Reader

	ourKeyID   uint32                     // id of ours[1], the most recent
	nextPub    []byte                     // ours[1].Public(), sent in every message
	ours       [2]*otrcrypto.DHPrivateKey // [0]: our_keyid-1, [1]: our_keyid
	theirKeyID uint32                     // id of theirs[1]
	theirs     [2]*otrcrypto.DHPublicKey  // [0]: their_keyid-1 (may be nil), [1]: their_keyid

	// pairs[i][j] pairs ours[i] with theirs[j]; nil until first used.
	pairs [2][2]*pairKeys

	oldMACKeys []byte // receiving MAC keys to reveal in the next message
}

// New starts the data-message state after an AKE: ourDH (key id ourID) and
// their key theirDH (key id theirID) as exchanged in the AKE, plus a fresh
// key for ours next. New takes ownership of ourDH.
func New(rand io.Reader, ourDH *otrcrypto.DHPrivateKey, ourID uint32, their *otrcrypto.DHPublicKey, theirID uint32) (*State, error) {
	next, err := otrcrypto.GenerateDHKey(rand)
	if err != nil {
		return nil, err
	}
	return &State{
		nextPub:    next.Public(),
		rand:       rand,
		ourKeyID:   ourID + 1,
		ours:       [2]*otrcrypto.DHPrivateKey{ourDH, next},
		theirKeyID: theirID,
		theirs:     [2]*otrcrypto.DHPublicKey{nil, their},
	}, nil
}

// OurKeyID returns the id of our newest D-H key: a received message for
// it was sent after the peer read one of ours that carried it.
func (s *State) OurKeyID() uint32 { return s.ourKeyID }

// Clone returns an independent copy of s, secrets included, that takes its
// randomness from rand (the keyed ciphers of each pair are keyed anew). It
// serves tests and fuzzers that start many runs from one established
// state; the copy must be wiped like the original.
func (s *State) Clone(rand io.Reader) *State {
	c := &State{
		rand:       rand,
		ourKeyID:   s.ourKeyID,
		nextPub:    bytes.Clone(s.nextPub),
		theirKeyID: s.theirKeyID,
		theirs:     s.theirs, // public and never written
		oldMACKeys: bytes.Clone(s.oldMACKeys),
	}
	for i, k := range s.ours {
		if k != nil {
			c.ours[i] = k.Clone()
		}
	}
	for i := range s.pairs {
		for j, p := range s.pairs[i] {
			if p == nil {
				continue
			}
			q := *p
			q.secbytes = bytes.Clone(p.secbytes)
			q.sendCipher, q.recvCipher = otrcrypto.NewAES128(q.sendAES[:]), otrcrypto.NewAES128(q.recvAES[:])
			q.sendHMAC, q.recvHMAC = otrcrypto.NewMACSHA1(q.sendMAC[:]), otrcrypto.NewMACSHA1(q.recvMAC[:])
			c.pairs[i][j] = &q
		}
	}
	return c
}

// Wipe erases our D-H private keys, the MAC keys waiting to be revealed
// and, for every key pair in use, the shared secret, the AES and MAC keys
// and the keyed HMAC-SHA1 states. One thing survives: the expanded AES-128
// key schedules (a sending and a receiving one per key pair used), which
// live inside crypto/aes objects that offer no way to erase them; Wipe drops
// them and they stay in memory, unreachable, until the garbage collector
// reuses it. The State must not be used afterwards.
func (s *State) Wipe() {
	for i := range s.pairs {
		for j := range s.pairs[i] {
			if s.pairs[i][j] != nil {
				s.pairs[i][j].wipe()
				s.pairs[i][j] = nil
			}
		}
	}
	for i, k := range s.ours {
		if k != nil {
			k.Wipe()
			s.ours[i] = nil
		}
	}
	otrcrypto.Wipe(s.oldMACKeys)
	s.oldMACKeys = nil
}

// computePair derives the keys of ours[i] with theirs[j].
func (s *State) computePair(i, j int) (*pairKeys, error) {
	sec, err := s.ours[i].SharedSecretWith(s.theirs[j])
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	otrencoding.AddMPI(&b, sec)
	otrcrypto.Wipe(sec)
	p := &pairKeys{secbytes: b.BytesOrPanic()}
	// The "high" end is the side whose public key is numerically greater.
	sendbyte, recvbyte := byte(0x02), byte(0x01)
	if otrcrypto.CompareMPI(s.ours[i].Public(), s.theirs[j].Bytes()) > 0 {
		sendbyte, recvbyte = 0x01, 0x02
	}
	h := otrcrypto.SHA1([]byte{sendbyte}, p.secbytes)
	copy(p.sendAES[:], h[:16])
	h = otrcrypto.SHA1([]byte{recvbyte}, p.secbytes)
	copy(p.recvAES[:], h[:16])
	clear(h[:])
	p.sendMAC = otrcrypto.SHA1(p.sendAES[:])
	p.recvMAC = otrcrypto.SHA1(p.recvAES[:])
	p.sendCipher, p.recvCipher = otrcrypto.NewAES128(p.sendAES[:]), otrcrypto.NewAES128(p.recvAES[:])
	p.sendHMAC, p.recvHMAC = otrcrypto.NewMACSHA1(p.sendMAC[:]), otrcrypto.NewMACSHA1(p.recvMAC[:])
	return p, nil
}

func (s *State) pair(i, j int) (*pairKeys, error) {
	if s.pairs[i][j] != nil {
		return s.pairs[i][j], nil
	}
	return s.computePair(i, j)
}

// Encrypt builds a data message carrying plaintext (already holding any
// TLVs) under header h, OTR3 spec, "When you send a Data Message". It returns
// the encoded message (header included) and the extra symmetric key of the
// key pair used.
func (s *State) Encrypt(h otrencoding.Header, flags uint8, plaintext []byte) ([]byte, [32]byte, error) {
	if s.ours[0] == nil {
		return nil, [32]byte{}, ErrWiped
	}
	p, err := s.pair(0, 1)
	if err != nil {
		return nil, [32]byte{}, err
	}
	s.pairs[0][1] = p
	if p.sendCtr == ^uint64(0) {
		return nil, [32]byte{}, ErrCounter
	}
	p.sendCtr++
	m := otrencoding.DataMessage{
		Flags:          flags,
		SenderKeyID:    s.ourKeyID - 1,
		RecipientKeyID: s.theirKeyID,
		NextDH:         s.nextPub,
		OldMACKeys:     s.oldMACKeys,
	}
	for k := range 8 {
		m.Counter[k] = byte(p.sendCtr >> (56 - 8*k))
	}
	// Marshal once, with the plaintext in place of the ciphertext and a
	// zero MAC; then encrypt in place and fill the MAC in over the
	// authenticated prefix (header through encrypted message).
	m.EncryptedMessage = plaintext
	h.Type = otrencoding.MsgData
	b := cryptobyte.NewBuilder(make([]byte, 0, otrencoding.HeaderLen+64+len(m.NextDH)+len(plaintext)+len(m.OldMACKeys)))
	h.Marshal(b)
	m.Marshal(b)
	out, err := b.Bytes()
	if err != nil {
		return nil, [32]byte{}, err
	}
	authLen := len(out) - len(m.MAC) - 4 - len(m.OldMACKeys)
	enc := out[authLen-len(plaintext) : authLen]
	p.sendCipher.CTR(m.Counter, enc, enc)
	mac := p.sendHMAC.Sum(out[:authLen])
	copy(out[authLen:], mac[:])
	s.oldMACKeys = nil
	return out, maybeExtraKey(p.secbytes, plaintext), nil
}

// Decrypted is the outcome of a verified data message.
type Decrypted struct {
	Plaintext []byte
	ExtraKey  [32]byte // extra symmetric key of the key pair that protected it; zero when the message has no TLVs
}

// Decrypt verifies and decrypts a data message m (its ciphertext in place),
// whose authenticated part
// (header through encrypted message, as received) is auth; OTR3 spec, "When
// you receive a Data Message". The state changes only if everything
// verified.
func (s *State) Decrypt(auth []byte, m *otrencoding.DataMessage) (Decrypted, error) {
	if s.ours[0] == nil {
		return Decrypted{}, ErrWiped
	}
	var i, j int
	switch m.RecipientKeyID {
	case s.ourKeyID:
		i = 1
	case s.ourKeyID - 1:
		i = 0
	default:
		return Decrypted{}, ErrKeyID
	}
	switch {
	case m.SenderKeyID == s.theirKeyID:
		j = 1
	case m.SenderKeyID == s.theirKeyID-1 && s.theirs[0] != nil:
		j = 0
	default:
		return Decrypted{}, ErrKeyID
	}
	if m.SenderKeyID == 0 || m.RecipientKeyID == 0 {
		return Decrypted{}, ErrKeyID
	}
	cached := s.pairs[i][j] != nil
	p, err := s.pair(i, j)
	if err != nil {
		return Decrypted{}, err
	}
	discard := func() {
		if !cached {
			p.wipe()
		}
	}
	mac := p.recvHMAC.Sum(auth)
	if !otrcrypto.Equal(mac[:], m.MAC[:]) {
		discard()
		return Decrypted{}, ErrBadMAC
	}
	if otrcrypto.CompareMPI(trim(m.Counter[:]), trim(p.recvCtr[:])) <= 0 {
		discard()
		return Decrypted{}, ErrReplay
	}
	rotateTheirs := j == 1
	var nextTheirs *otrcrypto.DHPublicKey
	if rotateTheirs {
		// The MAC verified: the peer chose this key (see
		// ParseAuthenticatedDHPublic); the spec's range check suffices.
		if nextTheirs, err = otrcrypto.ParseAuthenticatedDHPublic(m.NextDH); err != nil {
			discard()
			return Decrypted{}, ErrBadKey
		}
	}
	var next *otrcrypto.DHPrivateKey
	if i == 1 {
		if next, err = otrcrypto.GenerateDHKey(s.rand); err != nil {
			discard()
			return Decrypted{}, err
		}
	}

	// Everything verified: commit.
	// Decrypt in place: m is the caller's parsed copy, verified by now.
	out := Decrypted{Plaintext: m.EncryptedMessage}
	p.recvCipher.CTR(m.Counter, out.Plaintext, m.EncryptedMessage)
	out.ExtraKey = maybeExtraKey(p.secbytes, out.Plaintext)
	p.recvCtr = m.Counter
	p.recvMACUsed = true
	s.pairs[i][j] = p

	// "If the recipient keyid equals our_keyid, ... forget our_dh[our_keyid-1],
	// increment our_keyid, and set our_dh[our_keyid] to a new key pair."
	if i == 1 {
		s.forget(&s.pairs[0])
		s.ours[0].Wipe()
		s.ours[0], s.ours[1] = s.ours[1], next
		s.nextPub = next.Public()
		s.pairs[0], s.pairs[1] = s.pairs[1], [2]*pairKeys{}
		s.ourKeyID++
	}
	// "If the sender keyid equals their_keyid, increment their_keyid, and set
	// their_y[their_keyid] to the new DH pubkey."
	if rotateTheirs {
		for k := range s.pairs {
			s.forgetOne(&s.pairs[k][0])
			s.pairs[k][0], s.pairs[k][1] = s.pairs[k][1], nil
		}
		s.theirs[0], s.theirs[1] = s.theirs[1], nextTheirs
		s.theirKeyID++
	}
	return out, nil
}

// forget drops a row of pair keys, queueing used receiving MAC keys for
// revelation (OTR3 spec, "Revealing MAC keys").
func (s *State) forget(row *[2]*pairKeys) {
	for k := range row {
		s.forgetOne(&row[k])
	}
}

func (s *State) forgetOne(pp **pairKeys) {
	p := *pp
	if p == nil {
		return
	}
	if p.recvMACUsed {
		s.oldMACKeys = append(s.oldMACKeys, p.recvMAC[:]...)
	}
	p.wipe()
	*pp = nil
}

// SendExtraKey returns the extra symmetric key of the key pair that the next
// sent message will use (OTR3 spec, "Extra symmetric key"; docs/interop.md: per
// data-message key pair, as libotr).
func (s *State) SendExtraKey() ([32]byte, error) {
	if s.ours[0] == nil {
		return [32]byte{}, ErrWiped
	}
	p, err := s.pair(0, 1)
	if err != nil {
		return [32]byte{}, err
	}
	s.pairs[0][1] = p
	return extraKey(p.secbytes), nil
}

// PendingMACKeys returns the number of MAC-key bytes waiting to be revealed.
func (s *State) PendingMACKeys() int { return len(s.oldMACKeys) }

// RevealAll queues every used receiving MAC key for revelation, as done
// before ending a session.
func (s *State) RevealAll() {
	for i := range s.pairs {
		for j := range s.pairs[i] {
			if p := s.pairs[i][j]; p != nil && p.recvMACUsed {
				s.oldMACKeys = append(s.oldMACKeys, p.recvMAC[:]...)
				p.recvMACUsed = false
			}
		}
	}
}

// maybeExtraKey returns the extra symmetric key if the plaintext carries
// TLVs (after a NUL), where the extra-key TLV can be, and zero otherwise:
// most messages do not need the hash.
func maybeExtraKey(secbytes, plaintext []byte) [32]byte {
	if bytes.IndexByte(plaintext, 0) < 0 {
		return [32]byte{}
	}
	return extraKey(secbytes)
}

// extraKey is h2(0xFF) = SHA256(0xFF || secbytes).
func extraKey(secbytes []byte) [32]byte {
	return otrcrypto.SHA256([]byte{0xff}, secbytes)
}

func trim(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}
