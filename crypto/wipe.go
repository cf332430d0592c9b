package crypto

// Wipe sets every byte of b to zero. Callers use it for temporary secrets,
// typically as defer Wipe(buf). A nil or empty b is fine.
func Wipe(b []byte) {
	clear(b)
}
