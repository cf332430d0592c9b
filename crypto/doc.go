// Package crypto holds the cryptographic primitives of the otr module: the
// OTR3 building blocks (DSA-1024/160 long-term keys, the 1536-bit
// Diffie-Hellman group, AES-128-CTR, HMAC, the Socialist Millionaires'
// Protocol group arithmetic) and the OTRv4 ones (Ed448, its KDF, the 3072-bit
// group, ring signatures).
//
// It serves the packages of github.com/otrgo/otr; its API may change in any
// release. It is the only package of the module that uses math/big or circl,
// and none of its exported names expose a *big.Int or a circl type: values
// cross the API as big-endian (OTR3) or little-endian (Ed448) byte strings and
// fixed-size types.
//
// # Constant time
//
// Every operation that involves a secret (a DSA private key or nonce, a
// Diffie-Hellman exponent, an SMP exponent or secret) uses
// filippo.io/bigmod or, for exponentiations, the internal package mont
// (Montgomery arithmetic with a dedicated squaring, generated amd64
// assembly with a portable fallback): neither branches on nor indexes
// memory by the values it handles. math/big is variable-time and is used only
// where every operand is public: checking a received value's range or
// subgroup membership, verifying a signature, generating DSA domain
// parameters. The encoding of a result as a minimal MPI (without leading zero
// bytes) reveals its length, as the OTR3 wire format requires.
//
// bigmod keeps scratch copies of exponentiation tables that this package
// cannot clear; Wipe methods clear every buffer the package owns.
package crypto
