module github.com/otrgo/otr

go 1.24.0

require (
	filippo.io/bigmod v0.1.0
	github.com/cloudflare/circl v1.6.4
	golang.org/x/crypto v0.48.0
)

require golang.org/x/sys v0.41.0
