package otr_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/dake"
)

var modes = []otr.Mode{otr.ModeOTRv3Compatible, otr.ModeOTRv4Standalone, otr.ModeOTRv4InteractiveOnly}

// TestModePairs: every ordered pair of modes, the first account starting
// the conversation (Session.Start). The OTRv3-compatible mode sends a query,
// which the always-encrypted modes ignore ("Receiving a Query Message" is
// not part of them); they start with an Identity message, which every mode
// answers: OTRv4.
func TestModePairs(t *testing.T) {
	for _, ma := range modes {
		for _, mb := range modes {
			t.Run(fmt.Sprintf("%v->%v", ma, mb), func(t *testing.T) {
				alice := newPeer(t, "alice", "bob", 0, 901, &otr.Options{Mode: ma}, 0)
				bob := newPeer(t, "bob", "alice", 1, 902, &otr.Options{Mode: mb}, 0)
				res, err := alice.sess.Start()
				if err != nil {
					t.Fatal(err)
				}
				wire := pump(t, alice, bob, res.Send)
				wantSecure := ma != otr.ModeOTRv3Compatible || mb == otr.ModeOTRv3Compatible
				for _, p := range []*peer{alice, bob} {
					info, _ := p.sess.Instance(0)
					if got := info.Status == otr.Encrypted; got != wantSecure {
						t.Fatalf("%s: %v, want encrypted %v (wire %q)", p.name, info.Status, wantSecure, wire)
					}
					if wantSecure && info.Version != 4 {
						t.Fatalf("%s: version %d", p.name, info.Version)
					}
				}
				if ma.String() == "" || strings.HasPrefix(ma.String(), "Mode(") {
					t.Fatalf("mode name %q", ma)
				}
			})
		}
	}
}

// The always-encrypted modes: the client profile says "4" with no
// transitional signature; no plaintext leaves; received plaintext is
// reported as unencrypted and never answered; OTR3 requests are refused;
// the mode overrides a conflicting policy.
func TestAlwaysEncryptedModes(t *testing.T) {
	for _, m := range modes[1:] {
		t.Run(m.String(), func(t *testing.T) {
			alice := newPeer(t, "alice", "bob", 0, 911, &otr.Options{Mode: m, Policy: otr.AllowV3 | otr.SendWhitespaceTag}, 0)
			prof, _ := alice.host.ClientProfile()
			p, err := dake.ParseClientProfile(prof)
			if err != nil {
				t.Fatal(err)
			}
			if p.Versions() != "4" || p.TransitionalSignature() != nil {
				t.Fatalf("profile versions %q, transitional signature %x", p.Versions(), p.TransitionalSignature())
			}
			if pol := alice.sess.Policy(); pol&otr.AllowV3 != 0 || pol&otr.RequireEncryption == 0 || pol&otr.SendWhitespaceTag != 0 {
				t.Fatalf("policy %v not constrained by the mode", pol)
			}
			alice.sess.SetPolicy(otr.DefaultPolicy)
			if pol := alice.sess.Policy(); pol&otr.AllowV3 != 0 || pol&otr.RequireEncryption == 0 {
				t.Fatalf("SetPolicy %v overrides the mode", pol)
			}
			res, err := alice.sess.Send(0, "secret words")
			if err != nil {
				t.Fatal(err)
			}
			for _, msg := range res.Send {
				if strings.Contains(msg.Text, "secret words") || strings.HasPrefix(msg.Text, "?OTRv") {
					t.Fatalf("sent %q", msg.Text)
				}
			}
			for _, in := range []string{"hello in the clear", "hello \t  \t\t\t\t \t \t \t    \t\t  \t\t", "?OTRv34?", "?OTRv3?"} {
				r, err := alice.sess.Receive(in)
				if err != nil || len(r.Send) != 0 {
					t.Fatalf("Receive(%q): %v, answered %v", in, err, r.Send)
				}
				for _, ev := range r.Events {
					if _, ok := ev.(otr.PlaintextEvent); ok {
						t.Fatalf("plaintext shown as expected: %v", ev)
					}
				}
			}
			// An OTR3 key exchange is refused.
			v3 := newPeer(t, "bob", "alice", 1, 912, &otr.Options{Policy: otr.DefaultPolicy &^ otr.AllowV4}, 0)
			r, _ := v3.sess.Receive("?OTRv3?")
			if _, err := alice.sess.Receive(r.Send[0].Text); !errors.Is(err, otr.ErrUnsupportedVersion) {
				t.Fatalf("OTR3 D-H Commit: %v", err)
			}
		})
	}
}
