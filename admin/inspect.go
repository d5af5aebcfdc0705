package admin

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/multiproc/multiproc/array"
	"github.com/multiproc/multiproc/barrier"
	"github.com/multiproc/multiproc/internal/layout"
	"github.com/multiproc/multiproc/internal/posixsem"
	"github.com/multiproc/multiproc/internal/proc"
	"github.com/multiproc/multiproc/internal/ring"
	"github.com/multiproc/multiproc/internal/robust"
	"github.com/multiproc/multiproc/internal/segment"
	"github.com/multiproc/multiproc/internal/track"
	"github.com/multiproc/multiproc/sem"
	"github.com/multiproc/multiproc/value"
)

// Info is one object's live state, as Inspect reads it. Besides the
// Object, exactly the parts that apply to its kind are set.
type Info struct {
	Object
	Path string

	Elem      *ElemInfo       // Value, Array: element type and length
	Lock      *sem.LockState  // Lock, RLock, a Condition's lock, a locked Value's or Array's
	Condition *ConditionState // Condition
	Semaphore *SemaphoreState // Semaphore, BoundedSemaphore
	Event     *sem.EventState // Event
	Barrier   *barrier.Status // Barrier
	Queue     *QueueState     // Queue, JoinableQueue
	Pipe      *PipeState      // Pipe
	Registry  *RegistryState  // a tracker's registry
}

// QueueState is a queue's depth and state; its two locks are in Producer
// and Consumer.
type QueueState struct {
	Items            int            `json:"items"`      // queued now
	Bytes            int            `json:"bytes"`      // ring bytes they take
	Capacity         int            `json:"capacity"`   // ring bytes in all
	MaxSize          int            `json:"maxsize"`    // 0: bounded by capacity only
	ShutDown         bool           `json:"shut_down"`  // closed for everyone
	Joinable         bool           `json:"joinable"`   // a JoinableQueue
	Unfinished       int            `json:"unfinished"` // joinable: not yet marked done
	ConsumersWaiting int            `json:"getters"`    // processes whose Gets may sleep (at most)
	ProducersWaiting int            `json:"putters"`    // processes whose Puts may sleep (at most)
	Producer         *sem.LockState `json:"-"`          // the producers' lock
	Consumer         *sem.LockState `json:"-"`          // the consumers' lock
	ItemType         string         `json:"item_type"`  // the Go type of the items
}

// PipeState is a pipe's two ends.
type PipeState struct {
	Duplex   bool        `json:"duplex"`
	Capacity int         `json:"capacity"` // ring bytes per direction
	ItemType string      `json:"item_type"`
	Ends     [2]EndState `json:"ends"`
}

// EndState is one end of a pipe.
type EndState struct {
	OwnerPID int  `json:"owner_pid"`
	Alive    bool `json:"alive"`
	Closed   bool `json:"closed"`
	Pending  int  `json:"pending"` // messages waiting for this end to receive
}

// ElemInfo describes the elements of a Value or an Array.
type ElemInfo struct {
	Type string `json:"type"` // the Go type's name, as its creator spelled it
	Size int    `json:"size"` // bytes per element
	Len  int    `json:"len"`  // elements: 1 for a Value
}

// ConditionState is a Condition's own state; its lock is in Info.Lock.
type ConditionState struct {
	Waiters int `json:"waiters"` // goroutines in Wait, in all processes (a hint)
}

// SemaphoreState is a semaphore's counter.
type SemaphoreState struct {
	Value   int  `json:"value"`   // tokens available now
	Waiters int  `json:"waiters"` // an upper bound on blocked waiters (a waiter killed while blocked stays counted)
	Bounded bool `json:"bounded"`
	Bound   int  `json:"bound"` // the largest value a release may reach
}

// RegistryState is what a tracker's registry says.
type RegistryState struct {
	ProgramPID   int      `json:"program_pid"`   // the process that started the tracker
	ProgramAlive bool     `json:"program_alive"` // it still runs
	ClientsGone  bool     `json:"clients_gone"`  // every process of the program has exited; the tracker is removing what is left
	Objects      []string `json:"objects"`       // registered and not yet removed
}

