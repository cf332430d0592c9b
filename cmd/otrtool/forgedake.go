package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/crypto/cryptobyte"

	"github.com/otrgo/otr"
	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/dake"
	otrencoding "github.com/otrgo/otr/encoding"
)

const forgeDAKEDoc = `
Forge-dake demonstrates what the forging keys of OTRv4 client profiles are
for (OTRv4 spec, "KCI Attacks", "Forger Keys", "Security Properties"). In the
interactive DAKE, bob sends the Identity message (ephemeral key Y), alice
answers with Auth-R (ephemeral key X) and bob completes with Auth-I. Each
authenticates with a ring signature, not a signature by one key:

  Auth-R: sigma = RSig(H_a, sk_ha, {F_b, H_a, Y}, t)   (alice's)
  Auth-I: sigma = RSig(H_b, sk_hb, {H_b, F_a, X}, t)   (bob's)

A ring signature shows only that its maker knew the secret of one of the
three keys. Alice's Auth-R can equally be made by whoever holds y (bob,
during the exchange) or the secret of F_b, bob's forging key; bob's Auth-I
by whoever holds x or the secret of F_a. The forging keys are published in
the client profiles next to the identity keys, and the OTRv4 fingerprint
covers both, so a contact cannot swap them unnoticed.

Given a transcript holding an interactive DAKE (Identity, Auth-R and
perhaps Auth-I messages, one per line), the two account identifiers the
DAKE's shared session state phi binds (OTRv4 spec, "Shared Session State":
the transport identifiers, e.g. the chat addresses), and the key file of
one participant, forge-dake rebuilds t, checks that the real signature
verifies, and writes a new message with a ring signature made with that
participant's forging key, which verifies exactly as the real one does:

  - bob's keys (his forging key is F_b): an Auth-R that authenticates
    "alice" although alice's key was never used;
  - alice's keys (F_a): an Auth-I that authenticates "bob".

The output is the forged message, "?OTR:....", on one line; what was
checked goes to standard error. Nobody can tell it from the real one: a
DAKE transcript does not prove who took part (offline deniability), and
because a user may keep the forging secret, even a judge who takes part in
the conversation cannot rule out that the user forged it (online
deniability). Without a forging secret, the transcript alone lets nobody
forge a DAKE. The repository's docs/deniability.md has more.
`

func runForgeDAKE(e *env, args []string) error {
	fs := newFlagSet(e, "forge-dake", "-keys KEYFILE -alice ID -bob ID [TRANSCRIPT]", forgeDAKEDoc)
	keyFile := fs.String("keys", "", "key file of the participant whose forging key signs (required)")
	aliceID := fs.String("alice", "", "account identifier of alice, who sent Auth-R (required)")
	bobID := fs.String("bob", "", "account identifier of bob, who sent the Identity message (required)")
	if err := parseFlags(e, fs, args); err != nil {
		return err
	}
	if *keyFile == "" || *aliceID == "" || *bobID == "" || fs.NArg() > 1 {
		fs.Usage()
		return errUsage
	}
	forging, err := readForgingKey(*keyFile)
	if err != nil {
		return err
	}
	defer forging.Wipe()

	in, src := e.stdin, "stdin"
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		f, err := os.Open(fs.Arg(0))
		if err != nil {
			return err
		}
		defer f.Close()
		in, src = f, fs.Arg(0)
	}
	tr, err := findDAKE(in, src)
	if err != nil {
		return err
	}
	r := e.rand
	if r == nil {
		r = rand.Reader
	}
	res, err := forgeDAKE(tr, forging, *aliceID, *bobID, r)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(e.stderr)
	for _, line := range res.log {
		fmt.Fprintf(w, "forge-dake: %s\n", line)
	}
	w.Flush()
	fmt.Fprintln(e.stdout, res.message)
	return nil
}

