package cluster

import (
	"fmt"
	"os"
	"strconv"

	"github.com/nats-io/nats.go"

	"github.com/multiproc/multiproc/internal/codec"
	"github.com/multiproc/multiproc/pool/internal/remote"
)

// The bodies of messages are internal/codec's binary format (never the
// raw one: a remote worker may be another machine), the tasks' own
// arguments and results inside as the pool encoded them. Headers carry
// what a worker must read before it trusts the body: the caller's
// fingerprint first.
var (
	chunkCodec   = mustBinary[remote.Chunk]()
	resultsCodec = mustBinary[remote.Results]()
)

func mustBinary[T any]() codec.Codec[T] {
	c, _, err := codec.Binary[T]()
	if err != nil {
		panic(err)
	}
	return c
}

// headerInt reads an integer header; ok is false if it is missing or bad.
func headerInt(h nats.Header, key string) (uint64, bool) {
	v, err := strconv.ParseUint(h.Get(key), 10, 64)
	return v, err == nil
}

// workerName names this process for reports and logs: "host pid N".
func workerName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s pid %d", host, os.Getpid())
}
