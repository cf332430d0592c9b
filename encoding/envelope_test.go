package encoding

import (
	"bytes"
	"errors"
	"testing"
)

const (
	tagV2 = whitespaceBase + whitespaceV2
	tagV3 = whitespaceBase + whitespaceV3
)

func TestParseEnvelope(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    Envelope
		wantErr error
	}{
		// Plaintext.
		{name: "empty", in: "", want: Envelope{Kind: KindPlaintext}},
		{name: "plain", in: "hello", want: Envelope{Kind: KindPlaintext, Text: "hello"}},
		{name: "bare ?OTR", in: "?OTR", want: Envelope{Kind: KindPlaintext, Text: "?OTR"}},
		{name: "?OTR then other", in: "?OTRx hi", want: Envelope{Kind: KindPlaintext, Text: "?OTRx hi"}},
		{name: "error not at start", in: "hi ?OTR Error: x", want: Envelope{Kind: KindPlaintext, Text: "hi ?OTR Error: x"}},
		{name: "lower case", in: "?otrv3?", want: Envelope{Kind: KindPlaintext, Text: "?otrv3?"}},

		// Queries (OTR3 spec, "OTR Query Messages"; docs/interop.md).
		{name: "v1 only", in: "?OTR?", want: Envelope{Kind: KindQuery, Versions: V1}},
		{name: "v2", in: "?OTRv2?", want: Envelope{Kind: KindQuery, Versions: V2}},
		{name: "v3", in: "?OTRv3?", want: Envelope{Kind: KindQuery, Versions: V3}},
		{name: "v23", in: "?OTRv23?", want: Envelope{Kind: KindQuery, Versions: V2 | V3}},
		{name: "v1 and v23", in: "?OTR?v23?", want: Envelope{Kind: KindQuery, Versions: V1 | V2 | V3}},
		{name: "v34", in: "?OTRv34?", want: Envelope{Kind: KindQuery, Versions: V3 | V4}},
		{name: "v43", in: "?OTRv43?", want: Envelope{Kind: KindQuery, Versions: V3 | V4}},
		{name: "future versions", in: "?OTRv24x?", want: Envelope{Kind: KindQuery, Versions: V2 | V4}},
		{name: "v1 and future", in: "?OTR?v24x?", want: Envelope{Kind: KindQuery, Versions: V1 | V2 | V4}},
		{name: "v1 empty list", in: "?OTR?v?", want: Envelope{Kind: KindQuery, Versions: V1}},
		{name: "no versions", in: "?OTRv?", want: Envelope{Kind: KindQuery}},
		{name: "invalid v4 form", in: "?OTRv?4?", want: Envelope{Kind: KindQuery, Text: "4?"}},
		{name: "with text", in: "?OTRv34?\nAlice has requested an OTR conversation.",
			want: Envelope{Kind: KindQuery, Versions: V3 | V4, Text: "\nAlice has requested an OTR conversation."}},
		{name: "after text", in: "hello ?OTRv3? there", want: Envelope{Kind: KindQuery, Versions: V3, Text: " there"}},
		{name: "after false start", in: "?OTRx ?OTRv4?", want: Envelope{Kind: KindQuery, Versions: V4}},
		{name: "truncated ?OTRv", in: "?OTRv", want: Envelope{Kind: KindQuery}},
		{name: "truncated ?OTR?v", in: "?OTR?v", want: Envelope{Kind: KindQuery, Versions: V1}},
		{name: "unterminated list", in: "?OTRv34", want: Envelope{Kind: KindQuery, Text: "34"}},
		{name: "query with tag", in: "?OTRv3?" + tagV3, want: Envelope{Kind: KindQuery, Versions: V3, Text: tagV3}},

		// Whitespace tags (OTR3 spec, "Tagged plaintext messages"; OTRv4 spec, "Whitespace Tags").
		{name: "tag v3 at end", in: "hi" + tagV3, want: Envelope{Kind: KindPlaintext, Versions: V3, Text: "hi"}},
		{name: "tag v3 v4 at start", in: WhitespaceTag(V3|V4) + "hi", want: Envelope{Kind: KindPlaintext, Versions: V3 | V4, Text: "hi"}},
		{name: "tag v4 v3 order", in: "a" + whitespaceBase + whitespaceV4 + whitespaceV3 + "b", want: Envelope{Kind: KindPlaintext, Versions: V3 | V4, Text: "ab"}},
		{name: "tag v2 in middle", in: "a " + tagV2 + " b", want: Envelope{Kind: KindPlaintext, Versions: V2, Text: "a  b"}},
		{name: "tag v1 v2 v3", in: whitespaceBase + whitespaceV1 + whitespaceV2 + whitespaceV3, want: Envelope{Kind: KindPlaintext, Versions: V1 | V2 | V3}},
		{name: "unknown group skipped", in: whitespaceBase + "        " + whitespaceV4 + "x", want: Envelope{Kind: KindPlaintext, Versions: V4, Text: "x"}},
		{name: "base tag alone", in: "x" + whitespaceBase, want: Envelope{Kind: KindPlaintext, Text: "x"}},
		{name: "partial group kept", in: tagV3 + "  \t", want: Envelope{Kind: KindPlaintext, Versions: V3, Text: "  \t"}},
		{name: "only first tag", in: tagV3 + "x" + tagV2, want: Envelope{Kind: KindPlaintext, Versions: V3, Text: "x" + tagV2}},
		{name: "truncated base tag", in: "x" + whitespaceBase[:15], want: Envelope{Kind: KindPlaintext, Text: "x" + whitespaceBase[:15]}},

		// Error messages.
		{name: "error", in: "?OTR Error: bad thing", want: Envelope{Kind: KindError, Text: "bad thing"}},
		{name: "error no space", in: "?OTR Error:bad", want: Envelope{Kind: KindError, Text: "bad"}},
		{name: "error two spaces", in: "?OTR Error:  x", want: Envelope{Kind: KindError, Text: " x"}},
		{name: "error empty", in: "?OTR Error:", want: Envelope{Kind: KindError}},
		{name: "error code", in: "?OTR Error: ERROR_1: Unreadable message", want: Envelope{Kind: KindError, Text: "ERROR_1: Unreadable message"}},

		// Encoded messages.
		{name: "encoded", in: "?OTR:AAMD.", want: Envelope{Kind: KindEncoded, Payload: []byte{0, 3, 3}}},
		{name: "encoded padded", in: "?OTR:AAM=.", want: Envelope{Kind: KindEncoded, Payload: []byte{0, 3}}},
		{name: "encoded empty", in: "?OTR:.", want: Envelope{Kind: KindEncoded, Payload: []byte{}}},
		{name: "encoded in markup", in: "<p>?OTR:AAMD.</p>", want: Envelope{Kind: KindEncoded, Payload: []byte{0, 3, 3}}},
		{name: "encoded missing dot", in: "?OTR:AAMD", wantErr: ErrMalformed},
		{name: "encoded bad base64", in: "?OTR:AA*D.", wantErr: ErrMalformed},
		{name: "encoded missing padding", in: "?OTR:AAM.", wantErr: ErrMalformed},
		{name: "encoded non-canonical bits", in: "?OTR:AAN=.", wantErr: ErrMalformed},

		// Fragments are left to the fragment package.
		{name: "fragment v3", in: "?OTR|5a73a599|27e31597,00001,00003,?OTR:AAMDJ+MVmSfjFZcAAAAAAQAAAAIAAADA1g5IjD1ZGLDVQEyCgCyn9hbrL3KAbGDdzE2ZkMyTKl7XfkSxh8YJnudstiB74i4BzT0W2haClg6dMary/jo9sMudwmUdlnKpIGEKXWdvJKT+hQ26h9nzMgEditLB8v,", want: Envelope{Kind: KindFragment}},
		{name: "fragment v2", in: "?OTR,1,3,?OTR:AAED,", want: Envelope{Kind: KindFragment}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEnvelope(tc.in)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("ParseEnvelope(%q) error = %v, want %v", tc.in, err, tc.wantErr)
			}
			if err != nil {
				if got.Kind != KindPlaintext || got.Payload != nil || got.Text != "" {
					t.Errorf("ParseEnvelope(%q) returned %+v with an error", tc.in, got)
				}
				return
			}
			if got.Kind != tc.want.Kind || got.Versions != tc.want.Versions || got.Text != tc.want.Text ||
				!bytes.Equal(got.Payload, tc.want.Payload) || (got.Payload == nil) != (tc.want.Payload == nil) {
				t.Errorf("ParseEnvelope(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestQueryMessage(t *testing.T) {
	tests := []struct {
		v    Versions
		text string
		want string
	}{
		{V3, "", "?OTRv3?"},
		{V4, "", "?OTRv4?"},
		{V3 | V4, "", "?OTRv34?"},
		{V2 | V3 | V4, "", "?OTRv34?"},
		{V1 | V2, "", "?OTRv?"},
		{V3 | V4, "Please install OTR.", "?OTRv34?\nPlease install OTR."},
	}
	for _, tc := range tests {
		got := QueryMessage(tc.v, tc.text)
		if got != tc.want {
			t.Errorf("QueryMessage(%v, %q) = %q, want %q", tc.v, tc.text, got, tc.want)
		}
		env, err := ParseEnvelope(got)
		if err != nil || env.Kind != KindQuery || env.Versions != tc.v&(V3|V4) {
			t.Errorf("ParseEnvelope(QueryMessage(%v)) = %+v, %v", tc.v, env, err)
		}
	}
}

func TestWhitespaceTag(t *testing.T) {
	tests := []struct {
		v    Versions
		want string
	}{
		{V3, "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20" + "\x20\x20\x09\x09\x20\x20\x09\x09"},
		{V4, "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20" + "\x20\x20\x09\x09\x20\x09\x20\x20"},
		{V3 | V4, "\x20\x09\x20\x20\x09\x09\x09\x09\x20\x09\x20\x09\x20\x09\x20\x20" +
			"\x20\x20\x09\x09\x20\x20\x09\x09" + "\x20\x20\x09\x09\x20\x09\x20\x20"},
		{V2, ""},
		{0, ""},
	}
	for _, tc := range tests {
		got := WhitespaceTag(tc.v)
		if got != tc.want {
			t.Errorf("WhitespaceTag(%v) = %q, want %q", tc.v, got, tc.want)
		}
		if got == "" {
			continue
		}
		msg := "Hi Bob" + got + "!"
		env, err := ParseEnvelope(msg)
		if err != nil || env.Kind != KindPlaintext || env.Versions != tc.v || env.Text != "Hi Bob!" {
			t.Errorf("ParseEnvelope(%q) = %+v, %v", msg, env, err)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	msg := ErrorMessage("ERROR_2: Not in private state message")
	if want := "?OTR Error: ERROR_2: Not in private state message"; msg != want {
		t.Errorf("ErrorMessage() = %q, want %q", msg, want)
	}
	env, err := ParseEnvelope(msg)
	if err != nil || env.Kind != KindError || env.Text != "ERROR_2: Not in private state message" {
		t.Errorf("ParseEnvelope(%q) = %+v, %v", msg, env, err)
	}
}

func TestEncodeMessage(t *testing.T) {
	r := newRand(2)
	for n := range 40 {
		payload := randBytes(r, n)
		msg := EncodeMessage(payload)
		env, err := ParseEnvelope(msg)
		if err != nil || env.Kind != KindEncoded || !bytes.Equal(env.Payload, payload) {
			t.Fatalf("ParseEnvelope(EncodeMessage(%x)) = %+v, %v", payload, env, err)
		}
	}
	if got := EncodeMessage([]byte{0, 3, 3}); got != "?OTR:AAMD." {
		t.Errorf("EncodeMessage(000303) = %q", got)
	}
}

func TestVersionsAndKindString(t *testing.T) {
	if got := (V3 | V4).String(); got != "v3|v4" {
		t.Errorf("(V3|V4).String() = %q", got)
	}
	if got := Versions(0).String(); got != "none" {
		t.Errorf("Versions(0).String() = %q", got)
	}
	if !(V3 | V4).Has(4) || (V3 | V4).Has(2) || V1.Has(0) || V1.Has(8) {
		t.Errorf("Versions.Has is wrong")
	}
	for k, want := range map[Kind]string{KindPlaintext: "plaintext", KindQuery: "query", KindError: "error",
		KindEncoded: "encoded", KindFragment: "fragment", Kind(99): "unknown"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(k), got, want)
		}
	}
}
