package hardening

// Chaos for Pipe, through the public API: the two ends of one duplex pipe
// are held by two worker processes, each sending its numbered stream (a
// goroutine) and receiving the other's (another), some messages in side
// segments. Each round the parent SIGKILLs one of them — after a random
// delay, or armed to die in the codec half-way through a message it
// writes or reads — and then:
//
//  1. The survivor's Recv drains what the victim committed and then fails
//     with ErrPeerDied naming the victim's pid; its Send fills the ring
//     and fails the same way. A pipe that hangs instead fails the round
//     at the test's deadline.
//  2. The victim's operations in doubt are settled exactly: what it sent
//     is what the survivor received (it drained everything); what it
//     received is what the survivor sent less what the pipe still holds
//     (the end's Pending), so a message it took and never recorded is
//     known to be lost with it.
//  3. A replacement process opens the victim's end (taking it over) and
//     goes on with both streams from those exact positions, and the
//     survivor goes on with it. Every message is checked byte for byte
//     and must be the next of its stream: none lost but those, none twice,
//     none out of order.
//
// At the end the parent drains both ends, the creator's Close removes the
// pipe from /dev/shm, and each side segment left there is one a death
// explains. The journal, per end e at e*pjWords:
//
//	pjSent      messages of stream e sent (stored after Send returns)
//	pjSendOn    1 while a Send of message pjSent is under way
//	pjRecvd     messages of the other stream received (after Recv returns)
//	pjRecvOn    1 while a Recv is under way
//	pjSendDied  pid ErrPeerDied named to the sender, once it stopped on it
//	pjRecvDied  the same for the receiver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/multiproc/multiproc/admin"
	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/shmfile"
	"github.com/multiproc/multiproc/pool"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/shm"
)

func init() {
	proctest.Register("chaos-pipe", pipeWorker)
}

const (
	pipeCapacity = 8 << 10 // messages over 2 KiB take a side segment

	pjSent, pjSendOn, pjRecvd, pjRecvOn, pjSendDied, pjRecvDied, pjWords = 0, 1, 2, 3, 4, 5, 8
)

func pMsgSize(d, s int) int {
	h := int(uint32(d+1)*2654435761 ^ uint32(s)*40503)
	if h%13 == 0 {
		return 2100 + h%900
	}
	return 16 + h%240
}

// pMsg is message s of stream d: the layout of a queue chaos item.
func pMsg(d, s int) []byte {
	b := make([]byte, pMsgSize(d, s))
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(d))
	le.PutUint32(b[4:], uint32(s))
	le.PutUint32(b[8:], uint32(len(b)))
	le.PutUint32(b[12:], qCheckWord(d, s))
	for i := 16; i < len(b); i++ {
		b[i] = qFiller(d, s, i)
	}
	return b
}

func pCheckMsg(b []byte) (d, s int, err error) {
	if len(b) < 16 {
		return 0, 0, fmt.Errorf("a message of %d bytes: torn or foreign", len(b))
	}
	le := binary.LittleEndian
	d, s = int(le.Uint32(b[0:])), int(le.Uint32(b[4:]))
	if d > 1 || int(le.Uint32(b[8:])) != len(b) || len(b) != pMsgSize(d, s) || le.Uint32(b[12:]) != qCheckWord(d, s) {
		return 0, 0, fmt.Errorf("message %d/%d of %d bytes: torn or foreign", d, s, len(b))
	}
	for i := 16; i < len(b); i++ {
		if b[i] != qFiller(d, s, i) {
			return 0, 0, fmt.Errorf("message %d/%d: byte %d is %#x, want %#x: torn", d, s, i, b[i], qFiller(d, s, i))
		}
	}
	return d, s, nil
}

var peerPid = regexp.MustCompile(`\(pid (\d+)\)`)

