package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	otrencoding "github.com/otrgo/otr/encoding"
)

// A record is what parse prints for one message: named fields in a fixed
// order. Text output is one "label: value" line per field (the label is
// the name with spaces for underscores and initialisms in capitals),
// nested records indented under their label; JSON output is one object,
// its members named and ordered as the fields.
type record struct {
	fields []field
}

type field struct {
	name  string
	value any
}

// The value types a field may hold, besides nil (absent), string, bool,
// int, uint64, []int, *record and []hexBytes. A string is text
// the tool itself chose (a name, a date); text from a message is quoted.
type (
	// hexBytes is binary data: lower-case hex, with its length in text.
	hexBytes []byte
	// tag is an instance tag or fragment identifier: 8 hex digits.
	tag uint32
	// flags is a data message's flag byte: a number in JSON, hex and
	// names in text.
	flags uint8
	// quoted is text from a message: quoted in text output, so that
	// control characters and white space stay visible.
	quoted string
)

func (r *record) add(name string, v any) *record {
	r.fields = append(r.fields, field{name, v})
	return r
}

// MarshalJSON writes r as one JSON object, fields in order.
func (r *record) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, f := range r.fields {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(f.name)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		v, err := json.Marshal(f.value)
		if err != nil {
			return nil, err
		}
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (h hexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(h)) }
func (t tag) MarshalJSON() ([]byte, error)      { return json.Marshal(t.String()) }
func (f flags) MarshalJSON() ([]byte, error)    { return json.Marshal(uint8(f)) }

func (t tag) String() string { return fmt.Sprintf("%08x", uint32(t)) }

// String returns the flag byte in hex, with the names of the flags set
// (IGNORE_UNREADABLE is the only one both versions define).
func (f flags) String() string {
	if f&otrencoding.FlagIgnoreUnreadable != 0 {
		return fmt.Sprintf("0x%02x IGNORE_UNREADABLE", uint8(f))
	}
	return fmt.Sprintf("0x%02x", uint8(f))
}

// writeText writes r's fields as "name: value" lines, each prefixed by
// indent.
func (r *record) writeText(w io.Writer, indent string) {
	for _, f := range r.fields {
		label := indent + textLabel(f.name)
		switch v := f.value.(type) {
		case *record:
			fmt.Fprintf(w, "%s:\n", label)
			v.writeText(w, indent+"  ")
		case []int:
			s := make([]string, len(v))
			for i, n := range v {
				s[i] = strconv.Itoa(n)
			}
			fmt.Fprintf(w, "%s: %s\n", label, strings.Join(s, ", "))
		case []hexBytes:
			fmt.Fprintf(w, "%s: %d\n", label, len(v))
			for i, h := range v {
				fmt.Fprintf(w, "%s  [%d]: %s\n", indent, i, textValue(h))
			}
		default:
			fmt.Fprintf(w, "%s: %s\n", label, textValue(v))
		}
	}
}

// textLabel turns a field name into its label in text output: words
// separated by spaces, initialisms in capitals.
func textLabel(name string) string {
	words := strings.Split(name, "_")
	for i, w := range words {
		switch w {
		case "mac", "dh", "ecdh", "dsa", "id":
			words[i] = strings.ToUpper(w)
		case "otr3":
			words[i] = "OTR3"
		case "otrv4":
			words[i] = "OTRv4"
		case "gx":
			words[i] = "g^x"
		case "gy":
			words[i] = "g^y"
		}
	}
	return strings.Join(words, " ")
}

// textValue formats a scalar field value for text output.
func textValue(v any) string {
	switch v := v.(type) {
	case nil:
		return "none"
	case hexBytes:
		if len(v) == 0 {
			return "(empty)"
		}
		return fmt.Sprintf("%x (%d bytes)", []byte(v), len(v))
	case quoted:
		return strconv.Quote(string(v))
	case string:
		return v
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}
