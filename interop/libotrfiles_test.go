package interop

import (
	"bytes"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/otrgo/otr"
	"github.com/otrgo/otr/libotr"
)

// These tests move libotr's files (otr.private_key, otr.fingerprints,
// otr.instance_tags) between libotr 4.1.1 and package libotr, both ways.
// Go does not allow cgo in test files, so libotr's file functions run in a
// small C program, built from lfToolSource with the system C compiler
// and pkg-config at the start of the test. A missing libotr fails the test.

const lfToolSource = `
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gcrypt.h>
#include <libotr/proto.h>
#include <libotr/userstate.h>
#include <libotr/privkey.h>
#include <libotr/instag.h>
#include <libotr/context.h>

static void puthex(const char *s) {
	for (; *s; s++) printf("%02x", (unsigned char)*s);
}

static int fail(const char *op, gcry_error_t err) {
	fprintf(stderr, "%s: %s\n", op, gcry_strerror(err));
	return 1;
}

static int unhex(const char *in, unsigned char out[20]) {
	if (strlen(in) != 40) return 0;
	for (int i = 0; i < 20; i++)
		if (sscanf(in + 2*i, "%2hhx", &out[i]) != 1) return 0;
	return 1;
}

int main(int argc, char **argv) {
	OTRL_INIT;
	OtrlUserState us = otrl_userstate_create();
	gcry_error_t err;
	char human[OTRL_PRIVKEY_FPRINT_HUMAN_LEN];
	if (argc < 3) return 2;
	const char *cmd = argv[1], *file = argv[2];

	if (!strcmp(cmd, "genkey") && argc == 5) {
		/* genkey FILE ACCOUNT PROTOCOL: adds a key, prints its fingerprint. */
		FILE *f = fopen(file, "r");
		if (f) {
			fclose(f);
			err = otrl_privkey_read(us, file);
			if (err) return fail("otrl_privkey_read", err);
		}
		err = otrl_privkey_generate(us, file, argv[3], argv[4]);
		if (err) return fail("otrl_privkey_generate", err);
		if (!otrl_privkey_fingerprint(us, human, argv[3], argv[4])) return 1;
		printf("%s\n", human);
	} else if (!strcmp(cmd, "readkeys") && argc == 3) {
		/* readkeys FILE: per key, hex(account) hex(protocol) fingerprint,
		 * after checking that libgcrypt accepts it as a secret key and
		 * that libotr signs with it. */
		err = otrl_privkey_read(us, file);
		if (err) return fail("otrl_privkey_read", err);
		for (OtrlPrivKey *p = us->privkey_root; p; p = p->next) {
			unsigned char hash[20] = {1, 2, 3};
			unsigned char *sig = NULL;
			size_t siglen = 0;
			err = gcry_pk_testkey(p->privkey);
			if (err) return fail("gcry_pk_testkey", err);
			err = otrl_privkey_sign(&sig, &siglen, p, hash, sizeof hash);
			if (err) return fail("otrl_privkey_sign", err);
			free(sig);
			if (!otrl_privkey_fingerprint(us, human, p->accountname, p->protocol)) return 1;
			puthex(p->accountname); printf("\t"); puthex(p->protocol); printf("\t%s\n", human);
		}
	} else if (!strcmp(cmd, "writefps") && (argc - 3) % 5 == 0) {
		/* writefps FILE (USERNAME ACCOUNT PROTOCOL HEX TRUST)... */
		for (int i = 3; i < argc; i += 5) {
			unsigned char fp[20];
			if (!unhex(argv[i+3], fp)) return 2;
			ConnContext *ctx = otrl_context_find(us, argv[i], argv[i+1], argv[i+2],
				OTRL_INSTAG_BEST, 1, NULL, NULL, NULL);
			Fingerprint *f = otrl_context_find_fingerprint(ctx, fp, 1, NULL);
			if (!ctx || !f) return 1;
			if (argv[i+4][0]) otrl_context_set_trust(f, argv[i+4]);
		}
		err = otrl_privkey_write_fingerprints(us, file);
		if (err) return fail("otrl_privkey_write_fingerprints", err);
	} else if (!strcmp(cmd, "readfps") && argc == 3) {
		/* readfps FILE: what libotr holds, one fingerprint a line. */
		err = otrl_privkey_read_fingerprints(us, file, NULL, NULL);
		if (err) return fail("otrl_privkey_read_fingerprints", err);
		for (ConnContext *c = us->context_root; c; c = c->next) {
			if (c->m_context != c) continue;
			for (Fingerprint *f = c->fingerprint_root.next; f; f = f->next) {
				puthex(c->username); printf("\t"); puthex(c->accountname); printf("\t");
				puthex(c->protocol); printf("\t");
				for (int i = 0; i < 20; i++) printf("%02x", f->fingerprint[i]);
				printf("\t"); puthex(f->trust ? f->trust : ""); printf("\n");
			}
		}
	} else if (!strcmp(cmd, "geninstag") && argc == 5) {
		/* geninstag FILE ACCOUNT PROTOCOL: adds a tag, prints it. */
		FILE *f = fopen(file, "r");
		if (f) {
			fclose(f);
			err = otrl_instag_read(us, file);
			if (err) return fail("otrl_instag_read", err);
		}
		err = otrl_instag_generate(us, file, argv[3], argv[4]);
		if (err) return fail("otrl_instag_generate", err);
		OtrlInsTag *p = otrl_instag_find(us, argv[3], argv[4]);
		if (!p) return 1;
		printf("%08x\n", p->instag);
	} else if (!strcmp(cmd, "rewriteinstags") && argc == 4) {
		/* rewriteinstags IN OUT: prints what libotr holds, then writes it. */
		err = otrl_instag_read(us, file);
		if (err) return fail("otrl_instag_read", err);
		for (OtrlInsTag *p = us->instag_root; p; p = p->next) {
			puthex(p->accountname); printf("\t"); puthex(p->protocol);
			printf("\t%08x\n", p->instag);
		}
		err = otrl_instag_write(us, argv[3]);
		if (err) return fail("otrl_instag_write", err);
	} else {
		return 2;
	}
	otrl_userstate_free(us);
	return 0;
}
`