// pipeWorker: args are the control's name, the end (0 or 1), the end's
// name and the journal's. It sends stream e and receives the other from
// the journal's positions until the control says stop; on ErrPeerDied
// each goroutine records the pid named and waits for the next round.
func pipeWorker(args []string) error {
	ctl, err := openControl(args[0])
	if err != nil {
		return err
	}
	e, _ := strconv.Atoi(args[1])
	conn, err := pool.OpenConn[[]byte](args[2], pool.WithCodec[[]byte](qCodec{}))
	if err != nil {
		return err
	}
	seg, err := shm.Open(args[3])
	if err != nil {
		return err
	}
	jw := words(seg.Bytes())
	j := func(f int) int { return e*pjWords + f }
	ctlJ := &control{seg: seg, w: jw}
	qArmed = func() bool { return ctl.get(ctlArm) == uint64(e)+1 }
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(e)))
	var rngMu sync.Mutex
	timeout := func() (context.Context, context.CancelFunc) {
		rngMu.Lock()
		d := time.Duration(500+rng.IntN(4500)) * time.Microsecond
		rngMu.Unlock()
		return context.WithTimeout(context.Background(), d)
	}
	// died records the pid ErrPeerDied named in word f and waits for the
	// parent's next round (or the end).
	died := func(f int, err error) error {
		m := peerPid.FindStringSubmatch(err.Error())
		if m == nil {
			return fmt.Errorf("%w: names no pid", err)
		}
		pid, _ := strconv.Atoi(m[1])
		r := ctl.get(ctlRound)
		ctlJ.set(j(f), uint64(pid))
		for ctl.get(ctlRound) == r && ctl.get(ctlStop) == 0 {
			time.Sleep(100 * time.Microsecond)
		}
		return nil
	}
	send := func() error {
		for ctl.get(ctlStop) == 0 {
			s := ctlJ.get(j(pjSent))
			msg := pMsg(e, int(s))
			ctlJ.set(j(pjSendOn), 1)
			ctx, cancel := timeout()
			err := conn.Send(ctx, msg)
			cancel()
			switch {
			case err == nil:
				ctlJ.set(j(pjSent), s+1)
			case errors.Is(err, context.DeadlineExceeded):
			case errors.Is(err, pool.ErrPeerDied):
				ctlJ.set(j(pjSendOn), 0)
				if err := died(pjSendDied, err); err != nil {
					return err
				}
				continue
			default:
				return fmt.Errorf("Send of %d/%d: %w", e, s, err)
			}
			ctlJ.set(j(pjSendOn), 0)
		}
		return nil
	}
	recv := func() error {
		for ctl.get(ctlStop) == 0 {
			r := ctlJ.get(j(pjRecvd))
			ctlJ.set(j(pjRecvOn), 1)
			ctx, cancel := timeout()
			msg, err := conn.Recv(ctx)
			cancel()
			switch {
			case err == nil:
				d, s, err := pCheckMsg(msg)
				if err != nil {
					return err
				}
				if d != 1-e || s != int(r) {
					return fmt.Errorf("end %d received message %d/%d, want %d/%d: lost, twice or out of order", e, d, s, 1-e, r)
				}
				ctlJ.set(j(pjRecvd), r+1)
			case errors.Is(err, context.DeadlineExceeded):
			case errors.Is(err, pool.ErrPeerDied):
				ctlJ.set(j(pjRecvOn), 0)
				if err := died(pjRecvDied, err); err != nil {
					return err
				}
				continue
			default:
				return fmt.Errorf("Recv of %d/%d: %w", 1-e, r, err)
			}
			ctlJ.set(j(pjRecvOn), 0)
		}
		return nil
	}
	fmt.Println("ready")
	errc := make(chan error, 2)
	go func() { errc <- send() }()
	go func() { errc <- recv() }()
	return errors.Join(<-errc, <-errc)
}

func TestChaosPipe(t *testing.T) {
	proctest.CheckShm(t)
	before := listShmNames()
	// The survivor notices a dead peer between sleeps of this length.
	defer sem.SetPollInterval(sem.SetPollInterval(10 * time.Millisecond))
	a, b, err := pool.Pipe[[]byte](true, pool.Capacity(pipeCapacity), pool.WithCodec[[]byte](qCodec{}))
	if err != nil {
		t.Fatal(err)
	}
	pc := &pipeChaos{t: t, ends: [2]string{a.Name(), b.Name()}, ctl: newControl(t, 1),
		rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 17))}
	pname, _, _ := strings.Cut(a.Name(), ":")
	closed := false
	t.Cleanup(func() {
		if !closed {
			a.Close()
			b.Close()
		}
	})
	seg, err := shm.Create("", 8*2*pjWords)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close(); seg.Unlink() })
	pc.jname, pc.j = seg.Name(), &control{seg: seg, w: words(seg.Bytes())}
	pc.start(0)
	pc.start(1)
	t.Cleanup(func() { pc.ctl.set(ctlStop, 1) })
	kills, until := chaosKills(t)
	n := 0
	for ; n < kills && (until.IsZero() || time.Now().Before(until)); n++ {
		pc.round(n)
		if testing.Verbose() && (n+1)%100 == 0 {
			t.Logf("%d kills", n+1)
		}
	}
	pc.ctl.set(ctlStop, 1)
	for e, w := range pc.w {
		if err := w.Wait(); err != nil {
			t.Fatalf("end %d (pid %d): %v\nstderr:\n%s", e, w.Pid(), err, w.Stderr())
		}
	}
	pc.drain()
	sides := shmfile.SidePrefix(pname, inodeOf(t, pname))
	orphans := pc.orphans(before, sides) // explained while the pipe is open
	a.Close()
	b.Close()
	closed = true
	if _, err := os.Lstat("/dev/shm/" + pname); err == nil {
		t.Errorf("the pipe %s is still in /dev/shm after its creator closed it", pname)
	}
	if left := sideSegments(sides); len(left) != 0 {
		t.Errorf("side segments of the pipe left after its last handle closed: %v", left)
	}
	t.Logf("pipe: %d kills (%d in the codec, mid-write or mid-read), each reported by ErrPeerDied with the victim's pid to the survivor's Send and Recv; %d+%d messages committed, each received exactly once and in order but %d taken by a receiver killed before it recorded them; %d Sends cut by the kill, uncommitted; %d side segments left by the dead, each explained",
		n, pc.armed, pc.j.get(pjSent), pc.j.get(pjWords+pjSent), len(pc.lost), len(pc.uncommitted), orphans)
}

