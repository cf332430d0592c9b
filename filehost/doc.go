// Package filehost is a ready, persistent [otr.Host]: everything an
// [otr.Account] needs to keep lives in one directory, written so that a
// crash never leaves a half-written file and a second process cannot use
// the directory at the same time.
//
// A [Host] implements [otr.Host], [otr.PolicyHost], [otr.TrustHost] and
// [otr.PrekeyHost] and also keeps the account's [otr.PrivateKeys]:
//
//	h, err := filehost.Open(dir, nil)    // one directory per local account
//	defer h.Close()
//	keys, err := h.LoadOrGenerateKeys()  // generated once, then loaded
//	acct, err := otr.NewAccount("alice@example.org", keys, h, nil)
//
// # One directory per local account
//
// The directory holds one local account (one localID given to
// [otr.NewAccount]): one set of keys and one instance tag, which the OTR3
// spec ("Instance Tags") asks to be kept per client location. A client
// with several accounts opens one directory for each.
//
// # Directory layout
//
// The directory is created with mode 0700 if missing; every file is
// written with mode 0600. Files that hold nothing yet are absent.
//
//	lock           empty but for the holder's process id; locked while open
//	private_keys   the keys: PrivateKeys.MarshalBinary (key file format 3,
//	               checksummed: a damaged file is refused, see
//	               otr.ParsePrivateKeys)
//	account.json   the instance tag and the OTRv4 client profile
//	trust.json     the contacts' fingerprints (OTR3 and OTRv4) and trust
//	policies.json  the policies set per contact
//	prekeys.json   the secrets of the prekeys published for offline
//	               conversations, and the current prekey profile
//
// The JSON files are meant to be read and diffed; each has a "format"
// member (1) and is read strictly: unknown members, a bad value or a
// truncated file are errors wrapping [ErrCorrupt], never skipped.
//
//	account.json:  {"format": 1, "instance_tag": "8d1a0b3c",
//	                "client_profile": "<base64>"}
//	trust.json:    {"format": 1, "contacts": {"bob@example.org": [
//	                  {"fingerprint": "4FDEAEEF E1AE6782 2A6A7BC7 3631270F 6C74A6DB",
//	                   "trust": "verified"}]}}
//	policies.json: {"format": 1, "policies": {"bob@example.org":
//	                  "ALLOW_V3|ALLOW_V4|REQUIRE_ENCRYPTION"}}
//	prekeys.json:  {"format": 1, "prekeys": {"0a1b2c3d": {
//	                  "secret": "<base64>",
//	                  "delete_after": "2025-03-09T12:00:00Z"}},
//	                "prekey_profile": "<base64>",
//	                "shared_prekey_secret": "<base64>"}
//
// The instance tag is written as libotr writes it (8 lower-case hex
// digits); a fingerprint in its display form ([otr.Fingerprint.String]:
// five groups of 8 hex digits for OTR3, 112 hex digits for OTRv4); a trust
// level by its name ([otr.Trust.MarshalText]: "untrusted", "verified",
// "smp"); a policy as [otr.Policy.String] writes it. Contact names are
// JSON strings, so they must be valid UTF-8. The max message size is
// configuration, not state: [Options.MaxMessageSize].
//
// In prekeys.json a prekey message's identifier is 8 lower-case hex
// digits, its deletion time RFC 3339 in UTC, and secrets and the profile
// padded standard base64 without line breaks, each only as written; a
// member name repeated or not in its exact case is refused too. The file
// holds secret keys: it is rewritten whole at each change, and
// [Host.Close] clears the copies in memory.
//
// # Crash safety
//
// Every file is replaced atomically: the new content goes to a temporary
// file in the directory (".NAME.tmp-*"), which is synced, renamed over
// the old file, and then the directory is synced. A crash leaves either
// the old file or the new one, plus perhaps a temporary file that the next
// [Open] removes. A change is made in memory only after its file is
// written: a failed write returns an error and changes nothing. So
// [Host.DeletePrekey] returns nil only once prekeys.json without the
// secret has replaced the old file; the old file is unlinked, not
// overwritten (on journaling and copy-on-write file systems and on flash,
// overwriting would not reach its blocks either).
//
// # Concurrency
//
// A Host is safe for concurrent use by several goroutines. The directory
// is locked (an exclusive lock on the file "lock", through
// golang.org/x/sys) while a Host has it open: a second [Open] of it, by
// another process or by the same one, fails with an error wrapping
// [ErrLocked]. The lock ends with [Host.Close] or the process. Locking
// needs Windows or a Unix system other than AIX; elsewhere [Open] fails.
//
// # Pidgin and other libotr clients
//
// [Host.ImportLibotr] takes over one account's key, instance tag and
// contacts' fingerprints with their trust from libotr's files
// (otr.private_key, otr.instance_tags, otr.fingerprints, as Pidgin keeps
// them in ~/.purple); [Host.ExportLibotr] writes them for libotr. Both
// name the account by libotr's account and protocol columns
// ([LibotrAccount]). Trust words map with [libotr.TrustFromWord] and
// [libotr.WordFromTrust]: an untrusted fingerprint is the empty field
// (libotr trusts a fingerprint with any word). Import only reads; export
// writes only new files into a directory that holds none of libotr's, so
// neither ever writes into a running libotr client's files.
//
// This package serves otr; its API may change.
package filehost
