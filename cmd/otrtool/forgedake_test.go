package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/otrgo/otr"
	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
)

// keyFile writes the test keys i to a key file and returns its path.
func keyFile(t testing.TB, i int) string {
	t.Helper()
	b, err := testKey(t, i).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "keys", string(b))
}

// TestForgeDAKE forges alice's Auth-R with bob's forging key and bob's
// Auth-I with alice's, and replays the conversation with the forgery in
// place of the real message: the party it is meant for accepts it (the
// dake package verifies its ring signature) and the conversation goes on
// as before.
func TestForgeDAKE(t *testing.T) {
	c := converse(t, 4, 0, defaultScript, nil)
	file := writeFile(t, "transcript.txt", c.lines())
	for _, tc := range []struct {
		name    string
		key     int // whose forging key
		msgType otrencoding.MsgType
		to      func(c *conversation) *party
	}{
		{"Auth-R by bob", 1, otrencoding.MsgAuthR, func(c *conversation) *party { return c.bob }},
		{"Auth-I by alice", 0, otrencoding.MsgAuthI, func(c *conversation) *party { return c.alice }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runTool(t, "", "forge-dake", "-keys", keyFile(t, tc.key),
				"-alice", "alice@example.org", "-bob", "bob@example.org", file)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			forged := strings.TrimSuffix(stdout, "\n")
			h, _, err := otrencoding.ParseHeader(payloadOf(t, forged))
			if err != nil || h.Type != tc.msgType {
				t.Fatalf("forged message: %v, %v; want %v", h, err, tc.msgType)
			}
			target := -1
			for i, m := range c.wire {
				if strings.HasPrefix(m.text, "?OTR:") {
					if h, _, _ := otrencoding.ParseHeader(payloadOf(t, m.text)); h.Type == tc.msgType {
						target = i
					}
				}
			}
			if c.wire[target].text == forged {
				t.Fatal("the forgery is the original message")
			}
			replay := converse(t, 4, 0, defaultScript, func(i int, text string) string {
				if i == target {
					return forged
				}
				return text
			})
			p := tc.to(replay)
			if len(p.errs) > 0 {
				t.Fatalf("%s rejected the forgery: %v", p.name, p.errs)
			}
			if p.secureVersion() != 4 {
				t.Fatalf("%s's DAKE did not complete", p.name)
			}
			if got, want := replay.bob.received(), c.bob.received(); strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("after the forgery bob received %q, want %q", got, want)
			}

			// A control: the same message with its signature damaged is
			// refused, so the replay above did verify the forgery.
			damaged := damageSigma(t, forged)
			control := converse(t, 4, 0, defaultScript[:1], func(i int, text string) string {
				if i == target {
					return damaged
				}
				return text
			})
			if p := tc.to(control); len(p.errs) == 0 || p.secureVersion() != 0 {
				t.Errorf("%s accepted a damaged ring signature", p.name)
			}
		})
	}

	for _, tc := range []struct {
		name, keys, alice, bob, want string
	}{
		{"swapped ids", keyFile(t, 1), "bob@example.org", "alice@example.org", "account identifiers"},
		{"wrong id", keyFile(t, 0), "alice@example.org", "mallory@example.org", "account identifiers"},
		{"third party", thirdKeyFile(t), "alice@example.org", "bob@example.org", "neither"},
	} {
		stdout, stderr, code := runTool(t, "", "forge-dake", "-keys", tc.keys, "-alice", tc.alice, "-bob", tc.bob, file)
		if code != 1 || stdout != "" || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 1 mentioning %q", tc.name, code, stdout, stderr, tc.want)
		}
	}
	// An OTR3 transcript has no DAKE.
	v3 := writeFile(t, "v3.txt", converse(t, 3, 0, defaultScript, nil).lines())
	if _, stderr, code := runTool(t, "", "forge-dake", "-keys", keyFile(t, 1), "-alice", "a", "-bob", "b", v3); code != 1 || !strings.Contains(stderr, "no OTRv4 Identity message") {
		t.Errorf("OTR3 transcript: exit %d, stderr %q", code, stderr)
	}
}

func thirdKeyFile(t testing.TB) string {
	t.Helper()
	k, err := otr.GenerateKeys(seeded(1234))
	if err != nil {
		t.Fatal(err)
	}
	b, err := k.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, "third", string(b))
}

// damageSigma flips a bit of c1 in the ring signature of an Auth-R or
// Auth-I message (the lowest bit of a little-endian scalar: it stays a
// valid scalar unless it was 1).
func damageSigma(t testing.TB, msg string) string {
	t.Helper()
	payload := payloadOf(t, msg)
	h, body, err := otrencoding.ParseHeader(payload)
	if err != nil {
		t.Fatal(err)
	}
	var sigma otrcrypto.RingSignature
	switch h.Type {
	case otrencoding.MsgAuthR:
		m, err := dake.ParseAuthRMessage(body)
		if err != nil {
			t.Fatal(err)
		}
		sigma = m.Sigma
	default:
		m, err := dake.ParseAuthIMessage(body)
		if err != nil {
			t.Fatal(err)
		}
		sigma = m.Sigma
	}
	enc := sigma.Bytes()
	i := bytes.Index(payload, enc[:])
	if i < 0 {
		t.Fatal("sigma not found in the message")
	}
	payload = bytes.Clone(payload)
	payload[i] ^= 2
	return otrencoding.EncodeMessage(payload)
}

// TestForgingKeyFormats reads the forging key from both key file formats
// otr.ParsePrivateKeys reads, and from nothing else.
func TestForgingKeyFormats(t *testing.T) {
	v3, err := testKey(t, 1).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	v2 := []byte("otrgo-keys-v2\x00\x00\x00\x00\x00\x00\x00\x00\x39")
	v2 = append(v2, bytes.Repeat([]byte{1}, 57)...)
	v2 = append(v2, 0, 0, 0, 0x39)
	v2 = append(v2, bytes.Repeat([]byte{2}, 57)...)
	for _, b := range [][]byte{v3, v2} {
		if _, err := forgingKeyFrom(b); err != nil {
			t.Errorf("forgingKeyFrom(%.14q...) error = %v", b, err)
		}
	}
	v3only, err := otr.NewDSAKeys(testKey(t, 0).DSAValues())
	if err != nil {
		t.Fatal(err)
	}
	noV4, err := v3only.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{v3[:len(v3)-1], v2[:len(v2)-1], noV4, []byte("junk")} {
		if _, err := forgingKeyFrom(b); err == nil {
			t.Errorf("forgingKeyFrom(%.14q...) accepted a bad file", b)
		}
	}
}
