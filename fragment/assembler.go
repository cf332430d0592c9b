package fragment

import (
	"container/list"
	"fmt"
	"strings"
	"sync/atomic"
)

// Default limits, as otr4j (2024) and otrr use them (attacks.md F1).
const (
	DefaultMaxFragment   = 250 << 10 // 250 KiB
	DefaultMaxMessage    = 100 << 20 // 100 MiB
	DefaultMaxIncomplete = 100
)

// Memory charged to a [Budget] besides the payload bytes, so that floods of
// tiny pieces or of new buffers are bounded too. They approximate the Go
// memory used by a stored piece (string header, map or slice slot) and by an
// empty buffer.
const (
	pieceOverhead  = 48
	bufferOverhead = 256
)

// Limits bounds the memory an [Assembler] uses. A zero or negative field
// means its default.
type Limits struct {
	// MaxFragment is the largest accepted piece, in bytes
	// (default [DefaultMaxFragment]).
	MaxFragment int
	// MaxMessage is the largest reassembled message, in bytes
	// (default [DefaultMaxMessage]).
	MaxMessage int
	// MaxIncomplete is the number of messages in reassembly an Assembler
	// keeps, OTR3 (one per sender instance tag) and OTRv4 (one per sender
	// and identifier) together (default [DefaultMaxIncomplete]). Beyond it
	// the least recently updated message is evicted.
	MaxIncomplete int
}

func (l Limits) withDefaults() Limits {
	if l.MaxFragment <= 0 {
		l.MaxFragment = DefaultMaxFragment
	}
	if l.MaxMessage <= 0 {
		l.MaxMessage = DefaultMaxMessage
	}
	if l.MaxIncomplete <= 0 {
		l.MaxIncomplete = DefaultMaxIncomplete
	}
	return l
}

// Budget caps the bytes buffered across many Assemblers, typically one
// Budget per account. It counts payload bytes plus a small fixed overhead
// per stored piece and per message in reassembly. A Budget is safe for
// concurrent use.
type Budget struct {
	max  int64
	used atomic.Int64
}

// NewBudget returns a Budget of limit bytes; a negative limit is treated
// as 0.
func NewBudget(limit int64) *Budget {
	return &Budget{max: max(limit, 0)}
}

// Used returns the bytes currently charged to b; 0 for a nil Budget.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	return b.used.Load()
}

// Max returns the size of b; 0 for a nil (unlimited) Budget.
func (b *Budget) Max() int64 {
	if b == nil {
		return 0
	}
	return b.max
}

