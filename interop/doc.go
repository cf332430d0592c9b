// Package interop holds the interoperability tests and benchmarks of otr
// against libotr 4.1.1, driven through cgo by package libotrpeer. It serves
// otr's tests only; it has no API.
//
// Run with: cd interop && go test ./... (libotr and its headers must be
// installed; without them the build fails, it does not skip).
package interop
