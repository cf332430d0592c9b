// Command otrtool reads OTR messages, inspects and converts keys, and
// demonstrates what OTR's deniability means, for people who debug OTR
// clients. It understands OTR version 3 and OTRv4, as the module
// github.com/otrgo/otr speaks them.
//
// Usage:
//
//	otrtool parse [-json] [FILE...]
//	otrtool fingerprint [-json] KEYFILE...
//	otrtool keygen [-force] -o KEYFILE
//	otrtool import-libotr [-account NAME] [-protocol PROTO] [-v4=true] [-force] -o KEYFILE otr.private_key
//	otrtool forge [-v3|-v4] [-line N] (-mackey HEX | -reveal FILE | -enckey HEX) [-guess TEXT [-offset N]] -text TEXT [MSGFILE]
//	otrtool forge-dake -keys KEYFILE -alice ID -bob ID [TRANSCRIPT]
//
// Every subcommand takes -h.
//
// parse reads OTR wire messages, one per line, from the files named or from
// standard input, reassembles OTR3 and OTRv4 fragments, and prints every
// field of every message: one block of "field: value" lines per message, or
// one JSON object per line with -json. A line that cannot be read gets one
// error line on standard error and parse goes on with the next; the exit
// status is 1 if any line failed.
//
// fingerprint prints the OTR3 and OTRv4 fingerprints of a key file of this
// module (otr.PrivateKeys.MarshalBinary) or of libotr's otr.private_key, in
// the forms otr.Fingerprint.String shows (see docs/fingerprints.md).
//
// keygen makes new OTR3 and OTRv4 identity keys; import-libotr converts an
// account's DSA key from libotr's otr.private_key to a key file of this
// module, adding new OTRv4 keys unless -v4=false.
//
// forge is the deniability demonstration of libotr's otr_modify,
// otr_remac and otr_readforge, for OTR3 and OTRv4 data messages: given a
// data message, the MAC key a later message of the same conversation
// revealed and a guess of the original text, it writes a data message with
// other text whose MAC verifies under that key. forge-dake does the same
// for OTRv4's key exchange: with one participant's forging key it makes the
// other participant's Auth-R or Auth-I message anew, and the ring signature
// verifies as the real one does. See "otrtool forge -h", "otrtool
// forge-dake -h" and docs/deniability.md in the repository.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(env *env, args []string) error
}

var commands = []command{
	{"parse", "print every field of OTR messages (files or standard input, one per line)", runParse},
	{"fingerprint", "print the OTR3 and OTRv4 fingerprints of key files", runFingerprint},
	{"keygen", "make new OTR3 and OTRv4 identity keys", runKeygen},
	{"import-libotr", "convert an account's key from libotr's otr.private_key", runImportLibotr},
	{"forge", "forge a data message with a revealed MAC key (deniability demonstration)", runForge},
	{"forge-dake", "forge an OTRv4 DAKE message with a forging key (deniability demonstration)", runForgeDAKE},
}

// env is what a subcommand may touch: its input and output streams and
// its random source.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// rand is the source of new keys; nil means crypto/rand. Tests set a
	// seeded one.
	rand io.Reader
}

// errUsage reports bad arguments; the flag package has printed the usage.
var errUsage = errors.New("usage")

// errFailed reports that some input was rejected and the error already
// printed; the exit status is 1 without another message.
var errFailed = errors.New("failed")

// run runs otrtool with args (without the program name) and returns the
// exit status: 0 on success, 1 when the work failed, 2 for bad usage.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return runEnv(&env{stdin: stdin, stdout: stdout, stderr: stderr}, args)
}

// runEnv is run with a given environment.
func runEnv(e *env, args []string) int {
	stdout, stderr := e.stdout, e.stderr
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	name := args[0]
	if name == "-h" || name == "-help" || name == "--help" || name == "help" {
		usage(stdout)
		return 0
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(e, args[1:])
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			return 2
		case errors.Is(err, errFailed):
			return 1
		}
		fmt.Fprintf(stderr, "otrtool %s: %v\n", name, err)
		return 1
	}
	fmt.Fprintf(stderr, "otrtool: unknown command %q\n", name)
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: otrtool COMMAND [flags] [arguments]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-14s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun \"otrtool COMMAND -h\" for a command's flags.")
}

// newFlagSet returns a flag set for subcommand name that prints its usage,
// the text doc and the flags to e's standard error.
func newFlagSet(e *env, name, synopsis, doc string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: otrtool %s %s\n\n", name, synopsis)
		fmt.Fprint(w, strings.TrimLeft(doc, "\n"))
		if hasFlags(fs) {
			fmt.Fprintln(w, "\nflags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parseFlags parses args with fs. -h prints the usage to standard output
// and returns flag.ErrHelp; another error returns errUsage (the flag
// package printed it with the usage).
func parseFlags(e *env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "-help" || a == "--help" {
			fs.SetOutput(e.stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	return nil
}
