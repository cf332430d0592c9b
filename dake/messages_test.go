package dake

import (
	"bytes"
	"errors"
	"testing"

	"golang.org/x/crypto/cryptobyte"

	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/internal/vectors"
)

// TestDAKEMessageVectors parses the three DAKE messages of dake.json and
// marshals them back byte for byte.
func dakeJSONMessages(t *testing.T) {
	var f struct {
		Identity struct {
			Encoded vectors.Hex `json:"encoded"`
		} `json:"identity_message"`
		AuthR struct {
			Encoded vectors.Hex `json:"encoded"`
		} `json:"auth_r"`
		AuthI struct {
			Encoded vectors.Hex `json:"encoded"`
		} `json:"auth_i"`
	}
	vectors.Load(t, "otrv4/dake.json", &f)
	type body interface{ Marshal(*cryptobyte.Builder) }
	cases := []struct {
		name    string
		enc     []byte
		typ     otrencoding.MsgType
		parse   func([]byte) (body, error)
		sender  uint32
		recvTag uint32
	}{
		{"identity", f.Identity.Encoded, otrencoding.MsgIdentity, func(b []byte) (body, error) { return ParseIdentityMessage(b) }, 0x4f8e5a01, 0},
		{"auth_r", f.AuthR.Encoded, otrencoding.MsgAuthR, func(b []byte) (body, error) { return ParseAuthRMessage(b) }, 0x9c3d2b77, 0x4f8e5a01},
		{"auth_i", f.AuthI.Encoded, otrencoding.MsgAuthI, func(b []byte) (body, error) { return ParseAuthIMessage(b) }, 0x4f8e5a01, 0x9c3d2b77},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, b, err := otrencoding.ParseHeader(tc.enc)
			if err != nil {
				t.Fatal(err)
			}
			if h.Version != 4 || h.Type != tc.typ || h.Sender != tc.sender || h.Receiver != tc.recvTag {
				t.Fatalf("header = %+v", h)
			}
			m, err := tc.parse(b)
			if err != nil {
				t.Fatalf("parse = %v", err)
			}
			if got := otrencoding.Marshal(h, m); !bytes.Equal(got, tc.enc) {
				t.Errorf("Marshal = %x, want %x", got, tc.enc)
			}
			// Strict prefixes fail. Each parse of a long body validates
			// points and DH values (about a millisecond), so long bodies are
			// sampled: every 13th prefix and the last 64.
			for n := range len(b) {
				if len(b) > 400 && n%13 != 0 && n < len(b)-64 {
					continue
				}
				if _, err := tc.parse(b[:n]); !errors.Is(err, otrencoding.ErrMalformed) {
					t.Fatalf("parse(%d-byte prefix) error = %v", n, err)
				}
			}
			if _, err := tc.parse(append(bytes.Clone(b), 0)); !errors.Is(err, otrencoding.ErrMalformed) {
				t.Errorf("parse with a trailing byte: %v", err)
			}
		})
	}
}
