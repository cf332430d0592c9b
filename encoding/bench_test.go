package encoding

import "testing"

func BenchmarkParseEnvelope(b *testing.B) {
	r := newRand(8)
	msg := EncodeMessage(randBytes(r, 1000))
	for b.Loop() {
		if _, err := ParseEnvelope(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDataMessageUnmarshal(b *testing.B) {
	r := newRand(9)
	in := marshalBody(&DataMessage{SenderKeyID: 1, RecipientKeyID: 1, NextDH: randMPI(r, 192),
		EncryptedMessage: randBytes(r, 500), OldMACKeys: randBytes(r, 40)})
	var m DataMessage
	for b.Loop() {
		if err := m.Unmarshal(in); err != nil {
			b.Fatal(err)
		}
	}
}
