package main

import (
	"bytes"
	"context"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/otrgo/otr"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stanza"
	"mellium.im/xmpp/stream"
)

// sessionOver returns a mellium session, ready at once, that writes to w:
// what the client writes goes through the same encoder as on a real
// connection.
func sessionOver(t *testing.T, w io.Writer) *xmpp.Session {
	t.Helper()
	rw := struct {
		io.Reader
		io.Writer
	}{strings.NewReader(""), w}
	ready := func(_ context.Context, _, out *stream.Info, _ *xmpp.Session, _ any) (xmpp.SessionState, io.ReadWriter, any, error) {
		out.XMLNS = stanza.NSClient
		return xmpp.Ready, nil, nil, nil
	}
	j := jid.MustParse("alice@example.org")
	s, err := xmpp.NewSession(context.Background(), j.Domain(), j, rw, 0, ready)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestStanzaSize: size is the number of bytes the session writes, so that
// the max message size given to the library (the limit less the
// envelope) lets no stanza exceed the server's limit.
func TestStanzaSize(t *testing.T) {
	tests := []outMessage{
		{To: "bob@example.org", ID: strings.Repeat("0", idLen), Body: "?OTR:AAQD", OTR: true},
		{To: "bob@example.org", ID: strings.Repeat("1", idLen), Body: "", OTR: true},
		{To: "bøb@exämple.org", ID: strings.Repeat("2", idLen), Body: `<plain> & "text" 日本語` + "\n\t", OTR: false},
	}
	for _, m := range tests {
		var b bytes.Buffer
		s := sessionOver(t, &b)
		if err := s.Send(context.Background(), m.reader()); err != nil {
			t.Fatal(err)
		}
		if got, want := m.size(), b.Len(); got != want {
			t.Errorf("size() = %d, the session wrote %d bytes: %s", got, want, b.String())
		}
	}
}

// TestStanzaHints: an OTR message is private to carbons, not to be copied
// or stored, and marked as OTR; plaintext carries none of that.
func TestStanzaHints(t *testing.T) {
	marks := []string{
		`<private xmlns="urn:xmpp:carbons:2">`,
		`<no-copy xmlns="urn:xmpp:hints">`,
		`<no-store xmlns="urn:xmpp:hints">`,
		`<encryption xmlns="urn:xmpp:eme:0" namespace="urn:xmpp:otr:0" name="OTR">`,
		`type="chat"`,
	}
	for _, isOTR := range []bool{true, false} {
		var b bytes.Buffer
		s := sessionOver(t, &b)
		m := outMessage{To: "bob@example.org", ID: newID(), Body: "?OTR:AAQD", OTR: isOTR}
		if err := s.Send(context.Background(), m.reader()); err != nil {
			t.Fatal(err)
		}
		for i, mark := range marks {
			want := isOTR || i == len(marks)-1
			if got := strings.Contains(b.String(), mark); got != want {
				t.Errorf("OTR %v: %s in %s: %v, want %v", isOTR, mark, b.String(), got, want)
			}
		}
	}
}

// TestReceivedStanzas: what the client does with message stanzas that are
// not from a contact: carbons of OTR messages are never fed to the
// library, carbons and archive results from anyone but our own account are
// ignored, bounces are reported.
func TestReceivedStanzas(t *testing.T) {
	type carbonSeen struct {
		sent       bool
		with, body string
	}
	var carbons []carbonSeen
	var events []otr.Event
	var out bytes.Buffer
	c, err := newClient(config{
		JID: jid.MustParse("alice@example.org"), Dir: t.TempDir(), Out: &out,
		OnCarbon: func(sent bool, with, body string) { carbons = append(carbons, carbonSeen{sent, with, body}) },
		OnEvent:  func(_ string, ev otr.Event) { events = append(events, ev) },
		OnReceiveError: func(contact string, err error) {
			t.Errorf("the library was given a message from %s: %v", contact, err)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.close() })
	stanzas := []string{
		// A sent carbon of an OTR message (from: our own bare JID, which
		// the session clears).
		`<message xmlns="jabber:client" type="chat"><sent xmlns="urn:xmpp:carbons:2"><forwarded xmlns="urn:xmpp:forward:0">` +
			`<message xmlns="jabber:client" from="alice@example.org/phone" to="bob@example.org" type="chat"><body>?OTR:AAQDnot-for-us</body></message>` +
			`</forwarded></sent></message>`,
		// A received carbon of plaintext.
		`<message xmlns="jabber:client" type="chat"><received xmlns="urn:xmpp:carbons:2"><forwarded xmlns="urn:xmpp:forward:0">` +
			`<message xmlns="jabber:client" from="bob@example.org/laptop" to="alice@example.org/phone" type="chat"><body>hi phone</body></message>` +
			`</forwarded></received></message>`,
		// A carbon from someone else: forged, ignored.
		`<message xmlns="jabber:client" from="mallory@example.org" type="chat"><received xmlns="urn:xmpp:carbons:2"><forwarded xmlns="urn:xmpp:forward:0">` +
			`<message xmlns="jabber:client" from="bob@example.org/x" type="chat"><body>forged</body></message>` +
			`</forwarded></received></message>`,
		// An archive result for no query of ours.
		`<message xmlns="jabber:client"><result xmlns="urn:xmpp:mam:2" queryid="nope" id="1"><forwarded xmlns="urn:xmpp:forward:0">` +
			`<message xmlns="jabber:client" from="bob@example.org/x" type="chat"><body>old</body></message>` +
			`</forwarded></result></message>`,
		// A bounce.
		`<message xmlns="jabber:client" from="bob@example.org" type="error" id="x">` +
			`<error type="cancel"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>`,
	}
	for _, s := range stanzas {
		d := xml.NewDecoder(strings.NewReader(s))
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		start := tok.(xml.StartElement)
		rw := struct {
			xml.TokenReader
			xmlstream.Encoder
		}{xmlstream.InnerElement(d), nil}
		if err := c.handle(rw, &start); err != nil {
			t.Fatal(err)
		}
	}
	want := []carbonSeen{{true, "bob@example.org", "?OTR:AAQDnot-for-us"}, {false, "bob@example.org", "hi phone"}}
	if len(carbons) != len(want) || carbons[0] != want[0] || carbons[1] != want[1] {
		t.Errorf("carbons seen %+v, want %+v", carbons, want)
	}
	if len(events) != 0 || len(c.acct.Sessions()) != 0 {
		t.Errorf("the library saw stanzas that are not from a contact: events %v, sessions %v", events, c.acct.Sessions())
	}
	for _, line := range []string{"ignored a carbon copy of an OTR message", "(received on another device) hi phone", "not delivered (service-unavailable)"} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, out.String())
		}
	}
}
