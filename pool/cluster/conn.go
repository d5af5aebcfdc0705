package cluster

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log"
	"os"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/multiproc/multiproc/pool/internal/remote"
)

// protocolVersion is the version of what travels in the messages below;
// it is part of the fingerprint, so a worker never decodes another
// version's chunks.
const protocolVersion = 1

// Header names.
const (
	hdrFingerprint = "Multiproc-Fingerprint" // tasks: the caller's build
	hdrLimit       = "Multiproc-Limit"       // tasks: MaxDeliver
	hdrSeq         = "Multiproc-Seq"         // tasks and reports: the chunk
	hdrKind        = "Multiproc-Kind"        // reports: one of the kinds below
	hdrWorker      = "Multiproc-Worker"      // reports: "host pid N"
	hdrPID         = "Multiproc-Pid"
	hdrDeliveries  = "Multiproc-Deliveries" // lost: how often it was delivered
	hdrReason      = "Multiproc-Reason"     // refused: "build" or "corrupt"
)

// Kinds of report on a pool's result subject.
const (
	kindResults = "results" // a batch of outcomes: the body is remote.Results
	kindStarted = "started" // a worker took the chunk's last allowed delivery
	kindLost    = "lost"    // delivered past the limit: the body says why
	kindRefused = "refused" // a worker would not run it: the body says why
)

// fingerprint is this build's: the registry's (names and types), the
// multiproc module's version, the architecture (raw layouts), the
// protocol's version; with salt (tests) mixed in.
func fingerprint(salt string) string {
	h := fnv.New64a()
	version := "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version = bi.Main.Path + "@" + bi.Main.Version
		for _, d := range bi.Deps {
			if d.Path == "github.com/multiproc/multiproc" {
				version = d.Path + "@" + d.Version
			}
		}
	}
	fmt.Fprintf(h, "%x %s %s %d %s", remote.Pool.Fingerprint(), version, runtime.GOARCH, protocolVersion, salt)
	return fmt.Sprintf("%016x", h.Sum64())
}

// connect dials the server with o's credentials and TLS, reconnecting for
// ever (a pool outlives a server restart).
func connect(o connOptions, extra []nats.Option) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.MaxReconnects(-1),
		nats.ReconnectWait(o.Reconnect),
		nats.ReconnectJitter(0, 0),
		nats.RetryOnFailedConnect(false),
	}
	if o.Reconnect == 0 {
		opts[1] = nats.ReconnectWait(250 * time.Millisecond)
	}
	if o.Name != "" {
		opts = append(opts, nats.Name(o.Name))
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.NKey != "" {
		opt, err := nats.NkeyOptionFromSeed(o.NKey)
		if err != nil {
			return nil, fmt.Errorf("cluster: NKeyFile(%q): %w", o.NKey, err)
		}
		opts = append(opts, opt)
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.CertFile != "" {
		opts = append(opts, nats.ClientCert(o.CertFile, o.KeyFile))
	}
	if o.CAFile != "" {
		opts = append(opts, nats.RootCAs(o.CAFile))
	}
	if o.TLS {
		opts = append(opts, nats.Secure())
	}
	opts = append(opts, extra...)
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connecting to %s: %w", o.URL, err)
	}
	return nc, nil
}

// ensureStreams makes the prefix's streams, or finds them made. A stream
// made already keeps its settings (its storage among them).
func ensureStreams(ctx context.Context, js jetstream.JetStream, n names, memory bool) error {
	storage := jetstream.FileStorage
	if memory {
		storage = jetstream.MemoryStorage
	}
	cfgs := []jetstream.StreamConfig{
		{
			Name: n.tasks, Subjects: []string{n.prefix + ".task.>"}, Retention: jetstream.WorkQueuePolicy,
			Storage: storage, Description: "multiproc: tasks of Pools, taken by workers",
		},
		{
			// Results are read by their pool as they come and purged as it
			// goes; MaxAge removes those of a pool that died.
			Name: n.results, Subjects: []string{n.prefix + ".result.>"}, Retention: jetstream.LimitsPolicy,
			Storage: storage, MaxAge: time.Hour, Description: "multiproc: results of tasks, read by their Pool",
		},
		{
			// A pool's lease: its last renewal, which expires by its TTL.
			Name: n.leases, Subjects: []string{n.prefix + ".lease.>"}, Retention: jetstream.LimitsPolicy,
			Storage: storage, MaxMsgsPerSubject: 1, AllowMsgTTL: true, AllowDirect: true,
			Description: "multiproc: leases of live Pools",
		},
	}
	for _, cfg := range cfgs {
		if _, err := js.Stream(ctx, cfg.Name); err == nil {
			continue
		} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("cluster: stream %s: %w", cfg.Name, err)
		}
		if _, err := js.CreateStream(ctx, cfg); err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return fmt.Errorf("cluster: creating stream %s: %w", cfg.Name, err)
		}
	}
	return nil
}

// logger returns o's log function.
func (o *options) logger() func(string, ...any) {
	if o.logf != nil {
		return o.logf
	}
	l := log.New(os.Stderr, "", log.LstdFlags)
	return l.Printf
}