// Inspect returns the live state of the object name ("jobs", "/jobs",
// "sem.jobs", or a path under /dev/shm). A missing name is an error
// wrapping fs.ErrNotExist, a file that is not multiproc's wraps ErrNotOurs.
// A damaged object is returned with its Problem set, not as an error.
//
// Kind-specific state comes from the object's own package (a Lock's owner
// and whether it is alive, a semaphore's value) and needs the object to be
// readable; when it is not, Problem says why.
func Inspect(name string) (Info, error) {
	file, err := fileName(name)
	if err != nil {
		return Info{}, err
	}
	o, err := find(file)
	if err != nil {
		return Info{}, err
	}
	info := Info{Object: o, Path: segment.Path(file)}
	if o.Problem != "" {
		return info, nil
	}
	if err := info.state(); err != nil {
		info.Problem = "state unavailable: " + err.Error()
	}
	return info, nil
}

// fileName turns what a user typed into a file name in /dev/shm.
func fileName(name string) (string, error) {
	if rest, ok := strings.CutPrefix(name, segment.Dir+"/"); ok {
		name = rest
	}
	return segment.CleanName(name, "")
}

// state reads the kind's live state, one way for every kind: the bytes
// the kind needs, copied from the file with pread (never mapped for use,
// never flocked: inspecting an object neither holds it nor waits for a
// sweeper that does), handed to the kind's own decoder, which validates
// them as its Open would. A tracker's registry is read as a registry.
func (i *Info) state() error {
	if i.isReg {
		r, err := track.ReadRegistry(i.Name)
		if err != nil {
			return err
		}
		t := &RegistryState{ProgramPID: r.Program.PID, ProgramAlive: proc.AliveID(r.Program), ClientsGone: r.ClientsGone, Objects: []string{}}
		for _, e := range r.Entries {
			t.Objects = append(t.Objects, e.File)
		}
		i.Registry = t
		return nil
	}
	need := stateBytes(i.kind, i.Size)
	if need == 0 {
		return nil // a raw segment: no state but its bytes
	}
	b, err := readExactly(i.Name, need)
	if err != nil {
		return err
	}
	switch i.kind {
	case layout.KindLock, layout.KindRLock:
		st, err := sem.InspectLock(b[layout.HeaderSize:])
		if err != nil {
			return err
		}
		i.Lock = &st
	case layout.KindCondition:
		c, err := sem.InspectCondition(b)
		if err != nil {
			return err
		}
		i.Condition = &ConditionState{Waiters: c.Waiters}
		if c.OwnLock {
			i.Lock = &c.Lock
			break
		}
		// Its lock is another object's: read that one the same way.
		lb, err := readExactly(c.LockObject, int64(c.LockOffset)+robust.RecordSize)
		if err != nil {
			return fmt.Errorf("its lock %s: %w", c.LockObject, err)
		}
		h, err := layout.DecodeHead(lb[:layout.HeaderSize], int64(len(lb)))
		if err == nil {
			err = h.Expect(c.LockObject, c.LockKind)
		}
		if err != nil {
			return fmt.Errorf("its lock: %w", err)
		}
		st, err := sem.InspectLock(lb[c.LockOffset:])
		if err != nil {
			return fmt.Errorf("its lock %s: %w", c.LockObject, err)
		}
		i.Lock = &st
	case layout.KindEvent:
		st, err := sem.InspectEvent(b)
		if err != nil {
			return err
		}
		i.Event = &st
	case layout.KindBarrier:
		st, err := barrier.Inspect(b)
		if err != nil {
			return err
		}
		i.Barrier = &st
	case layout.KindSemaphore, layout.KindBounded:
		s, err := posixsem.Parse(b)
		if err != nil {
			return err
		}
		i.Semaphore = &SemaphoreState{Value: int(s.Value), Waiters: int(s.Waiters), Bounded: s.Bounded(), Bound: int(s.Bound)}
	case layout.KindQueue:
		h, err := layout.DecodeHead(b[:layout.HeaderSize], i.Size)
		if err != nil {
			return err
		}
		st, err := ring.InspectQueue(b[layout.HeaderSize:], int(h.PayloadSize))
		if err != nil {
			return err
		}
		prod, cons := lockState(st.Producer), lockState(st.Consumer)
		i.Queue = &QueueState{Items: st.Items, Bytes: st.Bytes, Capacity: st.Capacity, MaxSize: st.MaxItems,
			ShutDown: st.Closed, Joinable: st.Joinable, Unfinished: st.Unfinished,
			ConsumersWaiting: st.ConsumersWaiting, ProducersWaiting: st.ProducersWaiting,
			Producer: &prod, Consumer: &cons, ItemType: h.TypeNameString()}
	case layout.KindPipe:
		h, err := layout.DecodeHead(b[:layout.HeaderSize], i.Size)
		if err != nil {
			return err
		}
		st, err := ring.InspectPipe(b[layout.HeaderSize:], int(h.PayloadSize))
		if err != nil {
			return err
		}
		p := &PipeState{Duplex: st.Duplex, Capacity: st.Capacity, ItemType: h.TypeNameString()}
		for e := range 2 {
			p.Ends[e] = EndState{OwnerPID: st.Owner[e], Alive: st.Alive[e], Closed: st.Closed[e]}
		}
		// Direction 0 is received by end 0 one way, by end 1 duplex.
		if st.Duplex {
			p.Ends[1].Pending, p.Ends[0].Pending = st.Pending[0], st.Pending[1]
		} else {
			p.Ends[0].Pending = st.Pending[0]
		}
		i.Pipe = p
	case layout.KindValue, layout.KindArray:
		h, err := layout.DecodeHead(b[:layout.HeaderSize], i.Size)
		if err != nil {
			return err
		}
		i.Elem = &ElemInfo{Type: h.TypeNameString(), Size: int(h.ElemSize), Len: int(h.ElemCount)}
		inspectLock := value.InspectLock
		if i.kind == layout.KindArray {
			inspectLock = array.InspectLock
		}
		st, hasLock, err := inspectLock(b)
		if err != nil {
			return err
		}
		if hasLock {
			i.Lock = &st
		}
	}
	return nil
}

