package main

import (
	"fmt"
	"time"

	"golang.org/x/crypto/cryptobyte"

	"github.com/otrgo/otr"
	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
)

// decode adds to r the fields of payload, a whole encoded message (header
// and body), and returns the title of its record. The field names follow
// the specs' field lists (the OTR3 and OTRv4 specs, the sections named after
// each message). On error r may hold some fields: the caller drops it.
func (p *parser) decode(r *record, payload []byte) (string, error) {
	h, body, err := otrencoding.ParseHeader(payload)
	if err != nil {
		return "", err
	}
	r.add("protocol_version", int(h.Version))
	r.add("message_type", fmt.Sprintf("0x%02x %v", uint8(h.Type), h.Type))
	r.add("sender_instance", tag(h.Sender))
	r.add("receiver_instance", tag(h.Receiver))
	title := fmt.Sprintf("OTR3 %v message", h.Type)
	if h.Version == otrencoding.Version4 {
		title = fmt.Sprintf("OTRv4 %v message", h.Type)
	}
	switch {
	case h.Version == otrencoding.Version3 && h.Type == otrencoding.MsgDHCommit:
		var m otrencoding.DHCommit
		if err := m.Unmarshal(body); err != nil {
			return "", err
		}
		r.add("encrypted_gx", hexBytes(m.EncryptedGX))
		r.add("hashed_gx", hexBytes(m.HashedGX))
		p.commits[h.Sender] = &m
	case h.Version == otrencoding.Version3 && h.Type == otrencoding.MsgDHKey:
		var m otrencoding.DHKey
		if err := m.Unmarshal(body); err != nil {
			return "", err
		}
		r.add("gy", hexBytes(m.GY))
	case h.Version == otrencoding.Version3 && h.Type == otrencoding.MsgRevealSig:
		var m otrencoding.RevealSig
		if err := m.Unmarshal(body); err != nil {
			return "", err
		}
		r.add("revealed_key", hexBytes(m.RevealedKey))
		r.add("encrypted_signature", hexBytes(m.EncryptedSig))
		r.add("mac", hexBytes(m.MAC[:]))
		p.addRevealedGX(r, h.Sender, m.RevealedKey)
	case h.Version == otrencoding.Version3 && h.Type == otrencoding.MsgSig:
		var m otrencoding.Sig
		if err := m.Unmarshal(body); err != nil {
			return "", err
		}
		r.add("encrypted_signature", hexBytes(m.EncryptedSig))
		r.add("mac", hexBytes(m.MAC[:]))
	case h.Version == otrencoding.Version3 && h.Type == otrencoding.MsgData:
		var m otrencoding.DataMessage
		if err := m.Unmarshal(body); err != nil {
			return "", err
		}
		r.add("flags", flags(m.Flags))
		r.add("sender_keyid", uint64(m.SenderKeyID))
		r.add("recipient_keyid", uint64(m.RecipientKeyID))
		r.add("next_dh", hexBytes(m.NextDH))
		r.add("counter", hexBytes(m.Counter[:]))
		r.add("encrypted_message", hexBytes(m.EncryptedMessage))
		r.add("mac", hexBytes(m.MAC[:]))
		r.add("mac_covers_bytes", len(m.AuthenticatedPart(h)))
		r.add("old_mac_keys", splitKeys(m.OldMACKeys, 20))
	case h.Version == otrencoding.Version4 && h.Type == otrencoding.MsgIdentity:
		m, err := dake.ParseIdentityMessage(body)
		if err != nil {
			return "", err
		}
		r.add("client_profile", profileRecord(m.Profile, h.Sender))
		r.add("Y", pointHex(&m.Y))
		r.add("B", hexBytes(m.B.Bytes()))
		r.add("our_ecdh_first", pointHex(&m.FirstECDH))
		r.add("our_dh_first", hexBytes(m.FirstDH.Bytes()))
	case h.Version == otrencoding.Version4 && h.Type == otrencoding.MsgAuthR:
		m, err := dake.ParseAuthRMessage(body)
		if err != nil {
			return "", err
		}
		r.add("client_profile", profileRecord(m.Profile, h.Sender))
		r.add("X", pointHex(&m.X))
		r.add("A", hexBytes(m.A.Bytes()))
		r.add("sigma", sigmaRecord(&m.Sigma))
		r.add("our_ecdh_first", pointHex(&m.FirstECDH))
		r.add("our_dh_first", hexBytes(m.FirstDH.Bytes()))
	case h.Version == otrencoding.Version4 && h.Type == otrencoding.MsgAuthI:
		m, err := dake.ParseAuthIMessage(body)
		if err != nil {
			return "", err
		}
		r.add("sigma", sigmaRecord(&m.Sigma))
	case h.Version == otrencoding.Version4 && h.Type == otrencoding.MsgData:
		_, m, authLen, err := otrencoding.ParseDataMessage4(payload)
		if err != nil {
			return "", err
		}
		r.add("flags", flags(m.Flags))
		r.add("previous_chain_message_number", uint64(m.PN))
		r.add("ratchet_id", uint64(m.RatchetID))
		r.add("message_id", uint64(m.MessageID))
		r.add("ecdh", hexBytes(m.ECDH[:]))
		r.add("dh", hexBytes(m.DH))
		r.add("encrypted_message", hexBytes(m.Ciphertext))
		r.add("authenticator", hexBytes(m.Authenticator[:]))
		r.add("authenticator_covers_bytes", authLen)
		r.add("revealed_mac_keys", splitKeys(m.RevealedMACKeys, otrencoding.AuthenticatorLen))
	default:
		return "", fmt.Errorf("%w: message type %v is not a protocol version %d message", otrencoding.ErrMalformed, h.Type, h.Version)
	}
	return title, nil
}

