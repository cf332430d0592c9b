//go:build !purego

package mont

import "golang.org/x/sys/cpu"

//go:generate go run asm_gen.go -out mont_amd64.s

//go:noescape
func mul16(t, x, y *uint64)

//go:noescape
func sqr16(t, x *uint64)

//go:noescape
func redc16(t, m *uint64, m0inv uint64) uint64

//go:noescape
func mul24(t, x, y *uint64)

//go:noescape
func sqr24(t, x *uint64)

//go:noescape
func redc24(t, m *uint64, m0inv uint64) uint64

//go:noescape
func mul48(t, x, y *uint64)

//go:noescape
func sqr48(t, x *uint64)

//go:noescape
func redc48(t, m *uint64, m0inv uint64) uint64

// useAssembly is whether the CPU has the instructions the kernels use; a
// test turns it off to run the portable code.
var useAssembly = cpu.X86.HasADX && cpu.X86.HasBMI2

// haveKernels reports whether there are assembly kernels for n limbs.
func haveKernels(n int) bool {
	return useAssembly && (n == 16 || n == 24 || n == 48)
}

// mulAsm sets t = x·y and reduces it (see redcGeneric); called directly,
// not through function values, so that t stays on the caller's stack.
func mulAsm(n int, t, x, y, m *uint64, m0inv uint64) uint64 {
	switch n {
	case 16:
		mul16(t, x, y)
		return redc16(t, m, m0inv)
	case 24:
		mul24(t, x, y)
		return redc24(t, m, m0inv)
	default:
		mul48(t, x, y)
		return redc48(t, m, m0inv)
	}
}

// sqrAsm sets t = x² and reduces it.
func sqrAsm(n int, t, x, m *uint64, m0inv uint64) uint64 {
	switch n {
	case 16:
		sqr16(t, x)
		return redc16(t, m, m0inv)
	case 24:
		sqr24(t, x)
		return redc24(t, m, m0inv)
	default:
		sqr48(t, x)
		return redc48(t, m, m0inv)
	}
}
