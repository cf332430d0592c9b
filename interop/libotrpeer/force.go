package libotrpeer

/*
#include <libotr/proto.h>
#include <libotr/context.h>
*/
import "C"

// ForcePlaintext drops every session with the contact without notice
// (libotr's otrl_context_force_plaintext), keeping the contexts: as a
// client that lost its session state but still knows the contact's
// instances. A data message from the contact is then answered with an
// OTR error message.
func (p *Peer) ForcePlaintext(contact string) {
	lib.Lock()
	defer lib.Unlock()
	if p.us == nil {
		return
	}
	m := p.find(contact, InstanceMaster)
	for c := m; c != nil && c.m_context == m; c = c.next {
		C.otrl_context_force_plaintext(c)
	}
}
