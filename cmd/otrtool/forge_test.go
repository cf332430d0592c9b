package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/hex"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/chacha20"

	otrcrypto "github.com/otrgo/otr/crypto"
	otrencoding "github.com/otrgo/otr/encoding"
)

// parsedData is a data message of either version as the encoding package
// reads it: what the checks below compare.
type parsedData struct {
	version    int
	auth       []byte // the span the MAC covers
	ciphertext []byte
	mac        []byte
	revealed   [][]byte
}

func parseData(t testing.TB, payload []byte) parsedData {
	t.Helper()
	h, body, err := otrencoding.ParseHeader(payload)
	if err != nil || h.Type != otrencoding.MsgData {
		t.Fatalf("ParseHeader = %v, %v; want a data message", h, err)
	}
	if h.Version == otrencoding.Version3 {
		var m otrencoding.DataMessage
		if err := m.Unmarshal(body); err != nil {
			t.Fatal(err)
		}
		d := parsedData{version: 3, auth: m.AuthenticatedPart(h), ciphertext: bytes.Clone(m.EncryptedMessage), mac: m.MAC[:]}
		for i := 0; i < len(m.OldMACKeys); i += 20 {
			d.revealed = append(d.revealed, m.OldMACKeys[i:i+20])
		}
		return d
	}
	_, m, authLen, err := otrencoding.ParseDataMessage4(payload)
	if err != nil {
		t.Fatal(err)
	}
	d := parsedData{version: 4, auth: payload[:authLen], ciphertext: m.Ciphertext, mac: m.Authenticator[:]}
	for i := 0; i < len(m.RevealedMACKeys); i += 64 {
		d.revealed = append(d.revealed, m.RevealedMACKeys[i:i+64])
	}
	return d
}

// verifies reports whether key verifies d's MAC, computed here straight
// from the specs: OTR3 HMAC-SHA1 with crypto/hmac (OTR3 spec, "Data
// Message"), OTRv4 KDF(usage_authenticator || MKmac || span, 64) (OTRv4 spec,
// "When you send a Data Message").
func (d parsedData) verifies(key []byte) bool {
	if d.version == 3 {
		m := hmac.New(sha1.New, key)
		m.Write(d.auth)
		return hmac.Equal(m.Sum(nil), d.mac)
	}
	var tag [64]byte
	otrcrypto.KDF(tag[:], otrcrypto.UsageAuthenticator, key, d.auth)
	return hmac.Equal(tag[:], d.mac)
}

// revealedKeyOf finds, among the MAC keys revealed by the data messages
// of c, the one that verifies the message at index i.
func (c *conversation) revealedKeyOf(t testing.TB, i int) []byte {
	t.Helper()
	k := c.findRevealedKey(t, i)
	if k == nil {
		t.Fatalf("no revealed MAC key verifies message %d", i)
	}
	return k
}

// findRevealedKey is revealedKeyOf, returning nil if no key was revealed.
func (c *conversation) findRevealedKey(t testing.TB, i int) []byte {
	t.Helper()
	target := parseData(t, payloadOf(t, c.wire[i].text))
	for _, m := range c.wire {
		if !strings.HasPrefix(m.text, "?OTR:") {
			continue
		}
		p := payloadOf(t, m.text)
		if h, _, err := otrencoding.ParseHeader(p); err != nil || h.Type != otrencoding.MsgData {
			continue
		}
		for _, k := range parseData(t, p).revealed {
			if target.verifies(k) {
				return k
			}
		}
	}
	return nil
}

