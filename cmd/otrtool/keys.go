package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/libotr"
)

// maxKeyFileSize bounds a key file read by fingerprint: libotr's own
// reader stops at 1 MiB.
const maxKeyFileSize = 1 << 20

const fingerprintDoc = `
Fingerprint prints the fingerprints of the keys in each KEYFILE: a key file
of this module (written by keygen, import-libotr or
otr.PrivateKeys.MarshalBinary) or libotr's otr.private_key, whose every
account is listed. OTR3 fingerprints are printed as libotr shows them
(five groups of eight hex digits), OTRv4 ones as otr4j does (112 hex
digits): the forms of otr.Fingerprint.String, which docs/fingerprints.md
describes. A fingerprint is public; nothing secret is printed.
`

func runFingerprint(e *env, args []string) error {
	fs := newFlagSet(e, "fingerprint", "[-json] KEYFILE...", fingerprintDoc)
	jsonOut := fs.Bool("json", false, "print one JSON object per key, one per line")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errUsage
	}
	out := bufio.NewWriter(e.stdout)
	defer out.Flush()
	for _, name := range fs.Args() {
		recs, err := fingerprints(name)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if *jsonOut {
				full := &record{}
				full.add("file", name)
				full.fields = append(full.fields, r.fields...)
				b, err := json.Marshal(full)
				if err != nil {
					return err
				}
				out.Write(b)
				out.WriteByte('\n')
				continue
			}
			fmt.Fprintf(out, "%s:\n", r.title)
			r.writeText(out, "  ")
		}
	}
	return nil
}

// fingerprints reads the key file name and returns one record per key.
func fingerprints(name string) ([]*message, error) {
	b, err := readSmallFile(name)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	if isLibotrKeyFile(b) {
		keys, err := libotr.ReadPrivateKeys(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		var out []*message
		for _, k := range keys {
			m := &message{title: name}
			m.add("format", "libotr otr.private_key")
			m.add("account", quoted(k.Account)).add("protocol", quoted(k.Protocol))
			m.add("otr3_fingerprint", k.Keys.Fingerprint().String())
			k.Keys.Wipe()
			out = append(out, m)
		}
		return out, nil
	}
	k, err := otr.ParsePrivateKeys(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer k.Wipe()
	m := &message{title: name}
	m.add("format", "otr key file")
	addFingerprints(&m.record, k)
	return []*message{m}, nil
}

// addFingerprints adds the OTR3 and OTRv4 fingerprints of k (none for a
// key k does not hold).
func addFingerprints(r *record, k *otr.PrivateKeys) {
	var fp3, fp4 any
	if f := k.Fingerprint(); f != nil {
		fp3 = f.String()
	}
	if f := k.Fingerprint4(); f != nil {
		fp4 = f.String()
	}
	r.add("otr3_fingerprint", fp3).add("otrv4_fingerprint", fp4)
}

// isLibotrKeyFile reports whether b looks like libotr's otr.private_key:
// an S-expression that starts with "(privkeys".
func isLibotrKeyFile(b []byte) bool {
	s := strings.TrimLeft(string(b[:min(len(b), 64)]), " \t\r\n")
	return strings.HasPrefix(s, "(privkeys")
}

func readSmallFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		clear(b)
		return nil, err
	}
	if len(b) > maxKeyFileSize {
		clear(b)
		return nil, fmt.Errorf("%s: larger than %d bytes: not a key file", name, maxKeyFileSize)
	}
	return b, nil
}

const keygenDoc = `
Keygen makes new identity keys for OTR3 (a DSA key) and OTRv4 (the Ed448
identity and forging keys) from the system's random source, writes them to
KEYFILE (mode 0600) in the format otr.ParsePrivateKeys reads, and prints
their fingerprints. The file is secret. An existing file is not overwritten
without -force.
`

func runKeygen(e *env, args []string) error {
	fs := newFlagSet(e, "keygen", "[-force] -o KEYFILE", keygenDoc)
	outFile := fs.String("o", "", "the key file to write (required)")
	force := fs.Bool("force", false, "overwrite an existing file")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if *outFile == "" || fs.NArg() != 0 {
		fs.Usage()
		return errUsage
	}
	k, err := otr.GenerateKeys(e.rand)
	if err != nil {
		return err
	}
	defer k.Wipe()
	return writeKeys(e, *outFile, k, *force)
}

const importDoc = `
Import-libotr reads libotr's otr.private_key (Pidgin keeps it in ~/.purple),
takes the DSA key of one account, and writes it to KEYFILE (mode 0600) in
the format otr.ParsePrivateKeys reads, so that a client built on this module
keeps the OTR3 fingerprint its contacts already know. libotr has no OTRv4
keys: new ones are generated and added unless -v4=false. With several
accounts in the file, -account (and, if the name is not unique, -protocol)
chooses one. The fingerprints of the written keys are printed.
`

func runImportLibotr(e *env, args []string) error {
	fs := newFlagSet(e, "import-libotr", "[-account NAME] [-protocol PROTO] [-v4=true] [-force] -o KEYFILE otr.private_key", importDoc)
	outFile := fs.String("o", "", "the key file to write (required)")
	account := fs.String("account", "", "the account to import, e.g. alice@example.org (needed when the file holds several)")
	protocol := fs.String("protocol", "", "the account's protocol, e.g. prpl-jabber (needed when the account name is not unique)")
	v4 := fs.Bool("v4", true, "add newly generated OTRv4 keys")
	force := fs.Bool("force", false, "overwrite an existing file")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if *outFile == "" || fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	b, err := readSmallFile(fs.Arg(0))
	if err != nil {
		return err
	}
	keys, err := libotr.ReadPrivateKeys(bytes.NewReader(b))
	clear(b)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	defer func() {
		for _, k := range keys {
			k.Keys.Wipe()
		}
	}()
	var match []libotr.PrivateKey
	for _, k := range keys {
		if (*account == "" || k.Account == *account) && (*protocol == "" || k.Protocol == *protocol) {
			match = append(match, k)
		}
	}
	if len(match) != 1 {
		var names []string
		for _, k := range keys {
			names = append(names, fmt.Sprintf("%q (%s)", k.Account, k.Protocol))
		}
		what := "no account matches"
		if len(match) > 1 {
			what = "several accounts match; choose one with -account and -protocol"
		}
		return fmt.Errorf("%s: %s; the file holds: %s", fs.Arg(0), what, strings.Join(names, ", "))
	}
	k := match[0].Keys
	if *v4 {
		if err := k.AddV4(e.rand); err != nil {
			return err
		}
	}
	return writeKeys(e, *outFile, k, *force)
}

// writeKeys writes k to name with mode 0600 (refusing to replace a file
// unless force) and prints its fingerprints.
func writeKeys(e *env, name string, k *otr.PrivateKeys, force bool) error {
	b, err := k.MarshalBinary()
	if err != nil {
		return err
	}
	defer clear(b)
	mode := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if force {
		mode = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(name, mode, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s exists; use -force to overwrite it", name)
	}
	if err != nil {
		return err
	}
	if force {
		// A replaced file keeps its mode: make sure it is private.
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	r := &record{}
	r.add("file", name)
	addFingerprints(r, k)
	r.writeText(e.stdout, "")
	return nil
}
