module github.com/multiproc/multiproc

go 1.26.0

require (
	github.com/edsrzf/mmap-go v1.2.0
	github.com/gofrs/flock v0.13.1
	golang.org/x/sys v0.49.0
)
