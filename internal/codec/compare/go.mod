module github.com/multiproc/multiproc/internal/codec/compare

go 1.26.0

replace github.com/multiproc/multiproc => ../../..

require (
	github.com/fxamacker/cbor/v2 v2.10.0
	github.com/multiproc/multiproc v0.0.0-00010101000000-000000000000
	github.com/vmihailenco/msgpack/v5 v5.4.1
)

require (
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	github.com/x448/float16 v0.8.4 // indirect
)
