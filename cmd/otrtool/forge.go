package main

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/crypto/chacha20"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

const forgeDoc = `
Forge demonstrates the deniability of OTR data messages, as libotr's
otr_modify, otr_remac and otr_readforge do for OTR3, and as the utilities
"Modify Data Message" and "Read and Forge Data Message" of the OTRv4 spec
("Forging Transcripts") describe for OTRv4.

It reads a data message, OTR3 or OTRv4, from MSGFILE or standard input (the
first data message there, or the one that ends at line -line; fragments are
reassembled) and writes to standard output a data message that says
something else and whose MAC verifies under the same MAC key: OTR3's
HMAC-SHA1 over the message from the protocol version to the end of the
encrypted message (OTR3 spec, "Data Message"), or OTRv4's authenticator
KDF(usage_authenticator || MKmac || the same span, 64) (OTRv4 spec, "When you
send a Data Message"). The other fields are kept; the output is one
unfragmented "?OTR:" message. What it did goes to standard error.

Why anyone can do this. Data messages are encrypted with a stream cipher
(OTR3: AES-128 in counter mode; OTRv4: ChaCha20 with a zero nonce) and
authenticated with a MAC key the two parties share, never signed. When a
key is retired, the MAC keys that verified its messages are published in a
later data message ("old MAC keys" in OTR3, "Revealing MAC keys"; "revealed
MAC keys" in OTRv4, "Revealing MAC Keys"; parse prints them). Anyone with
the transcript then holds the MAC key, and anyone who can guess a stretch of
the text holds that stretch of the key stream (ciphertext XOR text): XORing
the guess and a new text into the ciphertext changes the text, and the MAC
key makes a new valid MAC. The forgery verifies as well as the original, so
the transcript cannot show who wrote either. The keys are revealed only
after the receiver has stopped accepting messages under them, so nobody can
use them to fool a participant during the conversation.

The MAC key, one of:
  -mackey HEX   the revealed MAC key (20 bytes for OTR3, 64 for OTRv4)
  -reveal FILE  a transcript with later data messages: each MAC key revealed
                there is tried, and the one that verifies the message used
  -enckey HEX   the message's encryption key, as a participant may know it
                (OTR3: the 16-byte AES key, whose SHA-1 is the MAC key;
                OTRv4: the 64-byte MKenc, and MKmac = KDF(usage_mac_key ||
                MKenc, 64)): the message is decrypted and its text printed
                on standard error; no guess is needed, and the new text may
                have any length (otr_readforge)
The key must verify the original message, or nothing is written.

The text:
  -guess TEXT   what the original plaintext holds at byte -offset
  -text TEXT    what to put there instead: not longer than the guess, and
                shorter only if the guess runs to the end of the message,
                which is then cut after the new text
With -enckey and no -guess, -text replaces the whole plaintext. A wrong
guess (without -enckey) still gives a message whose MAC verifies, but its
text is garbled where the guess was wrong.

OTRv4. The OTRv4 spec states what can be forged in "Security Properties",
"Revealing MAC Keys", "Forging Transcripts" and "KCI Attacks":
  - Data messages, as above: each MKmac is revealed once the message was
    verified (with the first message of the receiver's next ratchet, when
    stored message keys are deleted, or when the session expires), so after
    a conversation anyone can modify any message whose text can be guessed,
    and a participant, who knows the chain keys, can write any message.
    This is forge's OTRv4 mode, chosen by the message's version (-v4
    insists on it, -v3 on OTR3).
  - The DAKE: Alice's Auth-R is a ring signature over {F_b, H_a, Y} (Bob's
    forging key, Alice's identity key, Bob's ephemeral key) and Bob's
    Auth-I one over {H_b, F_a, X}. Bob knows y, so he can make an Auth-R
    that verifies as Alice's, and anyone with Bob's forging secret key can
    too: a DAKE transcript does not show that Alice took part (offline
    deniability), and since a user may keep the forging secret, not even a
    judge taking part in the conversation can tell a genuine exchange from
    one the user forged (online deniability). The client profile publishes
    the forging key F beside the identity key H, and the OTRv4 fingerprint
    covers both. Forging a DAKE message needs one of those secrets, not
    just a transcript: "otrtool forge-dake" does it with a participant's
    forging key.
The repository's docs/deniability.md explains all of this with examples.
`

