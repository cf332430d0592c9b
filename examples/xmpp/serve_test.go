package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"testing"
)

var serve = flag.Bool("serve", false, "TestLocalServer: run a prosody for trying the client by hand, until interrupted")

// TestLocalServer is a tool, not a check: with -serve it starts a prosody
// configured as the end-to-end test's (127.0.0.1, its own certificate, 16
// KiB stanzas) with the users alice and bob, prints how to log in as each,
// and runs until interrupted (Ctrl-C).
//
//	go test -run TestLocalServer -v -timeout 0 -args -serve
func TestLocalServer(t *testing.T) {
	if !*serve {
		t.Skip("a tool: run with -args -serve (see README, \"Use it over XMPP\")")
	}
	srv := startProsody(t, "alice", "bob")
	for _, u := range []string{"alice", "bob"} {
		path := filepath.Join(srv.dir, u+".password")
		if err := os.WriteFile(path, []byte(srv.passwords[u]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	wd, _ := os.Getwd()
	fmt.Printf("prosody is listening on %s (data, log and certificate in %s). In two terminals, in %s:\n\n", srv.addr(), srv.dir, wd)
	for _, u := range [][2]string{{"alice", "bob"}, {"bob", "alice"}} {
		fmt.Printf("  go run . -jid %s@localhost -to %s@localhost -server %s -ca %s -password-file %s -dir %s -stanza-limit %d\n",
			u[0], u[1], srv.addr(), srv.caFile, filepath.Join(srv.dir, u[0]+".password"), filepath.Join(srv.dir, u[0]+".otr"), stanzaLimit)
	}
	fmt.Printf("\nCtrl-C stops the server.\n")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	<-ctx.Done()
}