// addRevealedGX adds the g^x that a Reveal Signature message's key r
// decrypts from the sender's D-H Commit message, if one was seen: r is
// revealed precisely so that the receiver can (OTR3 spec, "Reveal Signature
// Message"), and so can anyone who saw both messages.
func (p *parser) addRevealedGX(r *record, sender uint32, key []byte) {
	c := p.commits[sender]
	if c == nil || len(key) != 16 {
		return
	}
	gxmpi := make([]byte, len(c.EncryptedGX))
	otrcrypto.AESCTR(key, [8]byte{}, gxmpi, c.EncryptedGX)
	sum := otrcrypto.SHA256(gxmpi)
	s := cryptobyte.String(gxmpi)
	var gx []byte
	if !otrcrypto.Equal(sum[:], c.HashedGX) || !otrencoding.ReadMPI(&s, &gx) || !s.Empty() {
		r.add("gx_from_dh_commit", "the revealed key does not open the D-H Commit message seen from this instance")
		return
	}
	r.add("gx_from_dh_commit", hexBytes(gx))
}

// splitKeys cuts concatenated MAC keys into keys of size n (the parsers
// checked that the length is a multiple of n).
func splitKeys(b []byte, n int) []hexBytes {
	out := []hexBytes{}
	for len(b) >= n {
		out = append(out, hexBytes(b[:n]))
		b = b[n:]
	}
	return out
}

func pointHex(pt *otrcrypto.Point) hexBytes {
	b := pt.Bytes()
	return hexBytes(b[:])
}

// sigmaRecord shows a ring signature (RING-SIG) as its six scalars.
func sigmaRecord(sig *otrcrypto.RingSignature) *record {
	r := &record{}
	for i, s := range []*otrcrypto.Scalar{&sig.C1, &sig.R1, &sig.C2, &sig.R2, &sig.C3, &sig.R3} {
		b := s.Bytes()
		r.add([]string{"c1", "r1", "c2", "r2", "c3", "r3"}[i], hexBytes(b[:]))
	}
	return r
}

// profileRecord shows a client profile (OTRv4 spec, "Client Profile Data
// Type") and checks it as a receiver would, but for its expiration: the
// tool has no business reading the clock, so the expiration date is shown
// and the check is made as of one second before it.
func profileRecord(pr *dake.ClientProfile, sender uint32) *record {
	r := &record{}
	r.add("instance_tag", tag(pr.InstanceTag()))
	id, fo := pr.IdentityKey(), pr.ForgingKey()
	r.add("identity_key", pointHex(&id))
	r.add("forging_key", pointHex(&fo))
	r.add("versions", quoted(pr.Versions()))
	r.add("expiration", pr.Expiration().Format(time.RFC3339))
	if k := pr.DSAKey(); k != nil {
		dsa := &record{}
		dsa.add("p", hexBytes(k.P)).add("q", hexBytes(k.Q)).add("g", hexBytes(k.G)).add("y", hexBytes(k.Y))
		fp := k.Fingerprint()
		dsa.add("otr3_fingerprint", otr.Fingerprint(fp[:]).String())
		r.add("dsa_key", dsa)
	} else {
		r.add("dsa_key", nil)
	}
	if sig := pr.TransitionalSignature(); sig != nil {
		r.add("transitional_signature", hexBytes(sig))
	} else {
		r.add("transitional_signature", nil)
	}
	enc := pr.Bytes()
	r.add("signature", hexBytes(enc[len(enc)-otrcrypto.EdDSASignatureSize:]))
	fp := pr.Fingerprint()
	r.add("otrv4_fingerprint", otr.Fingerprint(fp[:]).String())
	check := "valid (signatures, instance tag, versions; expiration not checked)"
	if err := pr.Validate(sender, pr.Expiration().Add(-time.Second)); err != nil {
		check = "invalid: " + err.Error()
	}
	r.add("check", check)
	return r
}
