package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/multiproc/multiproc/internal/proctest"
	"github.com/multiproc/multiproc/pool"
)

// secureServer starts a NATS server of the test's own that takes only TLS
// connections (a certificate of its own CA, for 127.0.0.1) with a token,
// and returns its URL, the token and the CA's certificate file.
func secureServer(t *testing.T) (url, token, caFile string) {
	t.Helper()
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "multiproc test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	token = "s3cret-" + t.Name()
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true, StoreDir: filepath.Join(dir, "js"),
		NoSigs: true, NoLog: true, Authorization: token,
		TLS: true, TLSTimeout: 5, TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12},
	})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(time.Until(deadlineOf(t))) {
		t.Fatal("the TLS server did not take connections")
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return "nats://" + ns.Addr().String(), token, caFile
}

// The connection's options reach the caller's client and every worker
// process's (through their inherited pipe): a server that takes only TLS
// with a token runs a Map, and refuses a pool without either.
func TestCredentialsAndTLSReachCallerAndWorkers(t *testing.T) {
	url, token, caFile := secureServer(t)
	auth := []Option{Token(token), RootCA(caFile)}
	c := newClusterAt(t, url, []nats.Option{nats.Token(token), nats.RootCAs(caFile)}, 2, auth, auth)
	xs := []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	out, err := square.Map(proctest.Context(t), c.pool, xs, pool.Chunksize(1))
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range out {
		if v != xs[i]*xs[i] {
			t.Fatalf("out[%d] = %d, want %d", i, v, xs[i]*xs[i])
		}
	}

	for _, tc := range []struct {
		what string
		opts []Option
		want string
	}{
		{"no token", []Option{RootCA(caFile)}, "authorization"},
		{"no CA", []Option{Token(token)}, "certificate"},
	} {
		p, err := pool.New(Connect(url, tc.opts...))
		if err == nil {
			p.Close()
			t.Fatalf("%s: pool.New succeeded", tc.what)
		}
		if !strings.Contains(strings.ToLower(err.Error()), tc.want) || !strings.Contains(err.Error(), url) {
			t.Fatalf("%s: %v, want an error naming the server and saying %q", tc.what, err, tc.want)
		}
		t.Logf("%s: %v", tc.what, err)
		if _, err := StartWorkers(url, tc.opts...); err == nil || errors.Is(err, pool.ErrNoInit) {
			t.Fatalf("%s: StartWorkers = %v, want the connection's error", tc.what, err)
		}
	}
}
