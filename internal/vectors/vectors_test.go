package vectors

import (
	"bytes"
	"encoding/json"
	"testing"
)

func TestHex(t *testing.T) {
	var v struct{ B Hex }
	if err := json.Unmarshal([]byte(`{"B":"00ff10"}`), &v); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(v.B, []byte{0, 0xff, 0x10}) {
		t.Errorf("Hex = %x", []byte(v.B))
	}
	if err := json.Unmarshal([]byte(`{"B":"0g"}`), &v); err == nil {
		t.Errorf("bad hex: no error")
	}
	out, err := json.Marshal(Hex{0xab})
	if err != nil || string(out) != `"ab"` {
		t.Errorf("Marshal = %s, %v", out, err)
	}
}

func TestLoad(t *testing.T) {
	var f struct {
		Source  string `json:"source"`
		Vectors []struct {
			Signature Hex `json:"signature"`
		} `json:"vectors"`
	}
	Load(t, "ed448/rfc8032.json", &f)
	if f.Source == "" || len(f.Vectors) == 0 || len(f.Vectors[0].Signature) != 114 {
		t.Errorf("Load: source %q, %d vectors", f.Source, len(f.Vectors))
	}
}
