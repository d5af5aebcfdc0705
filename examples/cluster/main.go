// Command cluster runs a Pool's Map on workers reached through NATS
// JetStream (package pool/cluster): the same registered function and the
// same Map call as on a local Pool, with workers that may be on other
// machines.
//
// With no server given, it shows the whole thing on one machine: it
// starts an embedded NATS server on 127.0.0.1 (a free port, storage in a
// temporary directory), two worker processes pointed at it, runs a Map,
// prints the result, and shuts everything down.
//
//	go run ./examples/cluster
//
// With a real server (nats-server -js), the program is the caller, and
// each worker machine runs the same binary with one setting, WORKER_OF:
//
//	nats-server -js -sd /var/lib/nats                  # the server, on queue.example
//	go build -o cluster ./examples/cluster
//	WORKER_OF=nats://queue.example:4222 ./cluster       # each worker machine: serves until ^C
//	./cluster -url nats://queue.example:4222 -workers 0 # the caller: the Map, on their workers
//
// -url may come from NATS_URL instead; -workers starts that many worker
// processes on the caller's machine too (default 2); on a worker machine
// it is how many to run (default: one per CPU). -creds and -ca pass a
// NATS credentials file and the CA that signed the server's certificate
// to the caller and the workers alike. -n is the number of tasks.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/pool/cluster"
	"github.com/multiproc/multiproc/pool/cluster/embedded"
)

// square is registered by name, so that workers of another build of this
// program still know it (a worker of a build whose registry differs
// refuses the tasks rather than run the wrong code).
var square = pool.RegisterName("examples/cluster.square", func(ctx context.Context, x int) (int, error) {
	return x * x, nil
})

func main() {
	pool.Init() // in a worker process: serves, and never returns
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", os.Getenv("NATS_URL"), "the NATS server (default $NATS_URL; none: an embedded one on 127.0.0.1)")
	workers := flag.Int("workers", 2, "worker processes to start on this machine (on a worker machine: one per CPU)")
	n := flag.Int("n", 10, "tasks: the Map is of x*x over 0 … n-1")
	creds := flag.String("creds", "", "a NATS credentials file, for the caller and the workers")
	ca := flag.String("ca", "", "the CA certificate that signed the server's, for the caller and the workers")
	flag.Parse()
	var opts []cluster.Option
	if *creds != "" {
		opts = append(opts, cluster.Credentials(*creds))
	}
	if *ca != "" {
		opts = append(opts, cluster.RootCA(*ca))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if serve := os.Getenv("WORKER_OF"); serve != "" {
		// A worker machine.
		flag.Visit(func(f *flag.Flag) {
			if f.Name == "workers" {
				opts = append(opts, cluster.Processes(*workers))
			}
		})
		fmt.Printf("serving the Pools of %s until interrupted\n", serve)
		return cluster.Serve(ctx, serve, opts...)
	}

	if *url == "" {
		if *workers < 1 {
			return errors.New("-workers 0 with the embedded server: nobody else can reach it, so nothing would run the tasks")
		}
		srv, err := embedded.Start(embedded.Options{})
		if err != nil {
			return err
		}
		defer srv.Close() // after the workers and the pool: defers run last first
		*url = srv.URL()
		fmt.Println("NATS server: embedded, on 127.0.0.1 (a free port, temporary storage)")
	} else {
		fmt.Printf("NATS server: %s\n", *url)
	}
	if *workers > 0 {
		w, err := cluster.StartWorkers(*url, append(opts, cluster.Processes(*workers))...)
		if err != nil {
			return err
		}
		defer w.Close()
		fmt.Printf("workers: %d processes on this machine\n", *workers)
	}

	// From here on, the code of a local Pool.
	p, err := pool.New(cluster.Connect(*url, opts...))
	if err != nil {
		return err
	}
	defer p.Close()
	xs := make([]int, *n)
	for i := range xs {
		xs[i] = i
	}
	out, err := square.Map(ctx, p, xs)
	if err != nil {
		return err
	}
	fmt.Println(out)
	return nil
}
