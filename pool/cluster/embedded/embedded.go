// Package embedded runs a NATS server with JetStream inside this process,
// listening on loopback only: the one-machine default of pool/cluster, and
// its tests. It is a package of its own so that only programs that embed
// the server link it (a caller or a worker needs only the client).
//
//	srv, err := embedded.Start(embedded.Options{})
//	defer srv.Close()
//	p, err := pool.New(cluster.Connect(srv.URL()))
//
// # Caveats
//
//   - It is the real nats-server, with its defaults: max_payload 1 MiB, no
//     authentication (nobody but this machine's users can reach loopback).
//   - A temporary Dir is removed by Close; a given one is kept, so a
//     server started again on it finds its streams (Restart does that).
package embedded

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configure Start.
type Options struct {
	// Dir holds JetStream's files; "" makes a temporary one that Close
	// removes.
	Dir string
	// Host is the address to listen on; "" is 127.0.0.1. Anything but a
	// loopback address is refused unless Public is set.
	Host   string
	Public bool
	// Port is the port; 0 picks a free one.
	Port int
	// MaxPayload is the largest message in bytes; 0 is the server's 1 MiB.
	MaxPayload int32
	// Log prints the server's log to stderr.
	Log bool
}

// A Server is a running embedded NATS server.
type Server struct {
	opts   Options
	ns     *server.Server
	tmpDir bool
}

// Start starts a server and returns once it takes connections.
func Start(o Options) (*Server, error) {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if ip := net.ParseIP(o.Host); !o.Public && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("embedded: Host %q is not a loopback address: set Public to listen on it", o.Host)
	}
	s := &Server{opts: o}
	if s.opts.Dir == "" {
		dir, err := os.MkdirTemp("", "multiproc-nats-")
		if err != nil {
			return nil, fmt.Errorf("embedded: %w", err)
		}
		s.opts.Dir, s.tmpDir = dir, true
	}
	if err := s.start(); err != nil {
		if s.tmpDir {
			os.RemoveAll(s.opts.Dir)
		}
		return nil, err
	}
	return s, nil
}

func (s *Server) start() error {
	port := s.opts.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	so := &server.Options{
		Host: s.opts.Host, Port: port, JetStream: true, StoreDir: s.opts.Dir,
		NoSigs: true, NoLog: !s.opts.Log, MaxPayload: s.opts.MaxPayload,
		HTTPPort: 0, // no monitoring port: nothing listens but NATS itself
	}
	ns, err := server.NewServer(so)
	if err != nil {
		return fmt.Errorf("embedded: %w", err)
	}
	if s.opts.Log {
		ns.ConfigureLogger()
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return errors.New("embedded: the NATS server did not take connections within 10s")
	}
	s.ns = ns
	if s.opts.Port == 0 {
		// Keep the port: a Restart comes back on it, so clients reconnect.
		s.opts.Port = ns.Addr().(*net.TCPAddr).Port
	}
	return nil
}

// URL is the server's client URL, nats://127.0.0.1:PORT.
func (s *Server) URL() string {
	return "nats://" + net.JoinHostPort(s.opts.Host, strconv.Itoa(s.opts.Port))
}

// Dir is where JetStream keeps its files.
func (s *Server) Dir() string { return s.opts.Dir }

// Restart shuts the server down and starts it again on the same port and
// files (tests of a server that restarts mid-map).
func (s *Server) Restart() error {
	s.ns.Shutdown()
	s.ns.WaitForShutdown()
	return s.start()
}

// Close shuts the server down, and removes a temporary Dir.
func (s *Server) Close() error {
	if s.ns != nil {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	}
	if s.tmpDir {
		return os.RemoveAll(s.opts.Dir)
	}
	return nil
}
