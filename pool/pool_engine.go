package pool

// An engine runs a pool's calls: the local one (pool_loop.go) on worker
// processes of this machine, or the remote one (pool_remote.go) on
// workers a transport reaches (pool/cluster). The caller's side
// (pool_call.go) is the same for both: it cuts calls into chunks, submits
// them, and decodes what the engine delivers to each call's mailbox.
//
// None of the methods waits for a worker or a caller; stop returns at
// once too, and p.done closes once the engine is over.
type engine interface {
	// submitCall queues a call's chunks (at least one).
	submitCall(chunks []*chunk) error
	// cancelCall drops a call whose caller went away.
	cancelCall(cs *callState)
	// stop begins Close (terminate false: run what was submitted first)
	// or Terminate.
	stop(terminate bool)
	// workerStats returns the figures of the workers the engine knows.
	workerStats() []WorkerStats
}

func (l *localEngine) submitCall(chunks []*chunk) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.over {
		return l.p.stopped()
	}
	err := l.submit(chunks)
	l.settle()
	return err
}

func (l *localEngine) cancelCall(cs *callState) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.over {
		l.cancel(cs)
		l.settle()
	}
}

func (l *localEngine) stop(terminate bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.over {
		l.shut(terminate)
		l.settle()
	}
}

func (l *localEngine) workerStats() []WorkerStats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.stats()
}