// reserve charges n bytes to b if they fit. A nil Budget is unlimited.
func (b *Budget) reserve(n int64) bool {
	if b == nil {
		return true
	}
	for {
		u := b.used.Load()
		if n > b.max-u {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *Budget) release(n int64) {
	if b != nil {
		b.used.Add(-n)
	}
}

// key names one message in reassembly: OTR3 keeps one per sender instance
// tag (id is 0), OTRv4 one per sender and identifier.
type key struct {
	version uint8
	sender  uint32
	id      uint32
}

type buffer struct {
	key     key
	n       uint16
	last    uint16            // OTR3: K, the index of the last piece appended
	pieces  []string          // OTR3: pieces 1..last in order
	slots   map[uint16]string // OTRv4: pieces by index
	size    int               // payload bytes stored
	cost    int64             // bytes charged to the budget
	touched bool              // updated since the last Sweep
	elem    *list.Element
}

// Assembler reassembles the fragments received from one contact (one per
// session). It is not safe for concurrent use: the caller serialises calls,
// as the session lock does.
type Assembler struct {
	limits Limits
	budget *Budget
	bufs   map[key]*buffer
	lru    list.List // of *buffer, least recently updated first
	cost   int64     // sum of the buffers' cost
}

// NewAssembler returns an empty Assembler with limits l (zero fields take
// their defaults) charging its buffered bytes to b; a nil b is unlimited.
func NewAssembler(l Limits, b *Budget) *Assembler {
	a := &Assembler{limits: l.withDefaults(), budget: b, bufs: make(map[key]*buffer)}
	a.lru.Init()
	return a
}

// Add adds one fragment. When f completes a message, Add returns it with
// complete true; the message is no longer buffered.
//
// OTR3 fragments follow the OTR3 spec, "Receiving Fragments", per sender
// instance tag: k == 1 starts a new message (dropping the previous one),
// k == K+1 with the same n appends, anything else drops the buffered message
// and the fragment and returns ErrDiscarded. OTRv4 fragments are kept per
// (sender, identifier) in any order; a duplicate index is ignored (nil
// error), a changed total drops that message (ErrDiscarded).
//
// An illegal fragment returns ErrMalformed and changes nothing. A piece
// above MaxFragment, a message above MaxMessage or an exhausted Budget drops
// the affected message, releases its budget and returns ErrLimit.
// Add never checks instance tags against the local instance, and does not
// look at the reassembled message: the caller checks that it is an encoded
// "?OTR:" message of the fragment's version and never feeds it back into
// fragment handling (attacks.md F3).
func (a *Assembler) Add(f Fragment) (msg string, complete bool, err error) {
	if err := f.check(); err != nil {
		return "", false, err
	}
	k := key{version: uint8(f.Version), sender: f.Sender}
	if f.Version == 4 {
		k.id = f.ID
	}
	b := a.bufs[k]
	if len(f.Piece) > a.limits.MaxFragment {
		if b != nil {
			a.drop(b)
		}
		return "", false, fmt.Errorf("%w: fragment of %d bytes", ErrLimit, len(f.Piece))
	}
	if f.Version == 3 {
		return a.add3(k, b, f)
	}
	return a.add4(k, b, f)
}

// add3 follows the OTR3 spec, "Receiving Fragments".
func (a *Assembler) add3(k key, b *buffer, f Fragment) (string, bool, error) {
	switch {
	case f.K == 1:
		// "If k == 1: Forget any stored fragment you may have".
		if b != nil {
			a.drop(b)
		}
		if f.N == 1 {
			return a.single(f.Piece)
		}
		var err error
		if b, err = a.create(k, f.N); err != nil {
			return "", false, err
		}
	case b != nil && f.N == b.n && f.K == b.last+1:
		// "If n == N and k == K+1: Append (piece) to F."
	default:
		// "Otherwise: Forget any stored fragment you may have".
		if b != nil {
			a.drop(b)
		}
		return "", false, fmt.Errorf("%w: OTR3 fragment out of sequence", ErrDiscarded)
	}
	if err := a.charge(b, f.Piece); err != nil {
		return "", false, err
	}
	b.pieces = append(b.pieces, strings.Clone(f.Piece))
	b.last = f.K
	if f.K < f.N {
		return "", false, nil
	}
	msg := strings.Join(b.pieces, "")
	a.drop(b)
	return msg, true, nil
}

// add4 follows the OTRv4 spec, "Receiving Fragments".
func (a *Assembler) add4(k key, b *buffer, f Fragment) (string, bool, error) {
	if b != nil {
		if f.N != b.n {
			// "Otherwise: Forget any stored fragments of this buffer".
			a.drop(b)
			return "", false, fmt.Errorf("%w: OTRv4 fragment total changed", ErrDiscarded)
		}
		if _, dup := b.slots[f.K]; dup {
			// A filled slot is never overwritten (attacks.md F2).
			return "", false, nil
		}
	} else {
		if f.N == 1 {
			return a.single(f.Piece)
		}
		var err error
		if b, err = a.create(k, f.N); err != nil {
			return "", false, err
		}
		b.slots = make(map[uint16]string)
	}
	if err := a.charge(b, f.Piece); err != nil {
		return "", false, err
	}
	b.slots[f.K] = strings.Clone(f.Piece)
	if len(b.slots) < int(b.n) {
		return "", false, nil
	}
	var sb strings.Builder
	sb.Grow(b.size)
	for i := uint16(1); i <= b.n; i++ {
		sb.WriteString(b.slots[i])
	}
	a.drop(b)
	return sb.String(), true, nil
}

// single returns a message that came in one fragment (k == n == 1).
func (a *Assembler) single(piece string) (string, bool, error) {
	if len(piece) > a.limits.MaxMessage {
		return "", false, fmt.Errorf("%w: message above maximum size", ErrLimit)
	}
	return piece, true, nil
}

// create starts a new buffer, evicting the least recently updated one if
// MaxIncomplete are in reassembly.
func (a *Assembler) create(k key, n uint16) (*buffer, error) {
	for len(a.bufs) >= a.limits.MaxIncomplete {
		a.drop(a.lru.Front().Value.(*buffer))
	}
	if !a.budget.reserve(bufferOverhead) {
		return nil, fmt.Errorf("%w: fragment budget exhausted", ErrLimit)
	}
	b := &buffer{key: k, n: n, cost: bufferOverhead, touched: true}
	b.elem = a.lru.PushBack(b)
	a.bufs[k] = b
	a.cost += bufferOverhead
	return b, nil
}

// charge accounts for storing piece in b, or drops b if a limit forbids it.
// Limits are checked before anything is appended (attacks.md F1).
func (a *Assembler) charge(b *buffer, piece string) error {
	if len(piece) > a.limits.MaxMessage-b.size {
		a.drop(b)
		return fmt.Errorf("%w: message above maximum size", ErrLimit)
	}
	c := int64(len(piece)) + pieceOverhead
	if !a.budget.reserve(c) {
		a.drop(b)
		return fmt.Errorf("%w: fragment budget exhausted", ErrLimit)
	}
	b.size += len(piece)
	b.cost += c
	a.cost += c
	b.touched = true
	a.lru.MoveToBack(b.elem)
	return nil
}

// drop forgets b and releases its budget.
func (a *Assembler) drop(b *buffer) {
	a.lru.Remove(b.elem)
	delete(a.bufs, b.key)
	a.budget.release(b.cost)
	a.cost -= b.cost
	*b = buffer{}
}

// Reset drops every buffered message, releasing its budget.
func (a *Assembler) Reset() {
	for _, b := range a.bufs {
		a.drop(b)
	}
}

// ResetOTR3 drops the OTR3 messages in reassembly. The OTR3 spec asks for
// this when a non-OTR or unfragmented message arrives; OTRv4 keeps its
// buffers then, so they are left alone.
func (a *Assembler) ResetOTR3() {
	for k, b := range a.bufs {
		if k.version == 3 {
			a.drop(b)
		}
	}
}

// Sweep drops the messages that received no fragment since the previous
// call to Sweep and returns how many it dropped. Calling it every period p
// bounds the life of an incomplete message to between p and 2p (OTRv4 spec,
// "Receiving Fragments": the optional reassembly timer), without the
// Assembler reading a clock.
func (a *Assembler) Sweep() int {
	dropped := 0
	for _, b := range a.bufs {
		if !b.touched {
			a.drop(b)
			dropped++
			continue
		}
		b.touched = false
	}
	return dropped
}

// Incomplete returns the number of messages in reassembly.
func (a *Assembler) Incomplete() int { return len(a.bufs) }

// Buffered returns the bytes a charges to its Budget (payload plus overhead).
func (a *Assembler) Buffered() int64 { return a.cost }