func runForge(e *env, args []string) error {
	fs := newFlagSet(e, "forge", "[-v3|-v4] [-line N] (-mackey HEX | -reveal FILE | -enckey HEX) [-guess TEXT [-offset N]] -text TEXT [MSGFILE]", forgeDoc)
	v3 := fs.Bool("v3", false, "require an OTR3 data message")
	v4 := fs.Bool("v4", false, "require an OTRv4 data message")
	lineNo := fs.Int("line", 0, "take the data message that ends at this line of MSGFILE (0: the first data message)")
	macKeyHex := fs.String("mackey", "", "the revealed MAC key, in hex")
	revealFile := fs.String("reveal", "", "a transcript whose data messages reveal MAC keys; the one that verifies the message is used")
	encKeyHex := fs.String("enckey", "", "the message's encryption key, in hex (OTR3 AES key, OTRv4 MKenc)")
	guess := fs.String("guess", "", "the original text at -offset (known or guessed)")
	offset := fs.Int("offset", 0, "byte offset of -guess in the plaintext")
	text := fs.String("text", "", "the new text")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	textSet := false
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "text" {
			textSet = true
		}
	})
	nKeys := 0
	for _, s := range []string{*macKeyHex, *revealFile, *encKeyHex} {
		if s != "" {
			nKeys++
		}
	}
	if nKeys != 1 || !textSet || fs.NArg() > 1 || (*v3 && *v4) {
		fs.Usage()
		return errUsage
	}
	if *guess == "" && *encKeyHex == "" {
		return errors.New("-guess is required without -enckey: the text can only be changed where it is known")
	}

	in, src := e.stdin, "stdin"
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		in, src = f, fs.Arg(0)
	}
	payload, at, err := findDataMessage(in, src, *lineNo)
	if err != nil {
		return err
	}
	if h, _, err := otrencoding.ParseHeader(payload); err == nil && (*v3 && h.Version != 3 || *v4 && h.Version != 4) {
		return fmt.Errorf("%s: an OTR version %d data message", at, h.Version)
	}
	req := forgeRequest{
		payload: payload,
		guess:   []byte(*guess),
		offset:  *offset,
		text:    []byte(*text),
	}
	switch {
	case *macKeyHex != "":
		k, err := hex.DecodeString(strings.TrimSpace(*macKeyHex))
		if err != nil {
			return fmt.Errorf("-mackey: %w", err)
		}
		req.macKeys = []revealedKey{{key: k, from: "-mackey"}}
	case *encKeyHex != "":
		k, err := hex.DecodeString(strings.TrimSpace(*encKeyHex))
		if err != nil {
			return fmt.Errorf("-enckey: %w", err)
		}
		req.encKey = k
	default:
		f, err := os.Open(*revealFile)
		if err != nil {
			return err
		}
		defer f.Close()
		if req.macKeys, err = revealedKeys(f, *revealFile); err != nil {
			return err
		}
		if len(req.macKeys) == 0 {
			return fmt.Errorf("%s reveals no MAC key", *revealFile)
		}
	}
	res, err := forge(&req)
	if err != nil {
		return fmt.Errorf("%s: %w", at, err)
	}
	w := bufio.NewWriter(e.stderr)
	name := map[int]string{3: "OTR3", 4: "OTRv4"}[res.version]
	fmt.Fprintf(w, "forge: %s data message at %s\n", name, at)
	fmt.Fprintf(w, "forge: MAC key %x (%s) verifies it\n", res.macKey, res.keyFrom)
	if res.plaintext != nil {
		fmt.Fprintf(w, "forge: it reads %s\n", describePlaintext(res.version, res.plaintext))
	}
	fmt.Fprintf(w, "forge: new text %q at offset %d; encrypted message %d -> %d bytes; new MAC %x\n",
		req.text, res.offset, res.oldLen, res.newLen, res.mac)
	w.Flush()
	fmt.Fprintln(e.stdout, res.message)
	return nil
}

// findDataMessage returns the payload of the first data message in r (or
// the one completed at line n, if n > 0), and where it was found.
func findDataMessage(r io.Reader, src string, n int) ([]byte, string, error) {
	var found []byte
	var at string
	err := eachMessage(r, src, func(m *message) bool {
		if m.payload == nil || (n > 0 && m.line != n) {
			return true
		}
		h, _, err := otrencoding.ParseHeader(m.payload)
		if err != nil || h.Type != otrencoding.MsgData {
			return true
		}
		found, at = m.payload, fmt.Sprintf("%s:%d", src, m.line)
		return false
	})
	if err != nil {
		return nil, "", err
	}
	if found == nil {
		if n > 0 {
			return nil, "", fmt.Errorf("%s: no data message ends at line %d", src, n)
		}
		return nil, "", fmt.Errorf("%s: no data message", src)
	}
	return found, at, nil
}

