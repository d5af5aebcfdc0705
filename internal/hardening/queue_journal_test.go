package hardening

// The journal of the Queue and JoinableQueue chaos (chaos_queue_test.go):
// the items the producers put, the consumers' record of what they took,
// and the codec that lets a worker die at the worst moment.
//
// Items. Item s of producer p (p is the producer's id / 2) is a []byte of
// qItemSize(p, s) bytes: p, s, its length and a check word, then bytes
// that depend on p, s and their place. Most are small; about one in
// thirteen is larger than a quarter of the ring, so it travels in a side
// segment of its own. A consumer checks every byte: a torn item, a wrong
// length or a foreign one is a violation.
//
// The journal, 64-bit words, written by each worker about itself only:
//
//	producer p, qpWords words at p*qpWords:
//	  qpNext   items put so far: the next s (stored after the put returns)
//	  qpState  1 from before a put until after qpNext is stored, else 0
//	  qpStart  the s of the put's first item
//	  qpN      how many items the put carries
//	consumer c (its id / 2), qcWords words at qcBase + c*qcWords:
//	  qcRec       items recorded (see record)
//	  qcState     0 idle; 1 in a get of at most qcMax items; 2 recording
//	              the qcGot items of a get that returned (listed in qcItems)
//	  qcMax       the get's limit
//	  qcRecStart  qcRec when the get began
//	  qcGot       the items the get returned
//	  qcPendOn, qcPendItem, qcPendOld, qcPendRec: the undo record of one
//	              item's recording (see record)
//	  qcDone      TaskDone calls that returned (joinable)
//	  qcTDOn      1 while a TaskDone runs; qcDoneStart is qcDone before it
//	  qcItems…    the items (p<<32 | s) of the get being recorded
//
// Every survivor parks between operations, so when the parent reads the
// journal only the victim's operation is in doubt, and one figure the
// queue keeps for itself settles it exactly: Len is committed puts less
// committed takes, and Unfinished is committed puts less TaskDones and
// the items Join gave up.
//
// seen is a separate segment of 32-bit counters, one per item: the times
// a consumer recorded it. Recording one item: write the undo record
// (item, seen's old value, qcRec), qcPendOn := 1; add 1 to seen; qcRec+1;
// qcPendOn := 0. The parent repairs a dead consumer's pending record:
// if seen still holds the old value nothing was counted, else the item
// was, and qcRec is made to say so.

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/multiproc/multiproc/shm"
)

const (
	qCapacity    = 16 << 10 // the ring: items over 4 KiB take a side segment
	qPerProducer = 8192     // items one producer id may put
	qMaxBatch    = 12
	qMaxIDs      = 2112 // worker ids over a test (two per kill, at most)

	qpNext, qpState, qpStart, qpN, qpWords = 0, 1, 2, 3, 4

	qcRec, qcState, qcMax, qcRecStart, qcGot      = 0, 1, 2, 3, 4
	qcPendOn, qcPendItem, qcPendOld, qcPendRec    = 5, 6, 7, 8
	qcDone, qcTDOn, qcDoneStart, qcItems, qcWords = 9, 10, 11, 16, 32

	qcBase = qMaxIDs / 2 * qpWords
)

// qItemSize is the length of item s of producer p.
func qItemSize(p, s int) int {
	h := int(uint32(p)*2654435761 ^ uint32(s)*40503)
	if h%13 == 0 {
		return 4200 + h%1800 // past a quarter of the ring
	}
	return 16 + h%240
}

func qCheckWord(p, s int) uint32 {
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%d", p, s)
	return h.Sum32()
}

func qFiller(p, s, i int) byte { return byte(i*7 + p*13 + s*3) }

func qMakeItem(p, s int) []byte {
	b := make([]byte, qItemSize(p, s))
	le := binary.LittleEndian
	le.PutUint32(b[0:], uint32(p))
	le.PutUint32(b[4:], uint32(s))
	le.PutUint32(b[8:], uint32(len(b)))
	le.PutUint32(b[12:], qCheckWord(p, s))
	for i := 16; i < len(b); i++ {
		b[i] = qFiller(p, s, i)
	}
	return b
}

// qCheckItem checks every byte of an item and returns whose it is.
func qCheckItem(b []byte) (p, s int, err error) {
	if len(b) < 16 {
		return 0, 0, fmt.Errorf("an item of %d bytes: torn or foreign", len(b))
	}
	le := binary.LittleEndian
	p, s = int(le.Uint32(b[0:])), int(le.Uint32(b[4:]))
	if p >= qMaxIDs/2 || s >= qPerProducer {
		return 0, 0, fmt.Errorf("an item of producer %d, number %d: out of range", p, s)
	}
	if n := int(le.Uint32(b[8:])); n != len(b) || n != qItemSize(p, s) || le.Uint32(b[12:]) != qCheckWord(p, s) {
		return 0, 0, fmt.Errorf("item %d/%d: %d bytes (header says %d, want %d): torn", p, s, len(b), n, qItemSize(p, s))
	}
	for i := 16; i < len(b); i++ {
		if b[i] != qFiller(p, s, i) {
			return 0, 0, fmt.Errorf("item %d/%d: byte %d of %d is %#x, want %#x: torn", p, s, i, len(b), b[i], qFiller(p, s, i))
		}
	}
	return p, s, nil
}

