// Command tour is the first thing to run: a guided walk through multiproc,
// each step between real OS processes (this program re-executed as a child).
//
//	go run ./examples/tour
package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/multiproc/multiproc/shm"
)

const childEnv = "MULTIPROC_TOUR_CHILD"

func main() {
	if role := os.Getenv(childEnv); role != "" {
		if err := child(role, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "tour:", err)
		os.Exit(1)
	}
}

func run() error {
	fmt.Println("multiproc tour")
	fmt.Println()
	fmt.Println("1. A shared-memory segment, written by a child process")
	seg, err := shm.Create("", 4096)
	if err != nil {
		return err
	}
	defer seg.Unlink()
	defer seg.Close()
	fmt.Printf("   parent %d created /dev/shm/%s (%d bytes)\n", os.Getpid(), seg.Name(), seg.Size())
	if err := spawn("write-greeting", seg.Name()); err != nil {
		return err
	}
	msg := string(seg.Bytes()[:strings.IndexByte(string(seg.Bytes()), 0)])
	fmt.Printf("   parent reads: %q\n", msg)
	fmt.Println()
	fmt.Println("done: every object this tour made is gone from /dev/shm.")
	return nil
}

func child(role string, args []string) error {
	switch role {
	case "write-greeting":
		seg, err := shm.Open(args[0])
		if err != nil {
			return err
		}
		defer seg.Close()
		copy(seg.Bytes(), fmt.Sprintf("hello from child %d", os.Getpid()))
		fmt.Printf("   child %d wrote its greeting\n", os.Getpid())
		return nil
	}
	return fmt.Errorf("unknown role %q", role)
}

// spawn runs this program again as a child with the given role and waits.
func spawn(role string, args ...string) error {
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), childEnv+"="+role)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd.Run()
}