// eachMessage parses the lines of r as parse does, quietly skipping what it
// cannot read, and calls f with every record until f returns false.
func eachMessage(r io.Reader, src string, f func(*message) bool) error {
	p := newParser()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineLen)
	n := 0
	for sc.Scan() {
		n++
		recs, _ := p.line(n, sc.Text())
		for _, m := range recs {
			if !f(m) {
				return nil
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s:%d: %w", src, n+1, err)
	}
	return nil
}

// revealedKey is a MAC key and where it was found.
type revealedKey struct {
	key  []byte
	from string
}

// revealedKeys returns every MAC key revealed by the data messages of r:
// OTR3's old MAC keys (20 bytes each) and OTRv4's revealed MAC keys (64).
func revealedKeys(r io.Reader, src string) ([]revealedKey, error) {
	var out []revealedKey
	err := eachMessage(r, src, func(m *message) bool {
		if m.payload == nil {
			return true
		}
		h, body, err := otrencoding.ParseHeader(m.payload)
		if err != nil || h.Type != otrencoding.MsgData {
			return true
		}
		var keys []byte
		size := 20
		switch h.Version {
		case otrencoding.Version3:
			var d otrencoding.DataMessage
			if d.Unmarshal(body) != nil {
				return true
			}
			keys = d.OldMACKeys
		case otrencoding.Version4:
			_, d, _, err := otrencoding.ParseDataMessage4(m.payload)
			if err != nil {
				return true
			}
			keys, size = d.RevealedMACKeys, otrencoding.AuthenticatorLen
		}
		for i := 0; i+size <= len(keys); i += size {
			out = append(out, revealedKey{
				key:  bytes.Clone(keys[i : i+size]),
				from: fmt.Sprintf("revealed at %s:%d, key %d", src, m.line, i/size),
			})
		}
		return true
	})
	return out, err
}

// forgeRequest is what forge needs: the data message and either candidate
// MAC keys (with a guess of the text) or the encryption key.
type forgeRequest struct {
	payload []byte
	macKeys []revealedKey
	encKey  []byte
	guess   []byte
	offset  int
	text    []byte
}

// forgeResult is the forged message and how it was made.
type forgeResult struct {
	version   int
	message   string // the forged data message, "?OTR:...."
	payload   []byte // its decoded bytes
	macKey    []byte
	keyFrom   string
	mac       []byte
	plaintext []byte // the original plaintext, when the encryption key was given
	offset    int
	oldLen    int
	newLen    int
}

// dataMessage is the part of an OTR3 or OTRv4 data message forging
// touches: the encrypted message and the MAC, and how to recompute and
// check the MAC and to run the cipher.
type dataMessage struct {
	version    int
	ciphertext []byte
	mac        []byte
	// marshal returns the whole message and the length of its
	// authenticated prefix, with the given ciphertext and MAC.
	marshal func(ciphertext, mac []byte) (payload []byte, authLen int)
}

func parseDataMessage(payload []byte) (*dataMessage, error) {
	h, body, err := otrencoding.ParseHeader(payload)
	if err != nil {
		return nil, err
	}
	if h.Type != otrencoding.MsgData {
		return nil, fmt.Errorf("a %v message, not a data message", h.Type)
	}
	switch h.Version {
	case otrencoding.Version3:
		var m otrencoding.DataMessage
		if err := m.Unmarshal(body); err != nil {
			return nil, err
		}
		d := &dataMessage{version: 3, ciphertext: bytes.Clone(m.EncryptedMessage), mac: bytes.Clone(m.MAC[:])}
		d.marshal = func(c, mac []byte) ([]byte, int) {
			m := m
			m.EncryptedMessage = c
			copy(m.MAC[:], mac)
			return otrencoding.Marshal(h, &m), len(m.AuthenticatedPart(h))
		}
		return d, nil
	default:
		_, m, _, err := otrencoding.ParseDataMessage4(payload)
		if err != nil {
			return nil, err
		}
		d := &dataMessage{version: 4, ciphertext: bytes.Clone(m.Ciphertext), mac: bytes.Clone(m.Authenticator[:])}
		d.marshal = func(c, mac []byte) ([]byte, int) {
			m := m
			m.Ciphertext = c
			copy(m.Authenticator[:], mac)
			return otrencoding.Marshal(h, &m), len(m.AuthenticatedPart(h))
		}
		return d, nil
	}
}

// computeMAC returns the MAC of an authenticated span under key: OTR3
// HMAC-SHA1 (OTR3 spec, "Data Message"), OTRv4 KDF(usage_authenticator ||
// MKmac || span, 64) (OTRv4 spec, "When you send a Data Message").
func computeMAC(version int, key, authenticated []byte) []byte {
	if version == 3 {
		m := hmac.New(sha1.New, key)
		m.Write(authenticated)
		return m.Sum(nil)
	}
	tag := make([]byte, otrencoding.AuthenticatorLen)
	otrcrypto.KDF(tag, otrcrypto.UsageAuthenticator, key, authenticated)
	return tag
}

// macKeyLen is the length of a MAC key of a protocol version.
func macKeyLen(version int) int {
	if version == 3 {
		return 20
	}
	return otrencoding.AuthenticatorLen
}

// encKeyMAC checks an encryption key's length and returns the MAC key it
// gives: OTR3 SHA-1(AES key) (OTR3 spec, "Computing AES keys, MAC keys, and
// the secure session id"), OTRv4 MKmac = KDF(usage_mac_key || MKenc, 64)
// (OTRv4 spec, "Calculating Encryption and MAC Keys").
func encKeyMAC(version int, key []byte) ([]byte, error) {
	if version == 3 {
		if len(key) != 16 {
			return nil, fmt.Errorf("an OTR3 AES key has 16 bytes, not %d", len(key))
		}
		sum := sha1.Sum(key)
		return sum[:], nil
	}
	if len(key) != 64 {
		return nil, fmt.Errorf("an OTRv4 message key (MKenc) has 64 bytes, not %d", len(key))
	}
	mac := make([]byte, 64)
	otrcrypto.KDF(mac, otrcrypto.UsageMACKey, key)
	return mac, nil
}

// xorKeyStream en- or decrypts in with the data message cipher: OTR3
// AES-128-CTR from the counter top half (OTR3 spec, "Data Message"), OTRv4
// ChaCha20 keyed with the first 32 bytes of MKenc and a zero nonce
// (OTRv4 spec, "When you send a Data Message").
func xorKeyStream(version int, key []byte, ctr [8]byte, in []byte) []byte {
	out := make([]byte, len(in))
	if version == 3 {
		otrcrypto.AESCTR(key, ctr, out, in)
		return out
	}
	var nonce [chacha20.NonceSize]byte
	c, err := chacha20.NewUnauthenticatedCipher(key[:chacha20.KeySize], nonce[:])
	if err != nil {
		panic("otr: internal error: " + err.Error())
	}
	c.XORKeyStream(out, in)
	return out
}

// counterOf returns the OTR3 counter top half of a data message payload.
func counterOf(payload []byte) [8]byte {
	_, body, err := otrencoding.ParseHeader(payload)
	var m otrencoding.DataMessage
	if err != nil || m.Unmarshal(body) != nil {
		return [8]byte{}
	}
	return m.Counter
}

// forge makes the forged message of req.
func forge(req *forgeRequest) (*forgeResult, error) {
	d, err := parseDataMessage(req.payload)
	if err != nil {
		return nil, err
	}
	res := &forgeResult{version: d.version, offset: req.offset, oldLen: len(d.ciphertext)}
	_, authLen := d.marshal(d.ciphertext, d.mac)
	auth := req.payload[:authLen]

	// Find the MAC key that verifies the original message.
	if req.encKey != nil {
		k, err := encKeyMAC(d.version, req.encKey)
		if err != nil {
			return nil, err
		}
		if !hmac.Equal(computeMAC(d.version, k, auth), d.mac) {
			return nil, errors.New("the MAC key derived from -enckey does not verify the message: wrong key")
		}
		res.macKey, res.keyFrom = k, "derived from -enckey"
	} else {
		tried := 0
		for _, c := range req.macKeys {
			if len(c.key) != macKeyLen(d.version) {
				continue
			}
			tried++
			if hmac.Equal(computeMAC(d.version, c.key, auth), d.mac) {
				res.macKey, res.keyFrom = c.key, c.from
				break
			}
		}
		switch {
		case res.macKey != nil:
		case len(req.macKeys) == 1 && tried == 0:
			return nil, fmt.Errorf("an OTR version %d MAC key has %d bytes, not %d", d.version, macKeyLen(d.version), len(req.macKeys[0].key))
		case len(req.macKeys) == 1:
			return nil, errors.New("the MAC key does not verify the message: it is not this message's key")
		default:
			return nil, fmt.Errorf("none of the %d MAC keys of this protocol version verifies the message (of %d revealed): is the transcript later than the message, and the keys revealed yet?", tried, len(req.macKeys))
		}
	}

	var c []byte
	if req.encKey != nil {
		c, res.plaintext, err = readForge(d, req, counterOf(req.payload))
	} else {
		c, err = modify(d.ciphertext, req.guess, req.offset, req.text)
	}
	if err != nil {
		return nil, err
	}
	res.newLen = len(c)
	zero := make([]byte, len(d.mac))
	payload, authLen := d.marshal(c, zero)
	res.mac = computeMAC(d.version, res.macKey, payload[:authLen])
	copy(payload[authLen:], res.mac)
	res.payload = payload
	res.message = otrencoding.EncodeMessage(payload)
	return res, nil
}

// modify is the spec's "Modify an Encrypted Data Message" (OTRv4 spec,
// appendix; libotr's otr_modify): at offset, XOR the guessed old text and
// the new text into the ciphertext. A new text shorter than the guess is
// allowed when the guess reaches the end of the message: the message is
// cut after the new text, which a stream cipher permits.
func modify(ciphertext, guess []byte, offset int, text []byte) ([]byte, error) {
	switch {
	case offset < 0 || offset > len(ciphertext):
		return nil, fmt.Errorf("offset %d is outside the %d-byte encrypted message", offset, len(ciphertext))
	case len(guess) > len(ciphertext)-offset:
		return nil, fmt.Errorf("the guess (%d bytes at offset %d) runs past the end of the %d-byte encrypted message", len(guess), offset, len(ciphertext))
	case len(text) > len(guess):
		return nil, fmt.Errorf("the new text (%d bytes) is longer than the guess (%d bytes): only known key stream can be reused (use -enckey to write any length)", len(text), len(guess))
	case len(text) < len(guess) && offset+len(guess) != len(ciphertext):
		return nil, fmt.Errorf("the new text (%d bytes) is shorter than the guess (%d bytes), which does not reach the end of the message: pad the new text to the guess's length", len(text), len(guess))
	}
	out := bytes.Clone(ciphertext[:offset+len(text)])
	for i := range text {
		out[offset+i] ^= guess[i] ^ text[i]
	}
	if len(text) == len(guess) {
		out = append(out, ciphertext[offset+len(guess):]...)
	}
	return out, nil
}

// readForge is otr_readforge (and the OTRv4 spec's "Read and Forge Data
// Message"): decrypt with the message's key, replace the guessed text (or
// all of it) by the new text, encrypt again. It returns the new ciphertext
// and the original plaintext.
func readForge(d *dataMessage, req *forgeRequest, ctr [8]byte) (c, plain []byte, err error) {
	plain = xorKeyStream(d.version, req.encKey, ctr, d.ciphertext)
	newPlain := req.text
	if len(req.guess) > 0 {
		if req.offset < 0 || req.offset+len(req.guess) > len(plain) || !bytes.Equal(plain[req.offset:req.offset+len(req.guess)], req.guess) {
			return nil, plain, fmt.Errorf("the message does not hold the guess at offset %d; it reads %q", req.offset, plain)
		}
		newPlain = append(append(bytes.Clone(plain[:req.offset]), req.text...), plain[req.offset+len(req.guess):]...)
	}
	return xorKeyStream(d.version, req.encKey, ctr, newPlain), plain, nil
}

// describePlaintext shows a decrypted data message: the text, quoted, and
// the TLVs after its NUL (OTR3 spec, "Data Message"; OTRv4 spec, "TLV
// Record Types"), by type name and length.
func describePlaintext(version int, plain []byte) string {
	text, tlvs, err := otrencoding.ParsePlaintext(plain)
	if err != nil {
		return fmt.Sprintf("%q (the TLVs after the NUL are malformed)", plain)
	}
	out := strconv.Quote(string(text))
	for _, t := range tlvs {
		out += fmt.Sprintf(", TLV %d %s (%d bytes)", t.Type, tlvName(version, t.Type), len(t.Value))
	}
	return out
}

// tlvName returns the name of a TLV type of a protocol version.
func tlvName(version int, typ uint16) string {
	names3 := []string{"Padding", "Disconnected", "SMP Message 1", "SMP Message 2", "SMP Message 3",
		"SMP Message 4", "SMP Abort Message", "SMP Message 1Q", "Extra symmetric key"}
	names4 := []string{"Padding", "Disconnected", "SMP Message 1", "SMP Message 2", "SMP Message 3",
		"SMP Message 4", "SMP Abort Message", "Extra symmetric key"}
	names := names3
	if version == 4 {
		names = names4
	}
	if int(typ) < len(names) {
		return names[typ]
	}
	return "unknown"
}
