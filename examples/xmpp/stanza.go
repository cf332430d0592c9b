package main

import (
	"bytes"
	"encoding/xml"
	"io"

	"mellium.im/xmpp/stanza"
)

// Namespaces of the elements the client writes and reads.
const (
	nsClient  = "jabber:client"
	nsCarbons = "urn:xmpp:carbons:2" // XEP-0280, Message Carbons
	nsHints   = "urn:xmpp:hints"     // XEP-0334, Message Processing Hints
	nsEME     = "urn:xmpp:eme:0"     // XEP-0380, Explicit Message Encryption
	nsOTR     = "urn:xmpp:otr:0"     // OTR, as XEP-0380 names it
	nsForward = "urn:xmpp:forward:0" // XEP-0297, Stanza Forwarding
	nsMAM     = "urn:xmpp:mam:2"     // XEP-0313, Message Archive Management
)

// idLen is the length of every stanza id the client makes, so that a
// stanza's size does not depend on its id.
const idLen = 16

// outMessage is a chat message as the client sends it.
//
// An OTR message (OTR set) carries, besides its body, what XMPP OTR clients
// add so that the server neither copies nor keeps ciphertext: <private/>
// keeps Message Carbons from copying it to the account's other resources
// (which could not read it and would answer with "?OTR Error:"), the
// no-copy and no-store hints keep it out of other copies and out of the
// archive (MAM), and the XEP-0380 marker tells clients without OTR what it
// is.
type outMessage struct {
	To   string
	ID   string // idLen characters
	Body string
	OTR  bool
}

// tokens returns the stanza as XML tokens, in the order they are written.
func (m outMessage) tokens() []xml.Token {
	start := xml.StartElement{
		Name: xml.Name{Space: nsClient, Local: "message"},
		Attr: []xml.Attr{
			{Name: xml.Name{Local: "to"}, Value: m.To},
			{Name: xml.Name{Local: "type"}, Value: string(stanza.ChatMessage)},
			{Name: xml.Name{Local: "id"}, Value: m.ID},
		},
	}
	body := xml.StartElement{Name: xml.Name{Local: "body"}}
	toks := []xml.Token{start, body, xml.CharData(m.Body), body.End()}
	if m.OTR {
		for _, el := range []xml.StartElement{
			{Name: xml.Name{Space: nsCarbons, Local: "private"}},
			{Name: xml.Name{Space: nsHints, Local: "no-copy"}},
			{Name: xml.Name{Space: nsHints, Local: "no-store"}},
			{Name: xml.Name{Space: nsEME, Local: "encryption"}, Attr: []xml.Attr{
				{Name: xml.Name{Local: "namespace"}, Value: nsOTR},
				{Name: xml.Name{Local: "name"}, Value: "OTR"},
			}},
		} {
			toks = append(toks, el, el.End())
		}
	}
	return append(toks, start.End())
}

// reader returns the stanza as a token reader for xmpp.Session.Send.
func (m outMessage) reader() xml.TokenReader {
	l := tokenList(m.tokens())
	return &l
}

// tokenList is a slice of tokens as an xml.TokenReader.
type tokenList []xml.Token

func (l *tokenList) Token() (xml.Token, error) {
	if len(*l) == 0 {
		return nil, io.EOF
	}
	t := (*l)[0]
	*l = (*l)[1:]
	return t, nil
}

// size returns the stanza's length in bytes as the session writes it: the
// session encodes the same tokens with an encoding/xml Encoder (the message
// in the stream's namespace, an explicit id), which is what the server
// counts against its stanza size limit.
func (m outMessage) size() int {
	var b bytes.Buffer
	e := xml.NewEncoder(&b)
	for _, t := range m.tokens() {
		if err := e.EncodeToken(t); err != nil {
			panic("xmpp: internal error: encoding a message: " + err.Error())
		}
	}
	if err := e.Flush(); err != nil {
		panic("xmpp: internal error: encoding a message: " + err.Error())
	}
	return b.Len()
}

// inMessage is a received message stanza, with the children the client
// reads.
type inMessage struct {
	From     string        `xml:"from,attr"` // "" when it is our own bare JID (the session clears it)
	ID       string        `xml:"id,attr"`
	Type     string        `xml:"type,attr"`
	Body     []string      `xml:"body"`
	Error    *stanza.Error `xml:"error"`
	Received *carbon       `xml:"urn:xmpp:carbons:2 received"`
	Sent     *carbon       `xml:"urn:xmpp:carbons:2 sent"`
	Result   *mamResult    `xml:"urn:xmpp:mam:2 result"`
}

// carbon is a copy of a message the server forwarded to this resource
// because another resource of the account sent or received it.
type carbon struct {
	Forwarded struct {
		Message *forwardedMessage `xml:"jabber:client message"`
	} `xml:"urn:xmpp:forward:0 forwarded"`
}

// mamResult is one archived message of an archive query.
type mamResult struct {
	QueryID   string `xml:"queryid,attr"`
	ID        string `xml:"id,attr"`
	Forwarded struct {
		Message *forwardedMessage `xml:"jabber:client message"`
	} `xml:"urn:xmpp:forward:0 forwarded"`
}

// forwardedMessage is a message inside a carbon or an archive result.
type forwardedMessage struct {
	From string   `xml:"from,attr"`
	To   string   `xml:"to,attr"`
	Type string   `xml:"type,attr"`
	Body []string `xml:"body"`
}

// body returns the first body of a message, "" if none.
func body(bodies []string) string {
	if len(bodies) == 0 {
		return ""
	}
	return bodies[0]
}
