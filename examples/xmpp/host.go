package main

// This file is the client's persistent OTR state, and the only place that
// knows how it is stored. It stands in for the library's file-backed host
// (github.com/otrgo/otr/filehost) until that is ready, and keeps the same
// file names and JSON forms, so that the swap is a change of this file
// alone: the rest of the client needs openDirHost, LoadOrGenerateKeys and
// the otr.TrustHost methods.

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/otrgo/otr"
)

// dirHost keeps one local account's OTR state in a directory: the keys,
// the instance tag and OTRv4 client profile, and the contacts'
// fingerprints with their trust. Every file is replaced atomically (a
// synced temporary file renamed over it, then the directory synced), and
// the memory copy changes only after its file is written. It implements
// otr.TrustHost and is safe for concurrent use. Its MaxMessageSize is 0:
// the transport's limit is the client's business (xmppHost).
//
//	private_keys   otr.PrivateKeys.MarshalBinary (checksummed)
//	account.json   {"format": 1, "instance_tag": "8d1a0b3c", "client_profile": "<base64>"}
//	trust.json     {"format": 1, "contacts": {"bob@example.org": [{"fingerprint": "...", "trust": "smp"}]}}
//
// Unlike filehost it takes no lock on the directory: one process per
// directory is the user's business.
type dirHost struct {
	dir  string
	rand io.Reader // for key generation; nil: crypto/rand

	mu      sync.Mutex
	tag     uint32
	profile []byte
	trust   map[string][]otr.KnownFingerprint
}

const (
	keysFile    = "private_keys"
	accountFile = "account.json"
	trustFile   = "trust.json"
	fileFormat  = 1
)

type accountJSON struct {
	Format        int    `json:"format"`
	InstanceTag   string `json:"instance_tag,omitempty"`
	ClientProfile string `json:"client_profile,omitempty"`
}

type trustJSON struct {
	Format   int                    `json:"format"`
	Contacts map[string][]knownJSON `json:"contacts"`
}

type knownJSON struct {
	Fingerprint string    `json:"fingerprint"`
	Trust       otr.Trust `json:"trust"`
}

// openDirHost opens the state directory dir, creating it (mode 0700) if
// missing, and reads what it holds. rand is used only to generate keys
// (nil: crypto/rand).
func openDirHost(dir string, rand io.Reader) (*dirHost, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	h := &dirHost{dir: dir, rand: rand, trust: make(map[string][]otr.KnownFingerprint)}
	if b, err := h.read(accountFile); err != nil {
		return nil, err
	} else if b != nil {
		var a accountJSON
		if err := decodeStrict(b, &a); err != nil {
			return nil, fmt.Errorf("xmpp: %s: %w", h.path(accountFile), err)
		}
		if a.InstanceTag != "" {
			t, err := strconv.ParseUint(a.InstanceTag, 16, 32)
			if err != nil || len(a.InstanceTag) != 8 {
				return nil, fmt.Errorf("xmpp: %s: bad instance tag %q", h.path(accountFile), a.InstanceTag)
			}
			h.tag = uint32(t)
		}
		if h.profile, err = base64.StdEncoding.DecodeString(a.ClientProfile); err != nil {
			return nil, fmt.Errorf("xmpp: %s: client profile: %w", h.path(accountFile), err)
		}
	}
	if b, err := h.read(trustFile); err != nil {
		return nil, err
	} else if b != nil {
		var t trustJSON
		if err := decodeStrict(b, &t); err != nil {
			return nil, fmt.Errorf("xmpp: %s: %w", h.path(trustFile), err)
		}
		for contact, list := range t.Contacts {
			for _, k := range list {
				fp, err := otr.ParseFingerprint(k.Fingerprint)
				if err != nil {
					return nil, fmt.Errorf("xmpp: %s: %s: %w", h.path(trustFile), contact, err)
				}
				h.trust[contact] = append(h.trust[contact], otr.KnownFingerprint{Fingerprint: fp, Trust: k.Trust})
			}
		}
	}
	return h, nil
}

// LoadOrGenerateKeys returns the stored keys, or generates keys for both
// protocol versions and stores them first.
func (h *dirHost) LoadOrGenerateKeys() (*otr.PrivateKeys, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	b, err := h.read(keysFile)
	if err != nil {
		return nil, err
	}
	if b != nil {
		defer clear(b)
		k, err := otr.ParsePrivateKeys(b)
		if err != nil {
			return nil, fmt.Errorf("xmpp: %s: %w", h.path(keysFile), err)
		}
		return k, nil
	}
	k, err := otr.GenerateKeys(h.rand)
	if err != nil {
		return nil, err
	}
	b, err = k.MarshalBinary()
	if err != nil {
		return nil, err
	}
	defer clear(b)
	if err := h.write(keysFile, b); err != nil {
		return nil, err
	}
	return k, nil
}

