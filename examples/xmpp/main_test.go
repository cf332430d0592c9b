package main

import (
	"testing"

	"github.com/otrgo/otr"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in      string
		want    command
		wantErr bool
	}{
		{in: "hello there", want: command{text: "hello there"}},
		{in: "//otr is a command", want: command{text: "/otr is a command"}},
		{in: "/chat bob@example.org/phone", want: command{verb: "chat", text: "bob@example.org"}},
		{in: "/chat example.org", wantErr: true},
		{in: "/chat", wantErr: true},
		{in: "/otr", want: command{verb: "otr"}},
		{in: "/otr now", wantErr: true},
		{in: "/end", want: command{verb: "end"}},
		{in: "/smp Lisboa", want: command{verb: "smp", text: "Lisboa"}},
		{in: "/smp Where did we meet? Lisboa", want: command{verb: "smp", question: "Where did we meet?", text: "Lisboa"}},
		{in: "/smp", wantErr: true},
		{in: "/answer Lisboa", want: command{verb: "answer", text: "Lisboa"}},
		{in: "/answer", wantErr: true},
		{in: "/fp", want: command{verb: "fp"}},
		{in: "/trust", want: command{verb: "trust"}},
		{in: "/instances", want: command{verb: "instances"}},
		{in: "/to 8d1a0b3c", want: command{verb: "to", text: "8d1a0b3c", instance: 0x8d1a0b3c}},
		{in: "/to 0", want: command{verb: "to", text: "0"}},
		{in: "/to auto", want: command{verb: "to", text: "auto"}},
		{in: "/to ff", wantErr: true},
		{in: "/to xyz", wantErr: true},
		{in: "/to 100000000", wantErr: true},
		{in: "/quit", want: command{verb: "quit"}},
		{in: "/who", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseCommand(tc.in)
			if (err != nil) != tc.wantErr {
				t.Fatalf("parseCommand(%q) error = %v, want error %v", tc.in, err, tc.wantErr)
			}
			if err == nil && got != tc.want {
				t.Errorf("parseCommand(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParsePolicy(t *testing.T) {
	tests := []struct {
		in      string
		want    otr.Policy
		wantErr bool
	}{
		{in: "", want: otr.DefaultPolicy},
		{in: "v3,v4,require", want: otr.AllowV3 | otr.AllowV4 | otr.RequireEncryption},
		{in: "default,require", want: otr.DefaultPolicy | otr.RequireEncryption},
		{in: "require", wantErr: true},
		{in: "v5", wantErr: true},
	}
	for _, tc := range tests {
		got, err := parsePolicy(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("parsePolicy(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}