// stateBytes is how many bytes from the start of a file of kind k (and
// size bytes) its state needs: the whole file for the small kinds, the
// header and lock of a Value or an Array (whose data may be large), none
// for a raw segment or an unknown kind.
func stateBytes(k layout.Kind, size int64) int64 {
	switch k {
	case layout.KindValue:
		return value.InspectHeadSize
	case layout.KindArray:
		return array.InspectHeadSize
	case layout.KindQueue:
		return layout.HeaderSize + ring.QueueControlSize
	case layout.KindPipe:
		return layout.HeaderSize + ring.PipeControlSize
	case layout.KindLock, layout.KindRLock, layout.KindCondition, layout.KindEvent, layout.KindBarrier, layout.KindSemaphore, layout.KindBounded:
		return size
	}
	return 0
}

// lockState is a robust lock's state in sem's words.
func lockState(st robust.State) sem.LockState {
	return sem.LockState{Locked: st.Locked, Owner: st.OwnerPID, OwnerAlive: st.OwnerAlive, HeldSince: st.HeldSince,
		Waiters: st.Waiters, Consistency: sem.Consistency(st.Consistency), Takeovers: int(st.Takeovers)}
}

// readExactly reads the first n bytes of Dir/file with pread into a fresh,
// 8-byte aligned buffer. A file shorter than n (it shrank, or is not what
// it claims) is an error; so is one too large to be the small kind it
// claims to be.
func readExactly(file string, n int64) ([]byte, error) {
	if n > 1<<20 {
		return nil, fmt.Errorf("%w: %d bytes: too large for this kind", layout.ErrCorrupt, n)
	}
	b, err := readHead(file, int(n))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) != n {
		return nil, fmt.Errorf("%w: %d bytes, need %d", layout.ErrCorrupt, len(b), n)
	}
	return b, nil
}

// Field is one line of an object's description: a label and its value.
type Field struct {
	Label, Value string
}

