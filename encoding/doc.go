// Package encoding holds the OTR wire data types, the text envelopes (query
// messages, whitespace tags, error messages, "?OTR:" encoded messages), the
// OTR3 protocol message structures and the TLV records carried inside data
// messages.
//
// It serves the otr package (github.com/otrgo/otr) and its subpackages; its API
// may change. The package keeps no state and does no cryptography: DSA and DH
// values are raw big-endian byte slices of minimal length here, validated as
// group elements by the packages that use them.
//
// Every parser is strict and symmetric with its marshaler: it consumes exactly
// its input, rejects non-minimal MPIs, resets its receiver first and never
// leaves a partial value behind. Every parse error wraps [ErrMalformed].
// Parsed byte slices are fresh copies that never alias the input (except the
// body ParseHeader returns). All functions are safe for concurrent use.
package encoding
