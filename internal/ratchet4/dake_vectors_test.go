package ratchet4

import (
	"bytes"
	"fmt"
	"testing"
)

// TestDAKEVectors replays the double-ratchet set-up and the 6 data messages
// of otr4j's dake.json: every root, chain and message key, the extra
// symmetric key, the authenticator and the encoded message must match byte
// for byte, and the receiver must decrypt each message.
func TestDAKEVectors(t *testing.T) {
	f := loadDAKE(t)
	p := newParties(t, f, Options{})
	t.Run("init", func(t *testing.T) {
		if !bytes.Equal(f.SharedSecret.FirstRootKey, f.Init.PrevRootKey) {
			t.Fatalf("dake.json: first root key and prev_root_key differ")
		}
		checkSnapshot(t, "alice", p.alice, &f.Init.AliceSnapshot)
		checkSnapshot(t, "bob", p.bob, &f.Init.BobSnapshot)
		if !bytes.Equal(p.alice.chainS[:], f.Init.ChainKey) || !bytes.Equal(p.bob.chainR[:], f.Init.ChainKey) {
			t.Errorf("first chain keys %x / %x, want %x", p.alice.chainS, p.bob.chainR, []byte(f.Init.ChainKey))
		}
	})
	for n := range f.DataMessages {
		v := &f.DataMessages[n]
		t.Run(fmt.Sprintf("message=%d", n), func(t *testing.T) {
			// Message keys from the recorded chain key.
			var ck [64]byte
			copy(ck[:], v.ChainKey)
			mkEnc, mkMAC, extra := messageKeys(&ck)
			if !bytes.Equal(mkEnc[:], v.MKEnc) || !bytes.Equal(mkMAC[:], v.MKMAC) || !bytes.Equal(extra[:], v.ExtraSymmetricKey) {
				t.Errorf("message keys from chain key differ: %x %x %x", mkEnc, mkMAC, extra)
			}
			if got := xorChaCha20(&mkEnc, v.Plaintext); !bytes.Equal(got, v.Ciphertext) {
				t.Errorf("ciphertext %x, want %x", got, []byte(v.Ciphertext))
			}
			if tag := authenticator(&mkMAC, v.AuthenticatedBytes); !bytes.Equal(tag[:], v.Authenticator) {
				t.Errorf("authenticator %x, want %x", tag, []byte(v.Authenticator))
			}

			out, gotExtra := p.send(t, v)
			if !bytes.Equal(out, v.Encoded) {
				t.Fatalf("%s: encoded\n%x\nwant\n%x", v.Comment, out, []byte(v.Encoded))
			}
			if gotExtra != extra {
				t.Errorf("Encrypt extra key %x, want %x", gotExtra, extra)
			}
			sender := p.alice
			if v.Sender == "bob" {
				sender = p.bob
			}
			checkSnapshot(t, v.Sender+" after sending", sender, &v.SenderAfter)

			r := p.receiver(v)
			got, err := r.Decrypt(testNow, v.Encoded)
			if err != nil {
				t.Fatalf("%s: Decrypt error = %v", v.Comment, err)
			}
			if !bytes.Equal(got.Plaintext, v.Plaintext) || got.ExtraKey != extra || got.Flags != v.Flags {
				t.Errorf("Decrypt = %x, extra %x, flags %d; want %x, %x, %d", got.Plaintext, got.ExtraKey, got.Flags,
					[]byte(v.Plaintext), extra, v.Flags)
			}
			checkSnapshot(t, "receiver", r, &v.ReceiverAfter)
		})
	}
}