// pipeChaos is the parent's side.
type pipeChaos struct {
	t     *testing.T
	ends  [2]string
	ctl   *control
	j     *control // the journal
	jname string
	w     [2]*proctest.Child
	rng   *rand.Rand
	armed int
	// messages (stream, number) whose fate a death decided
	lost, uncommitted [][2]int
}

func (pc *pipeChaos) start(e int) {
	pc.w[e] = proctest.Start(pc.t, "chaos-pipe", pc.ctl.seg.Name(), strconv.Itoa(e), pc.ends[e], pc.jname)
	pc.w[e].WaitLine("ready")
}

// round kills one end's process, checks what the survivor reports and
// settles the victim's operations (see the file's comment), and starts
// the victim's replacement.
func (pc *pipeChaos) round(n int) {
	t, j := pc.t, pc.j
	v := pc.rng.IntN(2)
	u := 1 - v
	w := pc.w[v]
	vp := w.Pid()
	if n%4 >= 2 {
		pc.ctl.set(ctlArm, uint64(v)+1)
		for end := time.Now().Add(100 * time.Millisecond); proctestAlive(w) && time.Now().Before(end); {
			time.Sleep(50 * time.Microsecond)
		}
		if !proctestAlive(w) {
			pc.armed++
		}
	} else {
		time.Sleep(time.Duration(pc.rng.Int64N(int64(3 * time.Millisecond))))
	}
	if !proctestAlive(w) && !strings.Contains(fmt.Sprint(w.Wait()), "killed") {
		t.Fatalf("round %d: end %d (pid %d) exited: %v\nstderr:\n%s", n, v, vp, w.Wait(), w.Stderr())
	}
	w.Kill()
	pc.ctl.set(ctlArm, 0)
	// 1. The survivor's Send and Recv both stop on ErrPeerDied naming vp.
	ju := func(f int) int { return u*pjWords + f }
	jv := func(f int) int { return v*pjWords + f }
	deadline := deadlineOf(t)
	for j.get(ju(pjSendDied)) == 0 || j.get(ju(pjRecvDied)) == 0 {
		if !proctestAlive(pc.w[u]) {
			t.Fatalf("round %d: the survivor, end %d (pid %d), exited: %v\nstderr:\n%s", n, u, pc.w[u].Pid(), pc.w[u].Wait(), pc.w[u].Stderr())
		}
		if time.Now().After(deadline) {
			pc.w[u].Signal(syscall.SIGQUIT)
			time.Sleep(500 * time.Millisecond)
			t.Fatalf("round %d: end %d's peer (pid %d) was killed, and its Send (%d) or Recv (%d) never reported it\nstderr:\n%s",
				n, u, vp, j.get(ju(pjSendDied)), j.get(ju(pjRecvDied)), pc.w[u].Stderr())
		}
		time.Sleep(100 * time.Microsecond)
	}
	if s, r := j.get(ju(pjSendDied)), j.get(ju(pjRecvDied)); s != uint64(vp) || r != uint64(vp) {
		t.Fatalf("round %d: end %d's peer pid %d was killed; ErrPeerDied named pid %d to Send and %d to Recv", n, u, vp, s, r)
	}
	// 2. What the victim sent is what the survivor received.
	got, sent, on := j.get(ju(pjRecvd)), j.get(jv(pjSent)), j.get(jv(pjSendOn))
	if got < sent || got > sent+on {
		t.Fatalf("round %d: end %d had sent %d messages (one more under way: %v), end %d received %d", n, v, sent, on == 1, u, got)
	}
	if on == 1 && got == sent {
		pc.uncommitted = append(pc.uncommitted, [2]int{v, int(sent)})
	}
	// What it received is what the survivor sent, less what is pending.
	pending := pc.pending(v)
	took := j.get(ju(pjSent)) - uint64(pending)
	if r, on := j.get(jv(pjRecvd)), j.get(jv(pjRecvOn)); took < r || took > r+on {
		t.Fatalf("round %d: end %d had received %d messages (one more under way: %v); end %d sent %d, %d pending: %d taken", n, v, r, on == 1, u, j.get(ju(pjSent)), pending, took)
	} else if took == r+1 {
		pc.lost = append(pc.lost, [2]int{u, int(r)})
	}
	// 3. The replacement goes on from there.
	j.set(jv(pjSent), got)
	j.set(jv(pjRecvd), took)
	for _, f := range []int{pjSendOn, pjRecvOn, pjSendDied, pjRecvDied} {
		j.set(jv(f), 0)
	}
	j.set(ju(pjSendDied), 0)
	j.set(ju(pjRecvDied), 0)
	pc.start(v)
	pc.ctl.set(ctlRound, pc.ctl.get(ctlRound)+1)
}

