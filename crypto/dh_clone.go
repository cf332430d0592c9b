package crypto

// Clone returns an independent copy of k, secret included. The OTR3 AKE
// gives each instance that answers one D-H Commit its own copy, as libotr
// does; each copy is wiped on its own.
func (k *DHPrivateKey) Clone() *DHPrivateKey {
	return &DHPrivateKey{x: k.x, pub: append([]byte(nil), k.pub...)}
}
