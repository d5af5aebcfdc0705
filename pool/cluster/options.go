package cluster

import (
	"fmt"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
)

// An Option tunes Connect, Serve or StartWorkers. Each says which of them
// it applies to; the connection's options (credentials, TLS) apply to all.
type Option func(*options)

// options are everything an Option can set. The fields a worker process
// needs travel to it through an inherited pipe (workerConfig), never on
// its command line or in its environment.
type options struct {
	conn       connOptions
	natsOpts   []nats.Option
	prefix     string
	expiry     time.Duration
	maxDeliver int
	ackWait    time.Duration
	processes  int
	memory     bool
	salt       string // tests: makes this process's fingerprint another build's
	logf       func(format string, args ...any)
}

// connOptions are how to reach the server, as data (a worker process is
// given them).
type connOptions struct {
	URL       string
	Creds     string // a credentials file (JWT and NKey seed)
	NKey      string // an NKey seed file
	Token     string
	User      string
	Password  string
	CertFile  string // a client certificate, with KeyFile
	KeyFile   string
	CAFile    string // root CAs to verify the server with
	TLS       bool   // require TLS even for a nats:// URL
	Name      string // the connection's name, as the server's monitoring shows it
	Reconnect time.Duration
}

// Defaults.
const (
	defaultPrefix     = "multiproc"
	defaultExpiry     = 30 * time.Second
	defaultMaxDeliver = 5
	defaultAckWait    = 30 * time.Second
)

// Credentials authenticates with a NATS credentials file (a user JWT and
// its NKey seed), as nats.UserCredentials.
func Credentials(file string) Option { return func(o *options) { o.conn.Creds = file } }

// NKeyFile authenticates with the NKey seed in file, as
// nats.NkeyOptionFromSeed.
func NKeyFile(file string) Option { return func(o *options) { o.conn.NKey = file } }

// Token authenticates with a token.
func Token(token string) Option { return func(o *options) { o.conn.Token = token } }

// UserPassword authenticates with a user name and password.
func UserPassword(user, password string) Option {
	return func(o *options) { o.conn.User, o.conn.Password = user, password }
}

// ClientCert presents the certificate in certFile (key in keyFile) to a
// server that asks for one (mutual TLS).
func ClientCert(certFile, keyFile string) Option {
	return func(o *options) { o.conn.CertFile, o.conn.KeyFile = certFile, keyFile }
}

// RootCA verifies the server's certificate against the CAs in file rather
// than the system's.
func RootCA(file string) Option { return func(o *options) { o.conn.CAFile = file } }

// RequireTLS refuses a connection that is not TLS, whatever the URL's
// scheme (tls:// requires it already).
func RequireTLS() Option { return func(o *options) { o.conn.TLS = true } }

// NATSOptions adds options of the NATS client itself, for Connect only: a
// worker process, which is this program started again, cannot be handed
// functions, so Serve and StartWorkers refuse them.
func NATSOptions(opts ...nats.Option) Option {
	return func(o *options) { o.natsOpts = append(o.natsOpts, opts...) }
}

// Prefix names the subjects and streams (default "multiproc": subjects
// multiproc.task.…, streams multiproc_tasks, …), so that separate
// clusters can share a server. Callers and workers must agree on it.
func Prefix(p string) Option { return func(o *options) { o.prefix = p } }

// Expiry is how long a caller's tasks outlive it (Connect; default 30 s):
// a caller renews its lease every Expiry/3, and once a lease has lapsed —
// the caller died, or lost the server for that long — workers drop its
// tasks, queued or running. At least 1 s, the server's least message TTL.
func Expiry(d time.Duration) Option { return func(o *options) { o.expiry = d } }

// MaxDeliver is how many times a task may be delivered to workers
// (Connect; default 5): a delivery whose worker dies, or stops
// acknowledging, runs again elsewhere once the ack deadline has passed;
// after n the task fails with pool.ErrWorkerDied. 1 means a task never
// runs twice.
func MaxDeliver(n int) Option { return func(o *options) { o.maxDeliver = n } }

// AckWait is the ack deadline (Serve and StartWorkers; default 30 s): a
// worker that has not acknowledged a chunk, nor said it is still at it,
// within it is taken for dead and the chunk is delivered again. Workers
// say so every AckWait/3 while they run a chunk, so a long task is never
// redelivered while its worker lives. It is the workers' consumer's
// setting: the last Serve to start sets it for all.
func AckWait(d time.Duration) Option { return func(o *options) { o.ackWait = d } }

// Processes is the number of worker processes Serve and StartWorkers run
// (default pool.CPUCount()).
func Processes(n int) Option { return func(o *options) { o.processes = n } }

// MemoryStorage keeps the streams in the server's memory instead of files
// (for a stream that does not exist yet): faster, but a server restart
// loses the tasks in flight.
func MemoryStorage() Option { return func(o *options) { o.memory = true } }

// Logf sends the cluster's log lines (a refused task, a lapsed lease) to
// logf instead of the standard logger.
func Logf(logf func(format string, args ...any)) Option { return func(o *options) { o.logf = logf } }

// fingerprintSalt makes this process's fingerprint another build's (the
// tests' other build).
func fingerprintSalt(s string) Option { return func(o *options) { o.salt = s } }

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

func makeOptions(url string, opts []Option) (options, error) {
	o := options{prefix: defaultPrefix, expiry: defaultExpiry, maxDeliver: defaultMaxDeliver, ackWait: defaultAckWait}
	o.conn.URL = url
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	switch {
	case url == "":
		return o, fmt.Errorf("%w: no server URL", ErrInvalidArgument)
	case !prefixRE.MatchString(o.prefix):
		return o, fmt.Errorf("%w: Prefix(%q): want 1 to 32 letters, digits, '_' or '-'", ErrInvalidArgument, o.prefix)
	case o.expiry < time.Second:
		return o, fmt.Errorf("%w: Expiry(%v): at least 1s", ErrInvalidArgument, o.expiry)
	case o.maxDeliver < 1:
		return o, fmt.Errorf("%w: MaxDeliver(%d): at least 1", ErrInvalidArgument, o.maxDeliver)
	case o.ackWait < 100*time.Millisecond:
		return o, fmt.Errorf("%w: AckWait(%v): at least 100ms", ErrInvalidArgument, o.ackWait)
	case o.processes < 0:
		return o, fmt.Errorf("%w: Processes(%d): must not be negative", ErrInvalidArgument, o.processes)
	case (o.conn.CertFile == "") != (o.conn.KeyFile == ""):
		return o, fmt.Errorf("%w: ClientCert(%q, %q): want both files", ErrInvalidArgument, o.conn.CertFile, o.conn.KeyFile)
	}
	return o, nil
}

// names are the subjects and streams of one prefix.
type names struct {
	prefix   string
	tasks    string // stream: prefix_tasks, subjects prefix.task.<pool>.<call>
	results  string // stream: prefix_results, subjects prefix.result.<pool>
	leases   string // stream: prefix_leases, subjects prefix.lease.<pool>
	consumer string // the workers' durable consumer on tasks
}

func namesOf(prefix string) names {
	return names{prefix: prefix, tasks: prefix + "_tasks", results: prefix + "_results", leases: prefix + "_leases", consumer: "workers"}
}

func (n names) taskSubject(pool string, call uint64) string {
	return fmt.Sprintf("%s.task.%s.%d", n.prefix, pool, call)
}
func (n names) resultSubject(pool string) string { return n.prefix + ".result." + pool }
func (n names) leaseSubject(pool string) string  { return n.prefix + ".lease." + pool }
func (n names) cancelSubject(pool string) string { return n.prefix + ".cancel." + pool }