// InstanceTag implements otr.Host.
func (h *dirHost) InstanceTag() (uint32, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.tag, nil
}

// SetInstanceTag implements otr.Host.
func (h *dirHost) SetInstanceTag(tag uint32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.writeAccount(tag, h.profile); err != nil {
		return err
	}
	h.tag = tag
	return nil
}

// ClientProfile implements otr.Host.
func (h *dirHost) ClientProfile() ([]byte, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return bytes.Clone(h.profile), nil
}

// SetClientProfile implements otr.Host.
func (h *dirHost) SetClientProfile(p []byte) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err := h.writeAccount(h.tag, p); err != nil {
		return err
	}
	h.profile = bytes.Clone(p)
	return nil
}

// MaxMessageSize implements otr.Host: no limit here (see xmppHost).
func (h *dirHost) MaxMessageSize(string) int { return 0 }

// Fingerprints implements otr.TrustHost.
func (h *dirHost) Fingerprints(contact string) ([]otr.KnownFingerprint, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]otr.KnownFingerprint, len(h.trust[contact]))
	for i, k := range h.trust[contact] {
		out[i] = otr.KnownFingerprint{Fingerprint: bytes.Clone(k.Fingerprint), Trust: k.Trust}
	}
	return out, nil
}

// SetTrust implements otr.TrustHost.
func (h *dirHost) SetTrust(contact string, fp otr.Fingerprint, t otr.Trust) error {
	if fp.Version() == 0 {
		return fmt.Errorf("xmpp: not a fingerprint (%d bytes)", len(fp))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	list := make([]otr.KnownFingerprint, 0, len(h.trust[contact])+1)
	found := false
	for _, k := range h.trust[contact] {
		if bytes.Equal(k.Fingerprint, fp) {
			k.Trust, found = t, true
		}
		list = append(list, k)
	}
	if !found {
		list = append(list, otr.KnownFingerprint{Fingerprint: bytes.Clone(fp), Trust: t})
	}
	next := make(map[string][]otr.KnownFingerprint, len(h.trust)+1)
	for c, l := range h.trust {
		next[c] = l
	}
	next[contact] = list
	if err := h.writeTrust(next); err != nil {
		return err
	}
	h.trust = next
	return nil
}

func (h *dirHost) writeAccount(tag uint32, profile []byte) error {
	a := accountJSON{Format: fileFormat, ClientProfile: base64.StdEncoding.EncodeToString(profile)}
	if tag != 0 {
		a.InstanceTag = fmt.Sprintf("%08x", tag)
	}
	b, err := json.MarshalIndent(a, "", "\t")
	if err != nil {
		return err
	}
	return h.write(accountFile, append(b, '\n'))
}

func (h *dirHost) writeTrust(trust map[string][]otr.KnownFingerprint) error {
	t := trustJSON{Format: fileFormat, Contacts: make(map[string][]knownJSON, len(trust))}
	for c, list := range trust {
		for _, k := range list {
			t.Contacts[c] = append(t.Contacts[c], knownJSON{Fingerprint: k.Fingerprint.String(), Trust: k.Trust})
		}
	}
	b, err := json.MarshalIndent(t, "", "\t")
	if err != nil {
		return err
	}
	return h.write(trustFile, append(b, '\n'))
}

func (h *dirHost) path(name string) string { return filepath.Join(h.dir, name) }

// read returns the content of the directory's file name, nil if absent.
func (h *dirHost) read(name string) ([]byte, error) {
	b, err := os.ReadFile(h.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// write replaces the directory's file name with data atomically: a
// temporary file (mode 0600) in the directory, synced, renamed over name,
// then the directory synced, so that a crash leaves the old file or the
// new one.
func (h *dirHost) write(name string, data []byte) error {
	f, err := os.CreateTemp(h.dir, "."+name+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, h.path(name))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("xmpp: writing %s: %w", h.path(name), err)
	}
	d, err := os.Open(h.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// decodeStrict decodes the JSON value b into v: unknown members, a format
// other than 1 and anything after the value are errors.
func decodeStrict(b []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("data after the JSON value")
	}
	var f struct {
		Format int `json:"format"`
	}
	if err := json.Unmarshal(b, &f); err != nil || f.Format != fileFormat {
		return fmt.Errorf("format %d, want %d", f.Format, fileFormat)
	}
	return nil
}