// Fields describes the object in order, for people: what `multiproc
// inspect` prints.
func (i Info) Fields() []Field {
	var fs []Field
	add := func(label, format string, args ...any) {
		fs = append(fs, Field{label, fmt.Sprintf(format, args...)})
	}
	add("name", "%s", i.Name)
	add("path", "%s", i.Path)
	add("kind", "%s", i.Kind)
	add("size", "%d bytes", i.Size)
	add("file owner", "uid %d", i.UID)
	who := "creator"
	if i.isReg {
		who = "tracker"
	}
	if i.CreatorPID > 0 {
		add(who, "pid %d (%s)", i.CreatorPID, aliveWord(i.CreatorAlive))
	} else {
		add(who, "unknown")
	}
	if !i.Created.IsZero() {
		add("created", "%s (%s ago)", i.Created.Format(time.DateTime), i.Age)
	}
	add("held", "%s", yesNo(i.Held, "yes: a process has it open", "no: no process has it open"))
	switch {
	case i.isReg:
	case i.Persistent:
		add("tracking", "persistent: never tracked, removed only by rm")
	case i.Watched:
		add("tracking", "tracked: registered with a running tracker")
	default:
		add("tracking", "tracked: no running tracker has it")
	}
	add("leaked", "%s", yesNo(i.Leaked, "yes: clean removes it", "no"))
	if i.Problem != "" {
		add("problem", "%s", i.Problem)
	}
	if e := i.Elem; e != nil {
		add("element", "%s (%d bytes)", e.Type, e.Size)
		add("length", "%d", e.Len)
	}
	if l := i.Lock; l != nil {
		if l.Locked {
			add("owner pid", "%d (%s)", l.Owner, aliveWord(l.OwnerAlive))
			if !l.HeldSince.IsZero() {
				add("locked since", "%s", l.HeldSince.Format(time.DateTime))
			}
		} else {
			add("owner pid", "none (unlocked)")
		}
		add("lock waiters", "%d", l.Waiters)
		add("consistency", "%s", l.Consistency)
		if l.Takeovers > 0 {
			add("takeovers", "%d (dead owners' locks taken over)", l.Takeovers)
		}
	}
	if c := i.Condition; c != nil {
		add("waiters", "%d", c.Waiters)
	}
	if s := i.Semaphore; s != nil {
		add("value", "%d", s.Value)
		add("waiters", "%d (at most)", s.Waiters)
		if s.Bounded {
			add("bound", "%d", s.Bound)
		}
	}
	if e := i.Event; e != nil {
		add("flag", "%s", yesNo(e.Set, "set", "clear"))
		add("sleepers", "%d (at most)", e.Sleepers)
	}
	if b := i.Barrier; b != nil {
		add("parties", "%d", b.Parties)
		add("waiting", "%d%s", b.Waiting, pids(b.PIDs))
		add("phase", "%s", b.Phase)
		if b.Broken {
			by := ""
			if b.By > 0 {
				by = fmt.Sprintf(" by pid %d", b.By)
			}
			add("broken", "yes: %s%s", b.Reason, by)
		} else {
			add("broken", "no")
		}
		add("cycles", "%d", b.Cycles)
	}
	if q := i.Queue; q != nil {
		add("items", "%d (of %s)", q.Items, q.ItemType)
		add("bytes used", "%d of %d", q.Bytes, q.Capacity)
		if q.MaxSize > 0 {
			add("maxsize", "%d", q.MaxSize)
		}
		add("shut down", "%s", yesNo(q.ShutDown, "yes: puts fail, gets drain", "no"))
		if q.Joinable {
			add("unfinished", "%d", q.Unfinished)
		}
		for _, side := range []struct {
			name string
			l    *sem.LockState
			n    int
		}{{"producers", q.Producer, q.ProducersWaiting}, {"consumers", q.Consumer, q.ConsumersWaiting}} {
			owner := "free"
			if side.l.Locked {
				owner = fmt.Sprintf("held by pid %d (%s)", side.l.Owner, aliveWord(side.l.OwnerAlive))
			}
			add(side.name+" lock", "%s; %s", owner, side.l.Consistency)
			add(side.name+" asleep", "%d (processes, at most)", side.n)
		}
	}
	if p := i.Pipe; p != nil {
		add("items", "%s", p.ItemType)
		add("duplex", "%s", yesNo(p.Duplex, "yes", "no: end 1 sends, end 0 receives"))
		add("capacity", "%d bytes per direction", p.Capacity)
		for e, st := range p.Ends {
			state := "open"
			if st.Closed {
				state = "closed"
			}
			add(fmt.Sprintf("end %d", e), "pid %d (%s), %s, %d pending", st.OwnerPID, aliveWord(st.Alive), state, st.Pending)
		}
	}
	if t := i.Registry; t != nil {
		add("program", "pid %d (%s)", t.ProgramPID, aliveWord(t.ProgramAlive))
		add("clients", "%s", yesNo(t.ClientsGone, "all gone: removing what is left", "running"))
		add("objects", "%d registered %s", len(t.Objects), strings.Join(t.Objects, " "))
	}
	return fs
}