func writeFile(t testing.TB, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestForgeTranscript forges data messages of real OTR3 and OTRv4
// conversations with the MAC keys their later messages reveal, checks the
// forgeries against the specs' MAC constructions directly, and then
// replays each conversation with the forgery delivered in place of the
// original: the receiver, holding the real keys, accepts it and reads the
// new text.
func TestForgeTranscript(t *testing.T) {
	for _, v := range []int{3, 4} {
		for _, tc := range []struct {
			name, guess, text string
			offset            int
			want              string // what the receiver reads
		}{
			{name: "whole", guess: "Hello Bob, it is Alice.", text: "Hello Bob, it is Carol.", want: "Hello Bob, it is Carol."},
			{name: "middle", guess: "Alice", offset: 17, text: "Mallo", want: "Hello Bob, it is Mallo."},
			{name: "cut", guess: "Hello Bob, it is Alice.", text: "Go away!", want: "Go away!"},
		} {
			t.Run("v"+strconv.Itoa(v)+"/"+tc.name, func(t *testing.T) {
				c := converse(t, v, 0, defaultScript, nil)
				target := c.dataIndexes(t, "alice")[0]
				file := writeFile(t, "transcript.txt", c.lines())
				args := []string{"forge", "-line", strconv.Itoa(target + 1), "-reveal", file,
					"-guess", tc.guess, "-offset", strconv.Itoa(tc.offset), "-text", tc.text, file}
				if v == 4 {
					args = append(args[:1], append([]string{"-v4"}, args[1:]...)...)
				}
				stdout, stderr, code := runTool(t, "", args...)
				if code != 0 {
					t.Fatalf("otrtool %q: exit %d, stderr %s", args, code, stderr)
				}
				forged := strings.TrimSuffix(stdout, "\n")
				if strings.Contains(forged, "\n") || !strings.HasPrefix(forged, "?OTR:") {
					t.Fatalf("stdout = %q, want one encoded message", stdout)
				}

				orig := parseData(t, payloadOf(t, c.wire[target].text))
				got := parseData(t, payloadOf(t, forged))
				key := c.revealedKeyOf(t, target)
				if !orig.verifies(key) || !got.verifies(key) {
					t.Fatalf("the revealed MAC key %x verifies original %v, forgery %v; want both", key, orig.verifies(key), got.verifies(key))
				}
				if !strings.Contains(stderr, hex.EncodeToString(key)) {
					t.Errorf("stderr = %q, want it to name the MAC key %x", stderr, key)
				}
				// The ciphertext changed by exactly guess XOR text, and
				// nothing else did.
				wantLen := len(orig.ciphertext)
				if len(tc.text) < len(tc.guess) {
					wantLen = tc.offset + len(tc.text)
				}
				if len(got.ciphertext) != wantLen {
					t.Fatalf("forged ciphertext is %d bytes, want %d", len(got.ciphertext), wantLen)
				}
				for i := range got.ciphertext {
					diff := got.ciphertext[i] ^ orig.ciphertext[i]
					var want byte
					if j := i - tc.offset; j >= 0 && j < len(tc.text) {
						want = tc.guess[j] ^ tc.text[j]
					}
					if diff != want {
						t.Fatalf("ciphertext byte %d changed by %#x, want %#x", i, diff, want)
					}
				}
				hdr := len(orig.auth) - len(orig.ciphertext) - 4
				if !bytes.Equal(got.auth[:hdr], orig.auth[:hdr]) {
					t.Errorf("fields before the encrypted message changed")
				}

				// Replay the conversation, delivering the forgery instead.
				replay := converse(t, v, 0, defaultScript, func(i int, text string) string {
					if i == target {
						return forged
					}
					return text
				})
				if got := replay.bob.received(); len(got) == 0 || got[0] != tc.want {
					t.Errorf("in the replayed conversation bob received %q, want first %q", got, tc.want)
				}
				for i := 0; i < target; i++ {
					if replay.wire[i].text != c.wire[i].text {
						t.Fatalf("the replay differs from the conversation at message %d", i)
					}
				}
			})
		}
	}
}

// TestForgeMACKey gives the revealed key on the command line, and checks
// that a key that does not verify the message, or of the wrong size,
// writes nothing.
func TestForgeMACKey(t *testing.T) {
	for _, v := range []int{3, 4} {
		t.Run("v"+strconv.Itoa(v), func(t *testing.T) {
			c := converse(t, v, 0, defaultScript, nil)
			target := c.dataIndexes(t, "bob")[0]
			msg := c.wire[target].text + "\n"
			key := c.revealedKeyOf(t, target)
			guess, text := "Hi Alice! Meet me at noon.", "Hi Alice! Meet me at nine."

			stdout, stderr, code := runTool(t, msg, "forge", "-mackey", hex.EncodeToString(key), "-guess", guess, "-text", text)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			if d := parseData(t, payloadOf(t, strings.TrimSpace(stdout))); !d.verifies(key) {
				t.Errorf("the forgery does not verify under the given key")
			}

			// The same forgery from the transcript's revealed keys.
			file := writeFile(t, "t.txt", c.lines())
			again, stderr, code := runTool(t, msg, "forge", "-reveal", file, "-guess", guess, "-text", text)
			if code != 0 || again != stdout {
				t.Errorf("forge -reveal: exit %d, output %q (stderr %s), want %q", code, again, stderr, stdout)
			}

			wrong := bytes.Clone(key)
			wrong[0] ^= 1
			for _, tc := range []struct {
				name string
				args []string
				want string
			}{
				{"wrong key", []string{"-mackey", hex.EncodeToString(wrong)}, "does not verify"},
				{"short key", []string{"-mackey", hex.EncodeToString(key[:10])}, "bytes"},
				{"not hex", []string{"-mackey", "xyz"}, "-mackey"},
				{"other version", []string{"-mackey", hex.EncodeToString(key), map[int]string{3: "-v4", 4: "-v3"}[v]}, "data message"},
				{"longer text", []string{"-mackey", hex.EncodeToString(key), "-guess", "Hi"}, "longer than the guess"},
				{"no key", []string{"-guess", guess}, "usage"},
			} {
				args := append([]string{"forge"}, tc.args...)
				if !strings.Contains(strings.Join(tc.args, " "), "-guess") {
					args = append(args, "-guess", guess)
				}
				args = append(args, "-text", text)
				stdout, stderr, code := runTool(t, msg, args...)
				if code == 0 || stdout != "" || !strings.Contains(stderr, tc.want) {
					t.Errorf("%s: exit %d, stdout %q, stderr %q; want failure mentioning %q", tc.name, code, stdout, stderr, tc.want)
				}
			}
		})
	}
}

// synthetic is a data message made with known keys, straight from the
// specs, as a participant would have it.
type synthetic struct {
	msg     string
	key     []byte // OTR3 AES key or OTRv4 MKenc
	macKey  []byte
	decrypt func([]byte) []byte
}

// syntheticMessages returns an OTR3 and an OTRv4 data message that read
// plain.
func syntheticMessages(t testing.TB, plain []byte) (v3, v4 synthetic) {
	t.Helper()
	rnd := seeded(5)
	h3 := otrencoding.Header{Version: 3, Type: otrencoding.MsgData, Sender: 0x101, Receiver: 0x202}
	h4 := otrencoding.Header{Version: 4, Type: otrencoding.MsgData, Sender: 0x101, Receiver: 0x202}

	var aesKey [16]byte
	rnd.Read(aesKey[:])
	m3 := otrencoding.DataMessage{SenderKeyID: 1, RecipientKeyID: 1, NextDH: []byte{5}, Counter: [8]byte{7: 1}}
	m3.EncryptedMessage = make([]byte, len(plain))
	otrcrypto.AESCTR(aesKey[:], m3.Counter, m3.EncryptedMessage, plain)
	macKey3 := sha1.Sum(aesKey[:])
	mac := hmac.New(sha1.New, macKey3[:])
	mac.Write(m3.AuthenticatedPart(h3))
	copy(m3.MAC[:], mac.Sum(nil))
	v3 = synthetic{
		msg: otrencoding.EncodeMessage(otrencoding.Marshal(h3, &m3)), key: aesKey[:], macKey: macKey3[:],
		decrypt: func(c []byte) []byte {
			out := make([]byte, len(c))
			otrcrypto.AESCTR(aesKey[:], m3.Counter, out, c)
			return out
		},
	}

	var mkEnc, mkMAC [64]byte
	rnd.Read(mkEnc[:])
	otrcrypto.KDF(mkMAC[:], otrcrypto.UsageMACKey, mkEnc[:])
	chacha := func(in []byte) []byte {
		c, err := chacha20.NewUnauthenticatedCipher(mkEnc[:32], make([]byte, chacha20.NonceSize))
		if err != nil {
			t.Fatal(err)
		}
		out := make([]byte, len(in))
		c.XORKeyStream(out, in)
		return out
	}
	m4 := otrencoding.DataMessage4{Ciphertext: chacha(plain)}
	m4.ECDH[0] = 1
	otrcrypto.KDF(m4.Authenticator[:], otrcrypto.UsageAuthenticator, mkMAC[:], m4.AuthenticatedPart(h4))
	v4 = synthetic{msg: otrencoding.EncodeMessage(otrencoding.Marshal(h4, &m4)), key: mkEnc[:], macKey: mkMAC[:], decrypt: chacha}
	return v3, v4
}

// TestForgeEncKey is otr_readforge: with the message's encryption key the
// message is read, and replaced by a text of any length. The messages are
// built here with known keys, straight from the specs.
func TestForgeEncKey(t *testing.T) {
	plain := []byte("attack at dawn")
	v3, v4 := syntheticMessages(t, plain)
	for name, tc := range map[string]synthetic{"v3": v3, "v4": v4} {
		t.Run(name, func(t *testing.T) {
			for _, f := range []struct {
				args []string
				want string
			}{
				{[]string{"-text", "retreat at once, all of you"}, "retreat at once, all of you"},
				{[]string{"-guess", "dawn", "-offset", "10", "-text", "dusk\x00\x00\x00\x00\x00"}, "attack at dusk\x00\x00\x00\x00\x00"},
				{[]string{"-guess", "attack", "-text", ""}, " at dawn"},
			} {
				args := append([]string{"forge", "-enckey", hex.EncodeToString(tc.key)}, f.args...)
				stdout, stderr, code := runTool(t, tc.msg+"\n", args...)
				if code != 0 {
					t.Fatalf("%q: exit %d: %s", args, code, stderr)
				}
				if !strings.Contains(stderr, strconv.Quote(string(plain))) {
					t.Errorf("stderr = %q, want the original text", stderr)
				}
				d := parseData(t, payloadOf(t, strings.TrimSpace(stdout)))
				if !d.verifies(tc.macKey) {
					t.Errorf("%q: the forgery does not verify", args)
				}
				if got := tc.decrypt(d.ciphertext); string(got) != f.want {
					t.Errorf("%q: the forgery reads %q, want %q", args, got, f.want)
				}
			}
			bad := bytes.Clone(tc.key)
			bad[len(bad)-1] ^= 0x80
			for _, args := range [][]string{
				{"-enckey", hex.EncodeToString(bad), "-text", "x"},
				{"-enckey", hex.EncodeToString(tc.key[:8]), "-text", "x"},
				{"-enckey", hex.EncodeToString(tc.key), "-guess", "dusk", "-text", "x"},
			} {
				stdout, stderr, code := runTool(t, tc.msg+"\n", append([]string{"forge"}, args...)...)
				if code != 1 || stdout != "" {
					t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and nothing written", args, code, stdout, stderr)
				}
			}
		})
	}
}

func TestModify(t *testing.T) {
	c := []byte("0123456789")
	for _, tc := range []struct {
		guess, text string
		offset      int
		wantLen     int // -1: an error
	}{
		{"01", "ab", 0, 10},
		{"89", "ab", 8, 10},
		{"456789", "ab", 4, 6},
		{"", "", 10, 10},
		{"0123", "ab", 0, -1}, // shorter, not at the end
		{"01", "abc", 0, -1},  // longer
		{"9x", "ab", 9, -1},   // past the end
		{"0", "a", -1, -1},    // negative offset
		{"", "", 11, -1},      // offset past the end
	} {
		got, err := modify(c, []byte(tc.guess), tc.offset, []byte(tc.text))
		if tc.wantLen < 0 {
			if err == nil {
				t.Errorf("modify(%q, %d, %q) = %q, want an error", tc.guess, tc.offset, tc.text, got)
			}
			continue
		}
		if err != nil || len(got) != tc.wantLen {
			t.Errorf("modify(%q, %d, %q) = %q, %v; want %d bytes", tc.guess, tc.offset, tc.text, got, err, tc.wantLen)
			continue
		}
		for i := range got {
			want := c[i]
			if j := i - tc.offset; j >= 0 && j < len(tc.text) {
				want = c[i] ^ tc.guess[j] ^ tc.text[j]
			}
			if got[i] != want {
				t.Errorf("modify(%q, %d, %q) byte %d = %#x, want %#x", tc.guess, tc.offset, tc.text, i, got[i], want)
			}
		}
	}
}

func TestDescribePlaintext(t *testing.T) {
	withTLVs := otrencoding.MarshalPlaintext([]byte("bye"), []otrencoding.TLV{{Type: 1}, {Type: 7, Value: []byte{0, 0, 0, 1}}, {Type: 99}})
	for _, tc := range []struct {
		version int
		in      []byte
		want    string
	}{
		{3, []byte("hi"), `"hi"`},
		{3, withTLVs, `"bye", TLV 1 Disconnected (0 bytes), TLV 7 SMP Message 1Q (4 bytes), TLV 99 unknown (0 bytes)`},
		{4, withTLVs, `"bye", TLV 1 Disconnected (0 bytes), TLV 7 Extra symmetric key (4 bytes), TLV 99 unknown (0 bytes)`},
		{4, []byte("x\x00\x00"), `"x\x00\x00" (the TLVs after the NUL are malformed)`},
	} {
		if got := describePlaintext(tc.version, tc.in); got != tc.want {
			t.Errorf("describePlaintext(%d, %q) = %s, want %s", tc.version, tc.in, got, tc.want)
		}
	}
}
