module github.com/otrgo/otr/interop

go 1.26.0

replace github.com/otrgo/otr => ../

require github.com/otrgo/otr v0.0.0

require (
	filippo.io/bigmod v0.1.0 // indirect
	github.com/cloudflare/circl v1.6.5 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
