//go:build purego || !amd64

package mont

// useAssembly is false: there are no kernels for this platform.
var useAssembly = false

// haveKernels returns false: the portable code serves every size.
func haveKernels(int) bool { return false }

func mulAsm(n int, z, t, x, y, m *uint64, m0inv uint64) {
	panic("otr: internal error: mont has no assembly here")
}

func sqrAsm(n int, z, t, x, m *uint64, m0inv uint64) {
	panic("otr: internal error: mont has no assembly here")
}
