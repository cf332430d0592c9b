package filehost

import (
	"bytes"
	"reflect"
	"testing"
)

// The fuzz targets check the JSON files' parsers: no panic; an error
// returns nothing; what parses is written back and reads the same, and
// writing is canonical (a second write gives the same bytes).

func FuzzParseAccount(f *testing.F) {
	f.Add([]byte("{\n  \"format\": 1,\n  \"instance_tag\": \"8d1a0b3c\",\n  \"client_profile\": \"cHJvZmlsZSBieXRlcw==\"\n}\n"))
	f.Add([]byte(`{"format":1}`))
	f.Add([]byte(`{"format":1,"instance_tag":"00000100","client_profile":""}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		tag, profile, err := parseAccount(in)
		if err != nil {
			if tag != 0 || profile != nil {
				t.Fatalf("parseAccount() = %#x, %q and error %v", tag, profile, err)
			}
			return
		}
		out, err := marshalAccount(tag, profile)
		if err != nil {
			t.Fatal(err)
		}
		tag2, profile2, err := parseAccount(out)
		if err != nil || tag2 != tag || !bytes.Equal(profile2, profile) {
			t.Fatalf("parseAccount(marshalAccount(%#x, %q)) = %#x, %q, %v", tag, profile, tag2, profile2, err)
		}
		if again, _ := marshalAccount(tag2, profile2); !bytes.Equal(again, out) {
			t.Fatalf("second marshalAccount() = %q, want %q", again, out)
		}
	})
}

func FuzzParseTrust(f *testing.F) {
	f.Add([]byte(`{"format": 1, "contacts": {"bob@example.org": [
		{"fingerprint": "ABABABAB ABABABAB ABABABAB ABABABAB ABABABAB", "trust": "verified"},
		{"fingerprint": "` + string(bytes.Repeat([]byte("cd"), 56)) + `", "trust": "untrusted"}],
		"carol": [{"fingerprint": "0101010101010101010101010101010101010101", "trust": "smp"}]}}`))
	f.Add([]byte(`{"format":1,"contacts":{}}`))
	f.Add([]byte(`{"format":1,"contacts":null}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		trust, err := parseTrust(in)
		if err != nil {
			if trust != nil {
				t.Fatalf("parseTrust() = %v and error %v", trust, err)
			}
			return
		}
		out, err := marshalTrust(trust)
		if err != nil {
			t.Fatal(err)
		}
		trust2, err := parseTrust(out)
		if err != nil || !reflect.DeepEqual(trust2, trust) {
			t.Fatalf("parseTrust(marshalTrust(%v)) = %v, %v", trust, trust2, err)
		}
		if again, _ := marshalTrust(trust2); !bytes.Equal(again, out) {
			t.Fatalf("second marshalTrust() = %q, want %q", again, out)
		}
	})
}

func FuzzParsePolicies(f *testing.F) {
	f.Add([]byte(`{"format": 1, "policies": {"bob@example.org": "ALLOW_V3|ALLOW_V4|REQUIRE_ENCRYPTION", "dave": "NEVER"}}`))
	f.Add([]byte(`{"format": 1, "policies": {"x": "ALLOW_V3|0xffffffc0"}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		policies, err := parsePolicies(in)
		if err != nil {
			if policies != nil {
				t.Fatalf("parsePolicies() = %v and error %v", policies, err)
			}
			return
		}
		out, err := marshalPolicies(policies)
		if err != nil {
			t.Fatal(err)
		}
		policies2, err := parsePolicies(out)
		if err != nil || !reflect.DeepEqual(policies2, policies) {
			t.Fatalf("parsePolicies(marshalPolicies(%v)) = %v, %v", policies, policies2, err)
		}
		if again, _ := marshalPolicies(policies2); !bytes.Equal(again, out) {
			t.Fatalf("second marshalPolicies() = %q, want %q", again, out)
		}
	})
}

func FuzzParsePrekeys(f *testing.F) {
	f.Add([]byte(`{"format": 1, "prekeys": {"0a1b2c3d": {"secret": "AQEBAQEBAQE=", "delete_after": "2025-03-09T12:00:00Z"}},
		"prekey_profile": "cHJla2V5IHByb2ZpbGU=", "shared_prekey_secret": "c2hhcmVkIHNlY3JldA=="}`))
	f.Add([]byte(`{"format":1,"prekeys":{"ffffffff":{"secret":"AQ==","delete_after":"9999-12-31T23:59:59.999999999Z"}}}`))
	f.Add([]byte(`{"format":1,"prekeys":{"0000abcd":{"secret":"AQE=","secret":"AQE=","delete_after":"0001-01-01T00:00:00Z"}}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := parsePrekeys(in)
		if err != nil {
			if !reflect.DeepEqual(p, prekeyState{}) {
				t.Fatalf("parsePrekeys() = %+v and error %v", p, err)
			}
			return
		}
		out, err := marshalPrekeys(p)
		if err != nil {
			t.Fatal(err)
		}
		p2, err := parsePrekeys(out)
		if err != nil || !reflect.DeepEqual(p2, p) {
			t.Fatalf("parsePrekeys(marshalPrekeys(%+v)) = %+v, %v", p, p2, err)
		}
		if again, _ := marshalPrekeys(p2); !bytes.Equal(again, out) {
			t.Fatalf("second marshalPrekeys() = %q, want %q", again, out)
		}
	})
}
