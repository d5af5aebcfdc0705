package embedded

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestStartRefusesAnAddressOffLoopback(t *testing.T) {
	for _, host := range []string{"0.0.0.0", "192.0.2.1", "queue.example"} {
		s, err := Start(Options{Host: host})
		if err == nil {
			s.Close()
			t.Fatalf("Start on %s succeeded", host)
		}
		if !strings.Contains(err.Error(), host) || !strings.Contains(err.Error(), "Public") {
			t.Fatalf("Start on %s: %v, want an error naming the host and Public", host, err)
		}
	}
}

// A restart comes back on the same URL with the streams it had (file
// storage), and Close removes the temporary directory.
func TestRestartKeepsURLAndStreamsAndCloseRemovesTheDir(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	url, dir := s.URL(), s.Dir()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") {
		t.Fatalf("URL %s, want nats://127.0.0.1:PORT", url)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "kept", Subjects: []string{"kept.>"}, Storage: jetstream.FileStorage})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "kept.one", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.URL() != url {
		t.Fatalf("after Restart the URL is %s, was %s", s.URL(), url)
	}
	for {
		info, err := st.Info(ctx)
		if err == nil {
			if info.State.Msgs != 1 {
				t.Fatalf("after Restart the stream holds %d messages, want 1", info.State.Msgs)
			}
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the stream after Restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // reconnecting
	}
	nc.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("the temporary directory %s after Close: %v, want it gone", dir, err)
	}
}