// readForgingKey returns the OTRv4 forging private key of a key file.
//
// otr.PrivateKeys does not export it, so the key file is read here, in
// the formats keys.go documents: after the magic, DATA fields: DSA key,
// identity seed, forging seed (format 2), or DSA key, identity seed,
// identity public key, forging seed, forging public key, then a SHA-256
// checksum (format 3). The file is parsed by otr.ParsePrivateKeys first,
// which checks the checksum and the keys, and the fingerprint of the keys
// read here must equal the one it gives.
func readForgingKey(name string) (*otrcrypto.EdDSAPrivateKey, error) {
	b, err := readSmallFile(name)
	if err != nil {
		return nil, err
	}
	defer clear(b)
	k, err := forgingKeyFrom(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return k, nil
}

// forgingKeyFrom is readForgingKey on the file's contents.
func forgingKeyFrom(b []byte) (*otrcrypto.EdDSAPrivateKey, error) {
	keys, err := otr.ParsePrivateKeys(b)
	if err != nil {
		return nil, err
	}
	defer keys.Wipe()
	if !keys.HasV4() {
		return nil, errors.New("the key file holds no OTRv4 keys")
	}
	var fields int
	var body []byte
	switch {
	case bytes.HasPrefix(b, []byte("otrgo-keys-v3\x00")):
		fields, body = 5, b[len("otrgo-keys-v3\x00"):]
	case bytes.HasPrefix(b, []byte("otrgo-keys-v2\x00")):
		fields, body = 3, b[len("otrgo-keys-v2\x00"):]
	default:
		return nil, errors.New("a key file format this tool cannot take the forging key from")
	}
	s := cryptobyte.String(body)
	parts := make([][]byte, fields)
	defer func() {
		for _, p := range parts {
			clear(p)
		}
	}()
	for i := range parts {
		if !otrencoding.ReadData(&s, &parts[i]) {
			return nil, errors.New("malformed key file")
		}
	}
	idSeed, foSeed := parts[1], parts[2]
	if fields == 5 {
		foSeed = parts[3]
	}
	id, err := otrcrypto.NewEdDSAPrivateKey(idSeed)
	if err != nil {
		return nil, err
	}
	defer id.Wipe()
	fo, err := otrcrypto.NewEdDSAPrivateKey(foSeed)
	if err != nil {
		return nil, err
	}
	H, F := id.Public(), fo.Public()
	fp := otrcrypto.NewFingerprint4(&H, &F)
	if !bytes.Equal(fp[:], keys.Fingerprint4()) {
		fo.Wipe()
		return nil, errors.New("the forging key read does not give the file's OTRv4 fingerprint")
	}
	return fo, nil
}

// dakeTranscript is the interactive DAKE found in a transcript: the
// messages, their headers and where they were.
type dakeTranscript struct {
	identityMsg                  *dake.IdentityMessage
	authRMsg                     *dake.AuthRMessage
	authIMsg                     *dake.AuthIMessage // nil if the transcript has none
	identityH, authRH, authIH    otrencoding.Header
	identityAt, authRAt, authIAt string
}

// findDAKE returns the first Identity message of the transcript, the
// first Auth-R answering it and the Auth-I (if any) answering that.
func findDAKE(r io.Reader, src string) (*dakeTranscript, error) {
	tr := &dakeTranscript{}
	var parseErr error
	err := eachMessage(r, src, func(m *message) bool {
		if m.payload == nil {
			return true
		}
		h, body, err := otrencoding.ParseHeader(m.payload)
		if err != nil || h.Version != otrencoding.Version4 {
			return true
		}
		at := fmt.Sprintf("%s:%d", src, m.line)
		switch {
		case h.Type == otrencoding.MsgIdentity && tr.identityMsg == nil:
			tr.identityMsg, parseErr = dake.ParseIdentityMessage(body)
			tr.identityH, tr.identityAt = h, at
		case h.Type == otrencoding.MsgAuthR && tr.identityMsg != nil && tr.authRMsg == nil && h.Receiver == tr.identityH.Sender:
			tr.authRMsg, parseErr = dake.ParseAuthRMessage(body)
			tr.authRH, tr.authRAt = h, at
		case h.Type == otrencoding.MsgAuthI && tr.authRMsg != nil && h.Sender == tr.identityH.Sender && h.Receiver == tr.authRH.Sender:
			tr.authIMsg, parseErr = dake.ParseAuthIMessage(body)
			tr.authIH, tr.authIAt = h, at
			return false
		}
		return parseErr == nil
	})
	switch {
	case err != nil:
		return nil, err
	case parseErr != nil:
		return nil, parseErr
	case tr.identityMsg == nil:
		return nil, fmt.Errorf("%s: no OTRv4 Identity message", src)
	case tr.authRMsg == nil:
		return nil, fmt.Errorf("%s: no Auth-R message answering the Identity message at %s", src, tr.identityAt)
	}
	return tr, nil
}

// dakeForgery is a forged DAKE message and what was checked on the way.
type dakeForgery struct {
	message string
	payload []byte
	log     []string
}

// forgeDAKE makes the forgery the forging key allows: an Auth-R if it is
// bob's (F_b, in the Identity message's profile), an Auth-I if it is
// alice's (F_a, in the Auth-R message's profile).
func forgeDAKE(tr *dakeTranscript, forging *otrcrypto.EdDSAPrivateKey, aliceID, bobID string, rnd io.Reader) (*dakeForgery, error) {
	id, ar := tr.identityMsg, tr.authRMsg
	bobTag, aliceTag := tr.identityH.Sender, tr.authRH.Sender
	bobProfile, aliceProfile := id.Profile.Bytes(), ar.Profile.Bytes()
	Hb, Fb := id.Profile.IdentityKey(), id.Profile.ForgingKey()
	Ha, Fa := ar.Profile.IdentityKey(), ar.Profile.ForgingKey()
	B, A := id.B.Bytes(), ar.A.Bytes()
	bobFirstDH, aliceFirstDH := id.FirstDH.Bytes(), ar.FirstDH.Bytes()
	F := forging.Public()
	secret := forging.SecretScalar()
	defer secret.Wipe()
	out := &dakeForgery{}

	switch {
	case F.Equal(&Fb):
		// OTRv4 spec, "Auth-R Message": t = 0x0 || HWC(usage_auth_r_bob_
		// client_profile || Bob_Client_Profile, 64) || HWC(usage_auth_r_
		// alice_client_profile || Alice_Client_Profile, 64) || Y || X || B
		// || A || HWC(usage_auth_r_phi || phi, 64), with phi built by
		// alice as the sender (docs/interop.md, "DAKE").
		phi := dake.AuthPhi(false, aliceTag, bobTag, &ar.FirstECDH, aliceFirstDH, &id.FirstECDH, bobFirstDH, aliceID, bobID)
		t := dake.AuthT(false, bobProfile, aliceProfile, &id.Y, &ar.X, B, A, &phi)
		if !otrcrypto.RingVerify(&Fb, &Ha, &id.Y, &ar.Sigma, t) {
			return nil, fmt.Errorf("the Auth-R message at %s does not verify with the account identifiers given (alice %q, bob %q): are they the ones the clients used, in the right roles?", tr.authRAt, aliceID, bobID)
		}
		out.log = append(out.log,
			fmt.Sprintf("the Auth-R message at %s verifies: a ring signature by one of F_b (bob's forging key), H_a (alice's identity key) or Y (bob's ephemeral key)", tr.authRAt),
			fmt.Sprintf("signing with bob's forging key (OTRv4 fingerprint %s)", fingerprintOf(id.Profile)))
		sigma, err := otrcrypto.RingSign(rnd, &secret, &Fb, &Ha, &id.Y, t)
		if err != nil {
			return nil, err
		}
		if !otrcrypto.RingVerify(&Fb, &Ha, &id.Y, &sigma, t) {
			panic("otr: internal error: a fresh ring signature does not verify")
		}
		forged := *ar
		forged.Sigma = sigma
		out.payload = otrencoding.Marshal(tr.authRH, &forged)
		out.log = append(out.log, "the forged Auth-R verifies the same way: it authenticates alice without her key")
	case F.Equal(&Fa):
		if tr.authIMsg == nil {
			return nil, errors.New("the transcript has no Auth-I message to forge")
		}
		// OTRv4 spec, "Auth-I Message": as Auth-R but 0x1 and the Auth-I
		// usages, phi built by bob as the sender.
		phi := dake.AuthPhi(true, bobTag, aliceTag, &id.FirstECDH, bobFirstDH, &ar.FirstECDH, aliceFirstDH, bobID, aliceID)
		t := dake.AuthT(true, bobProfile, aliceProfile, &id.Y, &ar.X, B, A, &phi)
		if !otrcrypto.RingVerify(&Hb, &Fa, &ar.X, &tr.authIMsg.Sigma, t) {
			return nil, fmt.Errorf("the Auth-I message at %s does not verify with the account identifiers given (alice %q, bob %q): are they the ones the clients used, in the right roles?", tr.authIAt, aliceID, bobID)
		}
		out.log = append(out.log,
			fmt.Sprintf("the Auth-I message at %s verifies: a ring signature by one of H_b (bob's identity key), F_a (alice's forging key) or X (alice's ephemeral key)", tr.authIAt),
			fmt.Sprintf("signing with alice's forging key (OTRv4 fingerprint %s)", fingerprintOf(ar.Profile)))
		sigma, err := otrcrypto.RingSign(rnd, &secret, &Hb, &Fa, &ar.X, t)
		if err != nil {
			return nil, err
		}
		if !otrcrypto.RingVerify(&Hb, &Fa, &ar.X, &sigma, t) {
			panic("otr: internal error: a fresh ring signature does not verify")
		}
		out.payload = otrencoding.Marshal(tr.authIH, &dake.AuthIMessage{Sigma: sigma})
		out.log = append(out.log, "the forged Auth-I verifies the same way: it authenticates bob without his key")
	default:
		return nil, errors.New("the key file's forging key is neither bob's (Identity message) nor alice's (Auth-R message)")
	}
	out.message = otrencoding.EncodeMessage(out.payload)
	return out, nil
}

func fingerprintOf(p *dake.ClientProfile) string {
	fp := p.Fingerprint()
	return otr.Fingerprint(fp[:]).String()
}