// pending is the messages waiting to be received on end e, as the pipe
// itself counts them.
func (pc *pipeChaos) pending(e int) int {
	info, err := admin.Inspect(pc.ends[e][:strings.LastIndexByte(pc.ends[e], ':')])
	if err != nil || info.Pipe == nil {
		pc.t.Fatalf("inspect the pipe: %v", err)
	}
	return info.Pipe.Ends[e].Pending
}

func proctestAlive(c *proctest.Child) bool {
	select {
	case <-c.Done():
		return false
	default:
		return true
	}
}

func deadlineOf(t *testing.T) time.Time {
	if dl, ok := t.Deadline(); ok {
		return dl.Add(-5 * time.Second)
	}
	return time.Now().Add(time.Minute)
}

// drain takes both ends over and receives what is left on each: exactly
// the next messages of the other stream, up to all that was sent.
func (pc *pipeChaos) drain() {
	t, j := pc.t, pc.j
	ctx := proctest.Context(t)
	for e := range 2 {
		c, err := pool.OpenConn[[]byte](pc.ends[e], pool.WithCodec[[]byte](qCodec{}))
		if err != nil {
			t.Fatal(err)
		}
		for r := j.get(e*pjWords + pjRecvd); r < j.get((1-e)*pjWords+pjSent); r++ {
			msg, err := c.Recv(ctx)
			if err != nil {
				t.Fatalf("drain end %d, message %d: %v", e, r, err)
			}
			if d, s, err := pCheckMsg(msg); err != nil || d != 1-e || s != int(r) {
				t.Fatalf("drain end %d: message %d/%d (%v), want %d/%d", e, d, s, err, 1-e, r)
			}
			j.set(e*pjWords+pjRecvd, r+1)
		}
		if n := pc.pending(e); n != 0 {
			t.Fatalf("drain end %d: %d messages more than were sent", e, n)
		}
		c.Close()
	}
}

// orphans checks each side segment of this test's messages left in
// /dev/shm against the deaths that explain it, and removes it.
func (pc *pipeChaos) orphans(before []string, sides string) int {
	n := 0
	for _, name := range listShmNames() {
		if !strings.HasPrefix(name, sides) || slices.Contains(before, name) {
			continue
		}
		f, err := segment.Open(name, segment.OpenOptions{})
		if err != nil {
			continue
		}
		d, s, err := pCheckMsg(f.Bytes())
		f.Close()
		f.Unmap()
		if err != nil {
			continue // another test's
		}
		if !slices.Contains(pc.lost, [2]int{d, s}) && !slices.Contains(pc.uncommitted, [2]int{d, s}) {
			pc.t.Errorf("side segment %s of message %d/%d left in /dev/shm, and no death explains it", name, d, s)
			continue
		}
		os.Remove(segment.Path(name))
		n++
	}
	return n
}

// inodeOf is the inode of the file name in /dev/shm.
func inodeOf(t *testing.T, name string) uint64 {
	t.Helper()
	fi, err := os.Lstat(shmfile.Path(name))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// sideSegments lists the files in /dev/shm named under prefix.
func sideSegments(prefix string) []string {
	var out []string
	for _, name := range listShmNames() {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out
}