// MarshalJSON writes the Object's fields and the kind's state side by side.
func (i Info) MarshalJSON() ([]byte, error) {
	obj, err := json.Marshal(i.Object)
	if err != nil {
		return nil, err
	}
	type lockJSON struct {
		Locked      bool       `json:"locked"`
		OwnerPID    int        `json:"owner_pid"`
		OwnerAlive  bool       `json:"owner_alive"`
		HeldSince   *time.Time `json:"held_since,omitempty"`
		Waiters     int        `json:"waiters"`
		Consistency string     `json:"consistency"`
		Takeovers   int        `json:"takeovers"`
	}
	var lock *lockJSON
	if l := i.Lock; l != nil {
		lock = &lockJSON{Locked: l.Locked, OwnerPID: l.Owner, OwnerAlive: l.OwnerAlive, Waiters: l.Waiters, Consistency: l.Consistency.String(), Takeovers: l.Takeovers}
		if !l.HeldSince.IsZero() {
			lock.HeldSince = &l.HeldSince
		}
	}
	type eventJSON struct {
		Set      bool `json:"set"`
		Sleepers int  `json:"sleepers"`
	}
	var event *eventJSON
	if e := i.Event; e != nil {
		event = &eventJSON{e.Set, e.Sleepers}
	}
	type barrierJSON struct {
		Parties int    `json:"parties"`
		Waiting int    `json:"waiting"`
		PIDs    []int  `json:"waiting_pids"`
		Phase   string `json:"phase"`
		Broken  bool   `json:"broken"`
		Reason  string `json:"reason,omitempty"`
		By      int    `json:"broken_by_pid,omitempty"`
		Cycles  uint64 `json:"cycles"`
	}
	var bar *barrierJSON
	if b := i.Barrier; b != nil {
		bar = &barrierJSON{b.Parties, b.Waiting, b.PIDs, b.Phase, b.Broken, b.Reason, b.By, b.Cycles}
		if bar.PIDs == nil {
			bar.PIDs = []int{}
		}
	}
	extra, err := json.Marshal(struct {
		Path      string          `json:"path"`
		Elem      *ElemInfo       `json:"elem,omitempty"`
		Lock      *lockJSON       `json:"lock,omitempty"`
		Condition *ConditionState `json:"condition,omitempty"`
		Semaphore *SemaphoreState `json:"semaphore,omitempty"`
		Event     *eventJSON      `json:"event,omitempty"`
		Barrier   *barrierJSON    `json:"barrier,omitempty"`
		Queue     *QueueState     `json:"queue,omitempty"`
		Pipe      *PipeState      `json:"pipe,omitempty"`
		Registry  *RegistryState  `json:"tracker,omitempty"`
	}{i.Path, i.Elem, lock, i.Condition, i.Semaphore, event, bar, i.Queue, i.Pipe, i.Registry})
	if err != nil {
		return nil, err
	}
	// Two JSON objects: join them into one.
	return append(append(obj[:len(obj)-1:len(obj)-1], ','), extra[1:]...), nil
}

func aliveWord(alive bool) string { return yesNo(alive, "alive", "dead") }

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

func pids(ps []int) string {
	if len(ps) == 0 {
		return ""
	}
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = fmt.Sprint(p)
	}
	return " (pids " + strings.Join(s, " ") + ")"
}