// qItemID is the journal's word for item s of producer p.
func qItemID(p, s int) uint64 { return uint64(p)<<32 | uint64(s) }

// qCodec carries the chaos items as their bytes, in place in the ring and
// with the queue's lock held, as the default []byte codec does. In a
// worker that the parent has armed (qArmed), it dies half-way through the
// next item it writes or reads: mid-Put holding the producers' lock, with
// a torn record in the ring's free space; mid-Get holding the consumers'
// lock, before the take commits; half-way through writing a side segment,
// before its record exists; or reading one, after its record was taken.
type qCodec struct{}

// qArmed, in a worker, reports whether the parent asked it to die in the
// codec. nil in the parent.
var qArmed func() bool

func qDie() {
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	time.Sleep(time.Hour)
}

func (qCodec) Size(v *[]byte) int { return len(*v) }

func (qCodec) Append(dst []byte, v *[]byte) ([]byte, error) {
	if qArmed != nil && qArmed() {
		_ = append(dst, (*v)[:len(*v)/2]...)
		qDie()
	}
	return append(dst, *v...), nil
}

func (qCodec) Decode(b []byte, v *[]byte) error {
	if qArmed != nil && qArmed() {
		_ = append([]byte(nil), b[:len(b)/2]...)
		qDie()
	}
	*v = append([]byte(nil), b...)
	return nil
}

// qJournal is a view of the journal and the seen counters.
type qJournal struct {
	w    []uint64
	seen []uint32
	segs []*shm.Segment // the mappings live as long as the handles
}

func newQJournal(t *testing.T) (qJournal, []string) {
	t.Helper()
	var names []string
	var segs []*shm.Segment
	seg := func(size int) []byte {
		s, err := shm.Create("", size)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close(); s.Unlink() })
		names, segs = append(names, s.Name()), append(segs, s)
		return s.Bytes()
	}
	w := words(seg(8 * (qcBase + qMaxIDs/2*qcWords)))
	b := seg(4 * qMaxIDs / 2 * qPerProducer)
	return qJournal{w: w, seen: unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), len(b)/4), segs: segs}, names
}

func openQJournal(journal, seen string) (qJournal, error) {
	j, err := shm.Open(journal)
	if err != nil {
		return qJournal{}, err
	}
	s, err := shm.Open(seen)
	if err != nil {
		return qJournal{}, err
	}
	b := s.Bytes()
	return qJournal{w: words(j.Bytes()), seen: unsafe.Slice((*uint32)(unsafe.Pointer(&b[0])), len(b)/4), segs: []*shm.Segment{j, s}}, nil
}

func (j qJournal) p(pi, f int) uint64        { return atomic.LoadUint64(&j.w[pi*qpWords+f]) }
func (j qJournal) setP(pi, f int, v uint64)  { atomic.StoreUint64(&j.w[pi*qpWords+f], v) }
func (j qJournal) c(ci, f int) uint64        { return atomic.LoadUint64(&j.w[qcBase+ci*qcWords+f]) }
func (j qJournal) setC(ci, f int, v uint64)  { atomic.StoreUint64(&j.w[qcBase+ci*qcWords+f], v) }
func (j qJournal) seenOf(p, s int) *uint32   { return &j.seen[p*qPerProducer+s] }
func (j qJournal) seenCount(p, s int) uint32 { return atomic.LoadUint32(j.seenOf(p, s)) }

// record counts item p/s as taken by consumer ci (see the protocol).
func (j qJournal) record(ci, p, s int) {
	rec := j.c(ci, qcRec)
	j.setC(ci, qcPendItem, qItemID(p, s))
	j.setC(ci, qcPendOld, uint64(j.seenCount(p, s)))
	j.setC(ci, qcPendRec, rec)
	j.setC(ci, qcPendOn, 1)
	atomic.AddUint32(j.seenOf(p, s), 1)
	j.setC(ci, qcRec, rec+1)
	j.setC(ci, qcPendOn, 0)
}

// repair settles a dead consumer's pending record.
func (j qJournal) repair(ci int) {
	if j.c(ci, qcPendOn) == 0 {
		return
	}
	id := j.c(ci, qcPendItem)
	p, s := int(id>>32), int(uint32(id))
	if uint64(j.seenCount(p, s)) != j.c(ci, qcPendOld) && j.c(ci, qcRec) == j.c(ci, qcPendRec) {
		j.setC(ci, qcRec, j.c(ci, qcPendRec)+1) // counted; the record says so now
	}
	j.setC(ci, qcPendOn, 0)
}
