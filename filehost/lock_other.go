//go:build !windows && (!unix || aix)

package filehost

import (
	"fmt"
	"os"
	"runtime"
)

// lockDir fails: without a file lock, two processes could share the
// directory and its instance tag.
func lockDir(string) (*os.File, error) {
	return nil, fmt.Errorf("filehost: no file locking on %s: a Host cannot be opened", runtime.GOOS)
}

func unlockDir(f *os.File) error { return f.Close() }

func syncDir(string) error { return nil }

func checkDir(string) error { return nil }
