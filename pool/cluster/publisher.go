package cluster

// A publisher sends messages to JetStream without waiting for each
// acknowledgement, and sends again, after a pause, each message whose
// acknowledgement failed or did not come within pubAckWait (a server
// restarting, a connection lost). Every message carries a Nats-Msg-Id,
// so a message the server stored but whose acknowledgement was lost is
// stored once: the stream's duplicate window (2 minutes) drops the
// second.
//
// Its queue is unbounded, so send never waits: the pool's engine calls it
// holding its mutex. One goroutine publishes what is queued; idle reports
// when everything sent has been acknowledged (a worker waits for that
// before it acknowledges the chunk whose results they are).

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const (
	pubAckWait  = 5 * time.Second
	pubRetry    = 250 * time.Millisecond
	pubInFlight = 1024
)

type publisher struct {
	js   jetstream.JetStream
	skip func(*nats.Msg) bool // drop instead of sending (a cancelled call's)

	mu       sync.Mutex
	queue    []*nats.Msg
	inflight int
	changed  chan struct{} // a token when queue or inflight changed
	empty    chan struct{} // a token when both went to nothing
	quit     chan struct{}
	done     chan struct{}
}

// newPublisher returns a publisher and the JetStream options that route
// acknowledgements to it; start it once js is made with them.
func newPublisher(skip func(*nats.Msg) bool) (*publisher, []jetstream.JetStreamOpt) {
	p := &publisher{skip: skip, changed: make(chan struct{}, 1), empty: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	return p, []jetstream.JetStreamOpt{
		jetstream.WithPublishAsyncTimeout(pubAckWait),
		jetstream.WithPublishAsyncMaxPending(pubInFlight),
		jetstream.WithPublishAsyncAckHandler(func(jetstream.JetStream, *nats.Msg, *jetstream.PubAck) { p.acked(nil) }),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, _ error) { p.acked(m) }),
	}
}

func (p *publisher) start(js jetstream.JetStream) {
	p.js = js
	go p.run()
}

func (p *publisher) poke() {
	select {
	case p.changed <- struct{}{}:
	default:
	}
}

// send queues m (with its Nats-Msg-Id header set).
func (p *publisher) send(m *nats.Msg) {
	p.mu.Lock()
	p.queue = append(p.queue, m)
	p.mu.Unlock()
	p.poke()
}

// acked is the end of one message in flight: failed, if m is given, and
// queued again after a pause.
func (p *publisher) acked(failed *nats.Msg) {
	p.mu.Lock()
	p.inflight--
	if failed == nil && p.inflight == 0 && len(p.queue) == 0 {
		select {
		case p.empty <- struct{}{}:
		default:
		}
	}
	p.mu.Unlock()
	p.poke()
	if failed != nil {
		time.AfterFunc(pubRetry, func() {
			select {
			case <-p.quit:
			default:
				p.send(failed)
			}
		})
	}
}

func (p *publisher) run() {
	defer close(p.done)
	for {
		select {
		case <-p.changed:
		case <-p.quit:
			return
		}
		for {
			p.mu.Lock()
			if len(p.queue) == 0 || p.inflight >= pubInFlight {
				p.mu.Unlock()
				break
			}
			m := p.queue[0]
			p.queue[0] = nil
			p.queue = p.queue[1:]
			p.inflight++
			p.mu.Unlock()
			if p.skip != nil && p.skip(m) {
				p.acked(nil)
				continue
			}
			if _, err := p.js.PublishMsgAsync(m); err != nil {
				p.acked(m) // not sent at all: again after a pause
			}
		}
	}
}

// idle waits until everything sent has been acknowledged, or ctx ends.
func (p *publisher) idle(ctx context.Context) error {
	for {
		p.mu.Lock()
		n := len(p.queue) + p.inflight
		p.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.empty:
		}
	}
}

// stop ends the publisher; what is unsent stays unsent.
func (p *publisher) stop() {
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	<-p.done
}
