package smp

import (
	"errors"
)

type failingReader4 struct{}

var errTestRand4 = errors.New("test: no randomness")

func (failingReader4) Read([]byte) (int, error) { return 0, errTestRand4 }
