package main

import (
	"bytes"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBinary builds the otrtool command and runs it as a user would, on a
// transcript file of a real OTR3 conversation: parse reads every line, and
// forge, given the transcript's revealed MAC keys, writes a message that
// HMAC-SHA1 under the revealed key accepts.
func TestBinary(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build otrtool with")
	}
	bin := filepath.Join(t.TempDir(), "otrtool")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	exe := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Stdin = strings.NewReader(stdin)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}

	c := converse(t, 3, 0, defaultScript, nil)
	file := writeFile(t, "transcript.txt", c.lines())
	stdout, stderr, code := exe("", "parse", file)
	if code != 0 || stderr != "" || strings.Count(stdout, file+":") != len(c.wire) {
		t.Fatalf("parse: exit %d, stderr %q, %d records for %d lines", code, stderr, strings.Count(stdout, file+":"), len(c.wire))
	}
	if stdout, _, code := exe(c.lines(), "parse", "-json"); code != 0 || strings.Count(stdout, "\n") != len(c.wire) {
		t.Errorf("parse -json from stdin: exit %d, %d lines", code, strings.Count(stdout, "\n"))
	}

	target := c.dataIndexes(t, "bob")[1]
	stdout, stderr, code = exe("", "forge", "-line", strconv.Itoa(target+1), "-reveal", file,
		"-guess", "Bring the documents.", "-text", "Burn the documents.", file)
	if code != 0 {
		t.Fatalf("forge: exit %d: %s", code, stderr)
	}
	key := c.revealedKeyOf(t, target)
	if !strings.Contains(stderr, hex.EncodeToString(key)) {
		t.Errorf("forge did not report the MAC key %x: %s", key, stderr)
	}
	if d := parseData(t, payloadOf(t, strings.TrimSpace(stdout))); !d.verifies(key) {
		t.Errorf("HMAC-SHA1 under the revealed key rejects the forgery")
	}

	if stdout, stderr, code := exe("", "fingerprint", libotrKeyFile); code != 0 || !strings.Contains(stdout, libotrFingerprints["bob"]) {
		t.Errorf("fingerprint: exit %d, %q %q", code, stdout, stderr)
	}
	if _, stderr, code := exe("", "forge"); code != 2 || !strings.Contains(stderr, "usage: otrtool forge") {
		t.Errorf("forge without arguments: exit %d, stderr %q", code, stderr)
	}
}
