package handle

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestGuardWaitsForUsersAndRefusesNewOnes(t *testing.T) {
	g := NewGuard()
	if !g.Enter() {
		t.Fatal("Enter on an open guard failed")
	}
	if !g.Close() || g.Close() {
		t.Fatal("Close must report true exactly once")
	}
	if g.Enter() {
		t.Fatal("Enter after Close succeeded")
	}
	select {
	case <-g.Closing():
	default:
		t.Fatal("Closing not closed after Close")
	}
	var kicks atomic.Int32
	done := make(chan struct{})
	go func() { g.Wait(func() { kicks.Add(1) }); close(done) }()
	for kicks.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatal("Wait returned while a user was inside")
	default:
	}
	g.Exit()
	<-done
}

func TestGateParksOthersUntilTheHolderLeaves(t *testing.T) {
	var g Gate
	if g.Take() != nil {
		t.Fatal("first Take did not make the caller the holder")
	}
	left := g.Take()
	if left == nil {
		t.Fatal("second Take became a holder too")
	}
	g.Leave()
	<-left // closed by Leave
	if g.Take() != nil {
		t.Fatal("Take after Leave did not make the caller the holder")
	}
}
