package libotrpeer

/*
#include "shim.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// The functions below are called by libotr (through shim.c) while a Peer
// method holds lib, on that method's goroutine.

func peerOf(h C.uintptr_t) *Peer { return cgo.Handle(h).Value().(*Peer) }

//export libotrpeerPolicy
func libotrpeerPolicy(h C.uintptr_t) C.uint {
	return C.uint(peerOf(h).opts.Policy)
}

//export libotrpeerMaxMessageSize
func libotrpeerMaxMessageSize(h C.uintptr_t) C.int {
	return C.int(peerOf(h).opts.MaxMessageSize)
}

//export libotrpeerInject
func libotrpeerInject(h C.uintptr_t, recipient, msg *C.char) {
	p := peerOf(h)
	// An empty message (libotr "sends" one in the FINISHED state) is
	// nothing a transport would deliver.
	if s := C.GoString(msg); s != "" {
		p.out = append(p.out, s)
	}
}

//export libotrpeerDecrypted
func libotrpeerDecrypted(h C.uintptr_t) {
	peerOf(h).decrypted = true
}

//export libotrpeerEvent
func libotrpeerEvent(h C.uintptr_t, ev *C.peer_event) {
	p := peerOf(h)
	e := Event{Kind: EventKind(ev.kind), Instance: uint32(ev.their_instance)}
	if ev.username != nil {
		e.Contact = C.GoString(ev.username)
	}
	if ev.text != nil {
		e.Text = C.GoString(ev.text)
	}
	switch e.Kind {
	case EventMessage:
		e.Msg = MsgEvent(ev.code)
		e.Err = uint32(ev.err)
	case EventSMP:
		e.SMP = SMPEvent(ev.code)
		e.Done = int(ev.progress)
	case EventStillSecure:
		e.IsReply = ev.is_reply != 0
	case EventSymKey:
		e.Use = uint32(ev.use)
		if ev.datalen > 0 {
			e.UseData = C.GoBytes(unsafe.Pointer(ev.data), C.int(ev.datalen))
		}
		if ev.key != nil {
			copy(e.Key[:], C.GoBytes(unsafe.Pointer(ev.key), 32))
		}
	}
	p.events = append(p.events, e)
}
