// Package libotr reads and writes the files libotr 4.1.1 keeps for an
// account (the ones Pidgin's OTR plugin stores in ~/.purple), so that keys
// and trust move between a libotr client and a client built on otr in both
// directions:
//
//   - otr.private_key, the DSA keys: [ReadPrivateKeys], [WritePrivateKeys];
//   - otr.fingerprints, the contacts' fingerprints and their trust:
//     [ReadFingerprints], [WriteFingerprints]; the trust words map to
//     otr.Trust with [TrustFromWord] and [WordFromTrust] (an untrusted
//     fingerprint has an empty word: libotr trusts any other);
//   - otr.instance_tags, the accounts' OTR3 instance tags:
//     [ReadInstanceTags], [WriteInstanceTags].
//
// Readers are strict: a line or S-expression libotr would not have written
// is an error wrapping [ErrMalformed], never silently skipped as libotr
// does. Writers produce the bytes libotr itself writes for the same data.
//
// This package serves otr; its API may change.
package libotr

import "errors"

// ErrMalformed is wrapped by every error that a reader returns for input
// it cannot accept.
var ErrMalformed = errors.New("libotr: malformed file")
