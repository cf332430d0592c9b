// Package libotrpeer drives the C library libotr 4.1.1 from Go through cgo,
// so that tests and benchmarks of otr can talk to the reference OTR3 peer
// in one process. It serves the interop tests of otr; its API may change.
//
// A [Peer] is one libotr OtrlUserState with one account. Its methods take
// and return wire messages as strings; nothing touches a network. Whatever
// libotr would send (the inject_message callback: AKE replies, fragments,
// SMP steps, the disconnect notice) is returned to the caller, in order,
// as messages to deliver to the contact.
//
// libotr reads the wall clock itself (heartbeats after 60 seconds without
// sending, resending a stored message within 60 seconds): long pauses
// between calls can change what a Peer emits. [Peer.AgeLastSent] moves
// its record of the last send back, to reach the heartbeat without waiting.
package libotrpeer
