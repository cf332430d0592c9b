//go:build windows

package filehost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
)

// lockDir opens (creating) dir's lock file and locks its first byte
// exclusively with LockFileEx, without waiting. The lock belongs to the
// handle, so a second Open in the same process conflicts too, and it ends
// with the process.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filehost: %w", err)
	}
	var ol windows.Overlapped
	err = windows.LockFileEx(windows.Handle(f.Fd()),
		windows.LOCKFILE_EXCLUSIVE_LOCK|windows.LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &ol)
	if errors.Is(err, windows.ERROR_LOCK_VIOLATION) {
		f.Close()
		return nil, fmt.Errorf("%w: %s is open in another Host", ErrLocked, dir)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("filehost: locking %s: %w", path, err)
	}
	return f, nil
}

// unlockDir releases the lock taken by lockDir.
func unlockDir(f *os.File) error {
	var ol windows.Overlapped
	err := windows.UnlockFileEx(windows.Handle(f.Fd()), 0, 1, 0, &ol)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("filehost: unlocking: %w", err)
	}
	return nil
}

// syncDir does nothing: Windows cannot sync a directory handle opened by
// package os, and NTFS journals the rename itself.
func syncDir(string) error { return nil }

// checkDir checks that dir is a directory; its access is Windows' ACLs'
// business.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("filehost: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("filehost: %s is not a directory", dir)
	}
	return nil
}
