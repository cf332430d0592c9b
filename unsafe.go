package otr

import "unsafe"

// Zero-copy views between strings and byte slices on the message path,
// where a 10 KiB message would otherwise be copied twice more. Each use
// keeps Go's rule that a string's bytes never change:

// readOnlyBytes views s as a byte slice that the caller only reads (the
// encryption copies it into the message it builds).
func readOnlyBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// ownedString views b as a string; b must be a buffer that nothing writes
// to afterwards (a decrypted message, made for this delivery alone).
func ownedString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
