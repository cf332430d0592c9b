package libotrpeer

import (
	"strings"
	"testing"
)

// node is one Peer on the test network, known to others by its account.
type node struct {
	name string
	p    *Peer
	got  []Received // deliveries (Delivered only), in order
}

// network delivers every message a node emits to every node of another
// name (so two Peers of one account both see what is sent to the account,
// as with XMPP without resources), until nothing is left.
type network struct {
	t     testing.TB
	nodes []*node
	wires []string // every message sent, in order
}

type packet struct {
	from *node
	wire string
}

func (n *network) add(name string, p *Peer) *node {
	nd := &node{name: name, p: p}
	n.nodes = append(n.nodes, nd)
	return nd
}

// deliver sends msgs from a node and runs the network until it is quiet.
func (n *network) deliver(from *node, msgs []string) {
	n.t.Helper()
	queue := make([]packet, 0, len(msgs))
	for _, m := range msgs {
		queue = append(queue, packet{from, m})
	}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 10000 {
			n.t.Fatalf("network does not settle; next message %.60q", queue[0].wire)
		}
		pk := queue[0]
		queue = queue[1:]
		n.wires = append(n.wires, pk.wire)
		for _, to := range n.nodes {
			if to.name == pk.from.name {
				continue
			}
			r, err := to.p.Receive(pk.from.name, pk.wire)
			if err != nil {
				n.t.Fatalf("%s.Receive: %v", to.name, err)
			}
			if r.Delivered {
				to.got = append(to.got, r)
			}
			for _, m := range r.Inject {
				queue = append(queue, packet{to, m})
			}
		}
	}
}

// send is from.p.Send(to, text) followed by deliver.
func (n *network) send(from *node, to, text string) {
	n.t.Helper()
	msgs, err := from.p.Send(to, text)
	if err != nil {
		n.t.Fatalf("%s.Send: %v", from.name, err)
	}
	n.deliver(from, msgs)
}

// take returns and forgets the node's deliveries.
func (nd *node) take() []Received {
	g := nd.got
	nd.got = nil
	return g
}

func newPeer(t testing.TB, o Options) *Peer {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	t.Cleanup(p.Close)
	return p
}

// pair returns a network with alice and bob, not yet talking.
func pair(t testing.TB, ao, bo Options) (*network, *node, *node) {
	t.Helper()
	ao.Account, bo.Account = "alice@example.org", "bob@example.org"
	n := &network{t: t}
	a := n.add(ao.Account, newPeer(t, ao))
	b := n.add(bo.Account, newPeer(t, bo))
	return n, a, b
}

// secure runs an AKE started by a query from a and checks both ends.
func secure(t testing.TB, n *network, a, b *node) {
	t.Helper()
	n.deliver(a, []string{a.p.Query()})
	if !a.p.Secure(b.name) || !b.p.Secure(a.name) {
		t.Fatalf("after the AKE: secure = %v, %v; want true, true", a.p.Secure(b.name), b.p.Secure(a.name))
	}
	a.take()
	b.take()
}

func hasEvent(evs []Event, match func(Event) bool) bool {
	for _, e := range evs {
		if match(e) {
			return true
		}
	}
	return false
}

func containsQuery(s string) bool { return strings.Contains(s, "?OTRv") }
