package filehost

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/libotr"
)

// Names of libotr's files, as Pidgin keeps them in ~/.purple.
const (
	LibotrKeysFile         = "otr.private_key"
	LibotrFingerprintsFile = "otr.fingerprints"
	LibotrInstanceTagsFile = "otr.instance_tags"
)

// purpleAccounts is the accounts file of libpurple's configuration
// directory (Pidgin's ~/.purple): ExportLibotr never writes next to it.
const purpleAccounts = "accounts.xml"

// LibotrAccount names one account in libotr's files: their account and
// protocol columns. libotr's files hold every account of a client; a Host
// holds one.
type LibotrAccount struct {
	// Account is libotr's account name, e.g. "alice@example.org".
	Account string
	// Protocol is the client's protocol identifier, e.g. Pidgin's
	// "prpl-jabber".
	Protocol string
}

// ImportReport says what [Host.ImportLibotr] took over.
type ImportReport struct {
	// Keys: the account's DSA key was stored, with new OTRv4 keys.
	Keys bool
	// InstanceTag: the account's instance tag was stored.
	InstanceTag bool
	// Fingerprints counts the contacts' fingerprints stored: new ones, and
	// known ones whose trust libotr's file raised.
	Fingerprints int
}

// ImportLibotr takes over acct's key, instance tag and contacts'
// fingerprints from libotr's files in dir (otr.private_key,
// otr.instance_tags, otr.fingerprints; any may be absent). It only reads
// dir. Import while the libotr client is not running: libotr rewrites its
// files in place, and a file read meanwhile is refused if cut inside a
// line or S-expression, but may lack its last lines.
//
//   - The DSA key becomes the Host's keys, with OTRv4 keys generated
//     beside it (from [Options.Rand]). If the Host already holds keys, they
//     must have the same DSA key.
//   - The instance tag becomes the Host's; if the Host has one already, it
//     must be the same. Import the tag only when the Host replaces the
//     libotr client for the account: one client location, one tag.
//   - Each fingerprint is stored for its contact (libotr's username
//     column) with the trust [libotr.TrustFromWord] gives: the empty word
//     is [otr.Untrusted], "smp" [otr.SMPVerified], "verified" and any other
//     word [otr.Verified], since libotr trusts any word. A fingerprint the
//     Host knows keeps its trust unless it is Untrusted and libotr's is
//     not.
//
// Nothing is stored if a file is malformed, holds nothing for acct, or
// conflicts (an error wrapping [ErrConflict]). The files are written one
// at a time: after an error while writing, import again.
func (h *Host) ImportLibotr(dir string, acct LibotrAccount) (ImportReport, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ImportReport{}, ErrClosed
	}
	var (
		rep   ImportReport
		found bool
		key   *otr.PrivateKeys
		tag   uint32
		fps   []libotr.Fingerprint
	)
	defer func() {
		if key != nil {
			key.Wipe()
		}
	}()
	missing := 0
	err := readLibotr(dir, LibotrKeysFile, &missing, func(f io.Reader) error {
		keys, err := libotr.ReadPrivateKeys(f)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k.Account == acct.Account && k.Protocol == acct.Protocol {
				key = k.Keys
				found = true
			} else {
				k.Keys.Wipe()
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	err = readLibotr(dir, LibotrInstanceTagsFile, &missing, func(f io.Reader) error {
		tags, err := libotr.ReadInstanceTags(f)
		if err != nil {
			return err
		}
		for _, t := range tags {
			if t.Account == acct.Account && t.Protocol == acct.Protocol {
				tag = t.Tag
				found = true
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	err = readLibotr(dir, LibotrFingerprintsFile, &missing, func(f io.Reader) error {
		all, err := libotr.ReadFingerprints(f)
		if err != nil {
			return err
		}
		for _, fp := range all {
			if fp.Account == acct.Account && fp.Protocol == acct.Protocol {
				if err := checkContact(fp.Username); err != nil {
					return fmt.Errorf("contact %q: %w", fp.Username, err)
				}
				fps = append(fps, fp)
				found = true
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	if missing == 3 {
		return rep, fmt.Errorf("filehost: no libotr files (%s, %s, %s) in %s",
			LibotrKeysFile, LibotrInstanceTagsFile, LibotrFingerprintsFile, dir)
	}
	if !found {
		return rep, fmt.Errorf("filehost: libotr's files in %s hold nothing for account %q, protocol %q",
			dir, acct.Account, acct.Protocol)
	}

	// Check everything before writing anything.
	var newKeys *otr.PrivateKeys
	if key != nil {
		have, err := h.keys()
		switch {
		case errors.Is(err, ErrNoKeys):
			newKeys = key
			key = nil
			if err := newKeys.AddV4(h.rand); err != nil {
				newKeys.Wipe()
				return rep, fmt.Errorf("filehost: generating OTRv4 keys: %w", err)
			}
			defer newKeys.Wipe()
		case err != nil:
			return rep, err
		default:
			same := bytes.Equal(have.Fingerprint(), key.Fingerprint())
			have.Wipe()
			if !same {
				return rep, fmt.Errorf("%w: the directory holds other keys than libotr's %s for %q, %q",
					ErrConflict, key.Fingerprint(), acct.Account, acct.Protocol)
			}
		}
	}
	if tag != 0 && h.tag != 0 && tag != h.tag {
		return rep, fmt.Errorf("%w: instance tag %08x, libotr's is %08x", ErrConflict, h.tag, tag)
	}
	change := make(map[string][]otr.KnownFingerprint)
	for _, fp := range fps {
		list, ok := change[fp.Username]
		if !ok {
			list = cloneKnown(h.trust[fp.Username])
		}
		t := libotr.TrustFromWord(fp.Trust)
		i := slices.IndexFunc(list, func(k otr.KnownFingerprint) bool { return bytes.Equal(k.Fingerprint, fp.Fingerprint) })
		switch {
		case i < 0:
			list = append(list, otr.KnownFingerprint{Fingerprint: bytes.Clone(fp.Fingerprint), Trust: t})
			rep.Fingerprints++
		case list[i].Trust == otr.Untrusted && t != otr.Untrusted:
			list[i].Trust = t
			rep.Fingerprints++
		}
		change[fp.Username] = list
	}

	if newKeys != nil {
		if err := h.setKeys(newKeys); err != nil {
			return rep, err
		}
		rep.Keys = true
	}
	if tag != 0 && h.tag == 0 {
		// A client profile names its instance tag: one stored without a
		// tag is dropped with the change.
		if err := h.writeAccount(tag, nil); err != nil {
			return rep, err
		}
		rep.InstanceTag = true
	}
	if rep.Fingerprints > 0 {
		if err := h.writeTrust(change); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// maxLibotrFile bounds what ImportLibotr reads of each of libotr's files.
const maxLibotrFile = 16 << 20

// readLibotr reads libotr's file name in dir and gives it to read; an
// absent file is counted in missing. Errors name the file.
//
// libotr ends every line it writes with a line end, and package libotr
// reads a last line without one (a hand edit); here such a file is
// refused as truncated: the import may race with a libotr client
// rewriting the file.
func readLibotr(dir, name string, missing *int, read func(io.Reader) error) error {
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		*missing++
		return nil
	}
	if err != nil {
		return fmt.Errorf("filehost: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxLibotrFile+1))
	defer clear(b)
	if err != nil {
		return fmt.Errorf("filehost: %w", err)
	}
	if len(b) > maxLibotrFile {
		return fmt.Errorf("filehost: %s: %w: larger than %d bytes", path, libotr.ErrMalformed, maxLibotrFile)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return fmt.Errorf("filehost: %s: %w: truncated (no line end at the end)", path, libotr.ErrMalformed)
	}
	if err := read(bytes.NewReader(b)); err != nil {
		return fmt.Errorf("filehost: %s: %w", path, err)
	}
	return nil
}

// ExportLibotr writes the Host's OTR3 state for libotr into dir, as the
// account acct: otr.private_key with the DSA key (if the keys have one),
// otr.instance_tags with the instance tag (if there is one), and
// otr.fingerprints with every contact's OTR3 fingerprint (libotr has no
// place for OTRv4 ones), each with the trust word [libotr.WordFromTrust]
// gives: the empty field for [otr.Untrusted], "verified", "smp".
//
// dir is created (mode 0700) if missing. ExportLibotr never writes into
// the files of a running libotr client: it refuses a dir that holds any
// of libotr's three files or a libpurple accounts.xml (Pidgin's
// ~/.purple), and creates each file new (mode 0600), failing rather than
// replacing one that appears meanwhile. Move the files to the libotr
// client's directory while it is not running; to merge them with another
// account's, use package libotr. A failed export may leave some of the
// files written: remove them and export again.
func (h *Host) ExportLibotr(dir string, acct LibotrAccount) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lock == nil {
		return ErrClosed
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("filehost: %w", err)
	}
	for _, name := range []string{LibotrKeysFile, LibotrInstanceTagsFile, LibotrFingerprintsFile, purpleAccounts} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !errors.Is(err, fs.ErrNotExist) {
			if err == nil {
				return fmt.Errorf("filehost: %s exists: export into a new directory, never into one a libotr client uses", filepath.Join(dir, name))
			}
			return fmt.Errorf("filehost: %w", err)
		}
	}

	// Make every file's content first: a bad name fails before anything
	// is written.
	type file struct {
		name string
		data []byte
	}
	var files []file
	defer func() {
		for _, f := range files {
			clear(f.data)
		}
	}()
	keys, err := h.keys()
	switch {
	case errors.Is(err, ErrNoKeys):
	case err != nil:
		return err
	default:
		defer keys.Wipe()
		if keys.Fingerprint() != nil {
			var b bytes.Buffer
			if err := libotr.WritePrivateKeys(&b, []libotr.PrivateKey{{Account: acct.Account, Protocol: acct.Protocol, Keys: keys}}); err != nil {
				return fmt.Errorf("filehost: %w", err)
			}
			files = append(files, file{LibotrKeysFile, b.Bytes()})
		}
	}
	if h.tag != 0 {
		var b bytes.Buffer
		if err := libotr.WriteInstanceTags(&b, []libotr.InstanceTag{{Account: acct.Account, Protocol: acct.Protocol, Tag: h.tag}}); err != nil {
			return fmt.Errorf("filehost: %w", err)
		}
		files = append(files, file{LibotrInstanceTagsFile, b.Bytes()})
	}
	var fps []libotr.Fingerprint
	for _, c := range slices.Sorted(maps.Keys(h.trust)) {
		for _, k := range h.trust[c] {
			if k.Fingerprint.Version() != 3 {
				continue
			}
			word, err := libotr.WordFromTrust(k.Trust)
			if err != nil {
				return fmt.Errorf("filehost: contact %q: %w", c, err)
			}
			fps = append(fps, libotr.Fingerprint{Username: c, Account: acct.Account, Protocol: acct.Protocol,
				Fingerprint: k.Fingerprint, Trust: word})
		}
	}
	var b bytes.Buffer
	if err := libotr.WriteFingerprints(&b, fps); err != nil {
		return fmt.Errorf("filehost: %w", err)
	}
	files = append(files, file{LibotrFingerprintsFile, b.Bytes()})

	for _, f := range files {
		if err := writeNew(dir, f.name, f.data); err != nil {
			return err
		}
	}
	return nil
}

// writeNew creates dir's file name with data, never replacing a file: a
// synced temporary file is hard-linked to name (which fails if name
// exists), then removed, and dir synced.
func writeNew(dir, name string, data []byte) error {
	tmp, err := writeTemp(dir, name, data)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	path := filepath.Join(dir, name)
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("filehost: %s appeared during the export; not replaced", path)
		}
		return fmt.Errorf("filehost: %w", err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("filehost: syncing %s: %w", dir, err)
	}
	return nil
}
