//go:build unix && !aix

package filehost

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockDir opens (creating) dir's lock file and locks it exclusively with
// flock(2), without waiting. A flock lock belongs to the open file, so a
// second Open in the same process conflicts too, and it ends with the
// process. The holder's process id is written into the file for the error
// another opener sees.
func lockDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("filehost: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			break
		}
	}
	if errors.Is(err, unix.EWOULDBLOCK) {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf(" (by process %d)", pid)
			}
		}
		f.Close()
		return nil, fmt.Errorf("%w: %s is open in another Host%s", ErrLocked, dir, holder)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("filehost: locking %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

// unlockDir releases the lock taken by lockDir.
func unlockDir(f *os.File) error {
	// The holder's id goes first, while the lock is still held.
	f.Truncate(0)
	err := unix.Flock(int(f.Fd()), unix.LOCK_UN)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("filehost: unlocking: %w", err)
	}
	return nil
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// checkDir refuses a directory that other users may write to: they could
// replace the files in it.
func checkDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("filehost: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("filehost: %s is not a directory", dir)
	}
	if m := fi.Mode().Perm(); m&0o022 != 0 {
		return fmt.Errorf("filehost: %s may be written by other users (mode %#o); make it 0700", dir, m)
	}
	return nil
}
