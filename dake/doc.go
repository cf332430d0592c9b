// Package dake implements the OTRv4 interactive Deniable Authenticated Key
// Exchange and the client profiles it carries (OTRv4 spec, "Client Profile"
// and "Interactive Deniable Authenticated Key Exchange (DAKE)").
//
// It serves the otr package (github.com/otrgo/otr); its API may change. It is
// sans-IO: it never reads the clock (callers pass now) and takes randomness
// only from an io.Reader passed in.
package dake
