// Package dake implements the OTRv4 Deniable Authenticated Key Exchanges
// and what they carry: the interactive DAKE with client profiles (OTRv4
// spec, "Client Profile", "Interactive Deniable Authenticated Key Exchange
// (DAKE)") and the non-interactive one with prekey profiles, prekey
// messages and prekey ensembles ("Prekey Profile", "Non-interactive Deniable
// Authenticated Key Exchange (DAKE)"; the repository's docs/offline.md).
//
// It serves the otr package (github.com/otrgo/otr); its API may change. It is
// sans-IO: it never reads the clock (callers pass now) and takes randomness
// only from an io.Reader passed in.
package dake
