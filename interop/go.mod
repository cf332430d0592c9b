module github.com/otrgo/otr/interop

go 1.26.0

replace github.com/otrgo/otr => ../
