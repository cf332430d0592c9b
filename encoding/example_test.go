package encoding_test

import (
	"fmt"

	"github.com/otrgo/otr/encoding"
)

func ExampleParseEnvelope() {
	for _, msg := range []string{
		"?OTRv34?",
		"Hello" + encoding.WhitespaceTag(encoding.V3|encoding.V4),
		"?OTR Error: ERROR_1: Unreadable message",
		encoding.EncodeMessage([]byte{0, 3, 0x0a}),
	} {
		env, err := encoding.ParseEnvelope(msg)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("%v %v text=%q payload=%x\n", env.Kind, env.Versions, env.Text, env.Payload)
	}
	// Output:
	// query v3|v4 text="" payload=
	// plaintext v3|v4 text="Hello" payload=
	// error none text="ERROR_1: Unreadable message" payload=
	// encoded none text="" payload=00030a
}
