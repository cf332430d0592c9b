package dake

import (
	"bytes"
	"testing"

	"golang.org/x/crypto/cryptobyte"

	otrencoding "github.com/otrgo/otr/encoding"
	"github.com/otrgo/otr/internal/vectors"
)

// FuzzParseClientProfile: no panic; an accepted profile re-encodes to its
// input and Validate does not panic.
func FuzzParseClientProfile(f *testing.F) {
	var file profileVectorFile
	vectors.Load(f, "otrv4/clientprofile.json", &file)
	for _, v := range file.Vectors {
		f.Add([]byte(v.Encoded))
	}
	for _, v := range file.ValidationCases {
		f.Add([]byte(v.Encoded))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseClientProfile(b)
		if err != nil {
			if p != nil {
				t.Fatalf("error with a partial value")
			}
			return
		}
		if !bytes.Equal(p.Bytes(), b) {
			t.Fatalf("re-encoding differs")
		}
		_ = p.Validate(p.InstanceTag(), profileNow)
	})
}

// FuzzParseDAKEMessage: no panic; an accepted body marshals back to its
// input. The first byte picks the message type.
func FuzzParseDAKEMessage(f *testing.F) {
	var file struct {
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
	vectors.Load(f, "otrv4/dake.json", &file)
	f.Add(append([]byte{0}, file.Identity.Encoded[11:]...))
	f.Add(append([]byte{1}, file.AuthR.Encoded[11:]...))
	f.Add(append([]byte{2}, file.AuthI.Encoded[11:]...))
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		var m interface{ Marshal(*cryptobyte.Builder) }
		var err error
		switch in[0] % 3 {
		case 0:
			m, err = ParseIdentityMessage(in[1:])
		case 1:
			m, err = ParseAuthRMessage(in[1:])
		default:
			m, err = ParseAuthIMessage(in[1:])
		}
		if err != nil {
			return
		}
		var b cryptobyte.Builder
		m.Marshal(&b)
		if !bytes.Equal(b.BytesOrPanic(), in[1:]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzDAKEReceive feeds arbitrary encoded messages to a DAKE in each state:
// no panic, and a rejected input leaves the state exactly as it was.
func FuzzDAKEReceive(f *testing.F) {
	f.Add(byte(0), []byte{0, 4, 0x35, 0, 0, 0x20, 0, 0, 0, 0, 0})
	f.Add(byte(1), []byte{0, 4, 0x36, 0, 0, 0x20, 0, 0, 0, 0x10, 0})
	f.Add(byte(2), []byte{0, 4, 0x37, 0, 0, 0x10, 0, 0, 0, 0x20, 0})
	f.Fuzz(func(t *testing.T, state byte, msg []byte) {
		d := testParty(t, 0x1000, 1, "bob", "alice")
		switch state % 3 {
		case 1:
			if _, err := d.Start(); err != nil {
				t.Fatal(err)
			}
		case 2:
			peer := testParty(t, 0x2000, 2, "alice", "bob")
			mustReceive(t, d, mustStart(t, peer))
		}
		h, body, err := otrencoding.ParseHeader(msg)
		if err != nil {
			return
		}
		before := snapshot(d)
		if _, err := d.Receive(h, body, profileNow); err != nil && snapshot(d) != before {
			t.Fatalf("rejected input changed the state")
		}
	})
}
