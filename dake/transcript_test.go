package dake

import (
	"bytes"
	"encoding/binary"
	"testing"

	otrcrypto "github.com/otrgo/otr/crypto"
	"github.com/otrgo/otr/internal/vectors"
)

// dakeVectorFile is the part of testdata/vectors/otrv4/dake.json these tests
// use.
type dakeVectorFile struct {
	Parties struct {
		Bob   dakeParty `json:"bob"`
		Alice dakeParty `json:"alice"`
	} `json:"parties"`
	Identity struct {
		Y         dakeECDH `json:"y"`
		B         dakeDH   `json:"b"`
		FirstECDH dakeECDH `json:"first_ecdh"`
		FirstDH   dakeDH   `json:"first_dh"`
	} `json:"identity_message"`
	AuthR struct {
		X         dakeECDH    `json:"x"`
		A         dakeDH      `json:"a"`
		FirstECDH dakeECDH    `json:"first_ecdh"`
		FirstDH   dakeDH      `json:"first_dh"`
		PhiInput  vectors.Hex `json:"phi_input"`
		Phi       vectors.Hex `json:"phi"`
		T         vectors.Hex `json:"t"`
	} `json:"auth_r"`
	AuthI struct {
		PhiInput vectors.Hex `json:"phi_input"`
		Phi      vectors.Hex `json:"phi"`
		T        vectors.Hex `json:"t"`
	} `json:"auth_i"`
	Shared struct {
		KECDH        vectors.Hex `json:"K_ecdh"`
		KDH          vectors.Hex `json:"k_dh"`
		BraceKey     vectors.Hex `json:"brace_key"`
		K            vectors.Hex `json:"K"`
		SSID         vectors.Hex `json:"ssid"`
		FirstRootKey vectors.Hex `json:"first_root_key"`
	} `json:"shared_secret"`
}

type dakeParty struct {
	InstanceTag       vectors.Hex `json:"instance_tag"`
	AccountID         string      `json:"account_id"`
	PeerAccountID     string      `json:"peer_account_id"`
	IdentitySecretKey vectors.Hex `json:"identity_secret_key"`
	ForgingSecretKey  vectors.Hex `json:"forging_secret_key"`
	ClientProfile     vectors.Hex `json:"client_profile"`
}

type dakeECDH struct {
	R      vectors.Hex `json:"r"`
	Public vectors.Hex `json:"public"`
}

type dakeDH struct {
	R      vectors.Hex `json:"r"`
	Public vectors.Hex `json:"public"`
}

func mustPoint(t *testing.T, b []byte) *otrcrypto.Point {
	t.Helper()
	p, err := otrcrypto.ParsePoint(b)
	if err != nil {
		t.Fatalf("ParsePoint(%x) = %v", b, err)
	}
	return &p
}

// TestDAKETranscriptVectors checks the parties' client profiles, phi, t, the
// mixed shared secret, the SSID and the first root key against dake.json.
func dakeJSONTranscript(t *testing.T) {
	var f dakeVectorFile
	vectors.Load(t, "otrv4/dake.json", &f)
	bob, alice := &f.Parties.Bob, &f.Parties.Alice
	bobTag, aliceTag := binary.BigEndian.Uint32(bob.InstanceTag), binary.BigEndian.Uint32(alice.InstanceTag)

	for _, p := range []*dakeParty{bob, alice} {
		prof, err := ParseClientProfile(p.ClientProfile)
		if err != nil {
			t.Fatalf("ParseClientProfile = %v", err)
		}
		if err := prof.Validate(binary.BigEndian.Uint32(p.InstanceTag), profileNow); err != nil {
			t.Errorf("Validate = %v", err)
		}
		// Rebuilt from the keys, the profile is byte-exact.
		id, _ := otrcrypto.NewEdDSAPrivateKey(p.IdentitySecretKey)
		fk, _ := otrcrypto.NewEdDSAPrivateKey(p.ForgingSecretKey)
		forging := fk.Public()
		own, err := NewClientProfile(nil, prof.InstanceTag(), id, &forging, prof.Versions(), prof.Expiration(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if !own.Equal(prof) {
			t.Errorf("NewClientProfile differs from otr4j's profile")
		}
	}

	bobFirstECDH, aliceFirstECDH := mustPoint(t, f.Identity.FirstECDH.Public), mustPoint(t, f.AuthR.FirstECDH.Public)
	Y, X := mustPoint(t, f.Identity.Y.Public), mustPoint(t, f.AuthR.X.Public)

	cases := []struct {
		name     string
		authI    bool
		usage    otrcrypto.KDFUsage
		phiInput []byte
		input    []byte
		phi, t   []byte
	}{
		{"auth_r", false, otrcrypto.UsageAuthRPhi,
			phiInput(aliceTag, bobTag, aliceFirstECDH, f.AuthR.FirstDH.Public, bobFirstECDH, f.Identity.FirstDH.Public, alice.AccountID, bob.AccountID),
			f.AuthR.PhiInput, f.AuthR.Phi, f.AuthR.T},
		{"auth_i", true, otrcrypto.UsageAuthIPhi,
			phiInput(bobTag, aliceTag, bobFirstECDH, f.Identity.FirstDH.Public, aliceFirstECDH, f.AuthR.FirstDH.Public, bob.AccountID, alice.AccountID),
			f.AuthI.PhiInput, f.AuthI.Phi, f.AuthI.T},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Equal(tc.phiInput, tc.input) {
				t.Errorf("phi input = %x, want %x", tc.phiInput, tc.input)
			}
			ph := phi(tc.usage, tc.phiInput)
			if !bytes.Equal(ph[:], tc.phi) {
				t.Errorf("phi = %x, want %x", ph, tc.phi)
			}
			got := authT(tc.authI, bob.ClientProfile, alice.ClientProfile, Y, X, f.Identity.B.Public, f.AuthR.A.Public, &ph)
			if !bytes.Equal(got, tc.t) {
				t.Errorf("t = %x, want %x", got, tc.t)
			}
		})
	}

	// Shared secret from both sides' ephemeral keys.
	x, err := otrcrypto.NewECDHPrivateKey(f.AuthR.X.R)
	if err != nil {
		t.Fatal(err)
	}
	a, err := otrcrypto.NewDH3072PrivateKey(f.AuthR.A.R)
	if err != nil {
		t.Fatal(err)
	}
	B, err := otrcrypto.ParseDH3072PublicKey(f.Identity.B.Public)
	if err != nil {
		t.Fatal(err)
	}
	kECDH, err := x.SharedSecret(Y)
	if err != nil {
		t.Fatal(err)
	}
	kDH, err := a.SharedSecret(B)
	if err != nil {
		t.Fatal(err)
	}
	K, brace := sharedSecret(&kECDH, kDH)
	if !bytes.Equal(brace[:], f.Shared.BraceKey) || !bytes.Equal(K[:], f.Shared.K) {
		t.Errorf("brace_key, K = %x, %x, want %x, %x", brace, K, []byte(f.Shared.BraceKey), []byte(f.Shared.K))
	}
	if s := ssid(&K); !bytes.Equal(s[:], f.Shared.SSID) {
		t.Errorf("ssid = %x, want %x", s, []byte(f.Shared.SSID))
	}
	if r := firstRootKey(&K); !bytes.Equal(r[:], f.Shared.FirstRootKey) {
		t.Errorf("first root key = %x, want %x", r, []byte(f.Shared.FirstRootKey))
	}
}