// lfBuildTool compiles lfToolSource into dir.
func lfBuildTool(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "libotrfiles.c")
	bin := filepath.Join(dir, "libotrfiles")
	if err := os.WriteFile(src, []byte(lfToolSource), 0o600); err != nil {
		t.Fatal(err)
	}
	flags, err := exec.Command("pkg-config", "--cflags", "--libs", "libotr", "libgcrypt").Output()
	if err != nil {
		t.Fatalf("pkg-config libotr libgcrypt: %v (is libotr 4.1.1 installed?)", err)
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	args := append([]string{"-std=c99", "-o", bin, src}, strings.Fields(string(flags))...)
	if out, err := exec.Command(cc, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", cc, args, err, out)
	}
	return bin
}

// lfRunTool runs the tool and returns its output lines.
func lfRunTool(t *testing.T, tool string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(tool, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("libotr %s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	if len(out) == 0 {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}

// unhexFields splits a tool output line and decodes its hex fields.
func lfUnhexFields(t *testing.T, line string, hexFields ...int) []string {
	t.Helper()
	f := strings.Split(line, "\t")
	for _, i := range hexFields {
		b, err := hex.DecodeString(f[i])
		if err != nil {
			t.Fatalf("tool output %q: %v", line, err)
		}
		f[i] = string(b)
	}
	return f
}

func lfWriteFile(t *testing.T, path string, write func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func lfReadFile(t *testing.T, path string) *bytes.Reader {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}

func TestLibotrFiles(t *testing.T) {
	dir := t.TempDir()
	tool := lfBuildTool(t, dir)

	// libotr's keys, generated once: key generation is the slow part.
	libotrKeyFile := filepath.Join(dir, "libotr.private_key")
	libotrFPs := map[[2]string]string{
		{"alice@example.org", "prpl-jabber"}: "",
		{"bob", "prpl-irc"}:                  "",
	}
	for _, id := range [][2]string{{"alice@example.org", "prpl-jabber"}, {"bob", "prpl-irc"}} {
		out := lfRunTool(t, tool, "genkey", libotrKeyFile, id[0], id[1])
		if len(out) != 1 {
			t.Fatalf("genkey printed %q", out)
		}
		libotrFPs[id] = out[0]
	}

	t.Run("PrivateKeysFromLibotr", func(t *testing.T) {
		keys, err := libotr.ReadPrivateKeys(lfReadFile(t, libotrKeyFile))
		if err != nil {
			t.Fatalf("ReadPrivateKeys(libotr's file) error = %v", err)
		}
		if len(keys) != len(libotrFPs) {
			t.Fatalf("ReadPrivateKeys(libotr's file) = %d keys, want %d", len(keys), len(libotrFPs))
		}
		for _, k := range keys {
			want, ok := libotrFPs[[2]string{k.Account, k.Protocol}]
			if got := k.Keys.Fingerprint().String(); !ok || got != want {
				t.Errorf("key %q %q: fingerprint %s, libotr's %s", k.Account, k.Protocol, got, want)
			}
			k.Keys.Wipe()
		}
	})

	t.Run("PrivateKeysToLibotr", func(t *testing.T) {
		libotrKeys, err := libotr.ReadPrivateKeys(lfReadFile(t, libotrKeyFile))
		if err != nil || len(libotrKeys) != 2 {
			t.Fatalf("ReadPrivateKeys(libotr's file) = %d keys, %v", len(libotrKeys), err)
		}
		ours, err := otr.GenerateKeys(mrand.NewChaCha8([32]byte{'l', 'i', 'b', 'o', 't', 'r'}))
		if err != nil {
			t.Fatal(err)
		}
		// Names in each of the encodings libgcrypt writes: token, string
		// (with escapes and raw UTF-8), hex.
		keys := []libotr.PrivateKey{
			{Account: "carol@example.org", Protocol: "prpl-jabber", Keys: ours},
			{Account: "dave", Protocol: "prpl-irc", Keys: ours},
			{Account: "jos\xc3\xa9 \"q\" \\ 'x'\n", Protocol: "prpl-jabber", Keys: ours},
			{Account: "\xc3\xa0@example.org", Protocol: "prpl-jabber", Keys: libotrKeys[0].Keys},
			{Account: "123", Protocol: "prpl-xmpp", Keys: libotrKeys[1].Keys},
		}
		path := filepath.Join(dir, "ours.private_key")
		lfWriteFile(t, path, func(b *bytes.Buffer) error { return libotr.WritePrivateKeys(b, keys) })
		got := make(map[[2]string]string)
		for _, line := range lfRunTool(t, tool, "readkeys", path) {
			f := lfUnhexFields(t, line, 0, 1)
			got[[2]string{f[0], f[1]}] = f[2]
		}
		want := make(map[[2]string]string)
		for _, k := range keys {
			want[[2]string{k.Account, k.Protocol}] = k.Keys.Fingerprint().String()
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("libotr read our key file as %q, want %q", got, want)
		}
	})

	fps := []libotr.Fingerprint{
		{Username: "carol@example.com", Account: "alice@example.org", Protocol: "prpl-jabber",
			Fingerprint: otr.Fingerprint(bytes.Repeat([]byte{0xab}, 20)), Trust: libotr.TrustVerified},
		{Username: "carol@example.com", Account: "alice@example.org", Protocol: "prpl-jabber",
			Fingerprint: otr.Fingerprint(bytes.Repeat([]byte{0x01}, 20))},
		{Username: "dave", Account: "bob", Protocol: "prpl-irc",
			Fingerprint: otr.Fingerprint(bytes.Repeat([]byte{0xfe}, 20)), Trust: libotr.TrustSMP},
		{Username: "jos\xc3\xa9 #2", Account: "bob", Protocol: "prpl-irc",
			Fingerprint: otr.Fingerprint(bytes.Repeat([]byte{0x00}, 20)), Trust: "some other word"},
	}
	sortFPs := func(s []libotr.Fingerprint) {
		slices.SortFunc(s, func(a, b libotr.Fingerprint) int {
			return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
		})
	}

	t.Run("FingerprintsFromLibotr", func(t *testing.T) {
		path := filepath.Join(dir, "libotr.fingerprints")
		var args []string
		for _, f := range fps {
			args = append(args, f.Username, f.Account, f.Protocol, hex.EncodeToString(f.Fingerprint), f.Trust)
		}
		lfRunTool(t, tool, append([]string{"writefps", path}, args...)...)
		got, err := libotr.ReadFingerprints(lfReadFile(t, path))
		if err != nil {
			t.Fatalf("ReadFingerprints(libotr's file) error = %v", err)
		}
		// libotr sorts contexts and puts a context's newest fingerprint
		// first: compare as sets.
		want := slices.Clone(fps)
		sortFPs(got)
		sortFPs(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ReadFingerprints(libotr's file) = %+v, want %+v", got, want)
		}
	})

	t.Run("FingerprintsToLibotr", func(t *testing.T) {
		path := filepath.Join(dir, "ours.fingerprints")
		lfWriteFile(t, path, func(b *bytes.Buffer) error { return libotr.WriteFingerprints(b, fps) })
		var got []libotr.Fingerprint
		for _, line := range lfRunTool(t, tool, "readfps", path) {
			f := lfUnhexFields(t, line, 0, 1, 2, 4)
			fp, err := hex.DecodeString(f[3])
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, libotr.Fingerprint{Username: f[0], Account: f[1], Protocol: f[2], Fingerprint: fp, Trust: f[4]})
		}
		want := slices.Clone(fps)
		sortFPs(got)
		sortFPs(want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("libotr read our fingerprints as %+v, want %+v", got, want)
		}
	})

	t.Run("InstanceTagsFromLibotr", func(t *testing.T) {
		path := filepath.Join(dir, "libotr.instance_tags")
		want := make(map[[2]string]uint32)
		for _, id := range [][2]string{{"alice@example.org", "prpl-jabber"}, {"bob", "prpl-irc"}, {"jos\xc3\xa9", "prpl-irc"}} {
			out := lfRunTool(t, tool, "geninstag", path, id[0], id[1])
			tag, err := strconv.ParseUint(out[0], 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			want[id] = uint32(tag)
		}
		tags, err := libotr.ReadInstanceTags(lfReadFile(t, path))
		if err != nil {
			t.Fatalf("ReadInstanceTags(libotr's file) error = %v", err)
		}
		got := make(map[[2]string]uint32)
		for _, tag := range tags {
			got[[2]string{tag.Account, tag.Protocol}] = tag.Tag
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("ReadInstanceTags(libotr's file) = %v, want %v", got, want)
		}
	})

	t.Run("InstanceTagsToLibotr", func(t *testing.T) {
		tags := []libotr.InstanceTag{
			{Account: "alice@example.org", Protocol: "prpl-jabber", Tag: 0x100},
			{Account: "bob", Protocol: "prpl-irc", Tag: 0xffffffff},
			{Account: "a b", Protocol: "prpl-irc", Tag: 0x89abcdef},
		}
		path := filepath.Join(dir, "ours.instance_tags")
		lfWriteFile(t, path, func(b *bytes.Buffer) error { return libotr.WriteInstanceTags(b, tags) })
		rewritten := filepath.Join(dir, "rewritten.instance_tags")
		var got []libotr.InstanceTag
		for _, line := range lfRunTool(t, tool, "rewriteinstags", path, rewritten) {
			f := lfUnhexFields(t, line, 0, 1)
			tag, err := strconv.ParseUint(f[2], 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, libotr.InstanceTag{Account: f[0], Protocol: f[1], Tag: uint32(tag)})
		}
		// libotr keeps its list newest first.
		slices.Reverse(got)
		if !reflect.DeepEqual(got, tags) {
			t.Errorf("libotr read our instance tags as %+v, want %+v", got, tags)
		}
		// libotr writes them back in its own order; our reader reads that.
		again, err := libotr.ReadInstanceTags(lfReadFile(t, rewritten))
		slices.Reverse(again)
		if err != nil || !reflect.DeepEqual(again, tags) {
			t.Errorf("ReadInstanceTags(libotr's rewrite) = %+v, %v, want %+v", again, err, tags)
		}
	})
}
