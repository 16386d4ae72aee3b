package dnats

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Liveness: a site re-puts its registration every HeartbeatInterval; the
// bucket forgets a key RegistrationTTL after its last put, so a site that
// died is gone (and its ID free again) within that time.
var (
	HeartbeatInterval = 2 * time.Second
	RegistrationTTL   = 10 * time.Second
)

// Embedded starts a NATS server with JetStream inside this process on a
// free loopback port, storing JetStream data under dir. It returns the
// server (Shutdown to stop it) and its client URL.
func Embedded(dir string) (*server.Server, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, "", fmt.Errorf("nats: store directory: %w", err)
	}
	ns, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true, NoLog: true,
		ServerName: "gridd-embedded",
	})
	if err != nil {
		return nil, "", fmt.Errorf("nats: embedded server: %w", err)
	}
	go ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, "", errors.New("nats: embedded server did not start within 10s")
	}
	return ns, ns.ClientURL(), nil
}

// Connect dials url with reconnects forever (a district outlives a broker
// restart) under the given client name.
func Connect(url, name string) (*nats.Conn, error) {
	nc, err := nats.Connect(url, nats.Name(name), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond),
		nats.RetryOnFailedConnect(true), nats.Timeout(5*time.Second))
	if err != nil {
		return nil, redactedError{msg: Redact(fmt.Sprintf("nats: connect %s: %v", url, err), url), err: err}
	}
	return nc, nil
}

// Redact returns s with the user information (user, password, token) of
// every URL in urls (comma-separated NATS server URLs) replaced by "…", for
// logs and errors; Redact(urls, urls) is the URL list to print.
func Redact(s, urls string) string {
	for _, u := range strings.Split(urls, ",") {
		u = strings.TrimSpace(u)
		j := strings.Index(u, "://")
		i := strings.LastIndex(u, "@")
		if j < 0 || i <= j+3 {
			continue
		}
		s = strings.ReplaceAll(s, u[j+3:i], "…")
	}
	return s
}

// redactedError carries an error whose text named credentials: its message
// is redacted, the error is kept for errors.Is/As.
type redactedError struct {
	msg string
	err error
}

func (e redactedError) Error() string { return e.msg }
func (e redactedError) Unwrap() error { return e.err }

// Bus is one district's use of a NATS connection: the request/reply
// subjects, the telemetry stream and the registration bucket.
type Bus struct {
	NC       *nats.Conn
	JS       jetstream.JetStream
	KV       jetstream.KeyValue
	District string
	Stream   jetstream.Stream
}

// Subject names for district d.
func solveSubject(d, site string) string { return "gridd.district." + d + ".solve." + site }
func capsSubject(d, site string) string  { return "gridd.district." + d + ".caps." + site }

// TelemetrySubject is where kind (round, result, event, plan.SITE) is
// published on the district's stream.
func TelemetrySubject(d, kind string) string { return "gridd.district." + d + ".telemetry." + kind }

// StreamName and BucketName name district d's telemetry stream and
// registration bucket.
func StreamName(d string) string { return "GRIDD_DISTRICT_" + d }
func BucketName(d string) string { return "gridd-district-" + d }

// Open sets up (or finds) district d's stream and bucket on nc. replicas
// is the JetStream replication (1 embedded; 3 on a three-node cluster).
func Open(ctx context.Context, nc *nats.Conn, d string, replicas int) (*Bus, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("nats: jetstream: %w", err)
	}
	if replicas < 1 {
		replicas = 1
	}
	b := &Bus{NC: nc, JS: js, District: d}
	b.Stream, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name: StreamName(d), Subjects: []string{TelemetrySubject(d, ">")}, Storage: jetstream.FileStorage,
		MaxAge: 31 * 24 * time.Hour, Replicas: replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: district stream %s: %w", StreamName(d), err)
	}
	b.KV, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketName(d), TTL: RegistrationTTL, Storage: jetstream.FileStorage, Replicas: replicas, History: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("nats: registration bucket %s: %w", BucketName(d), err)
	}
	return b, nil
}

// Publish stores v (as JSON) on the district's stream under kind, waiting
// for the stream's acknowledgement so nothing is lost silently. While a
// cluster elects a new leader (a node went down) it retries until ctx ends,
// with one message ID so the stream keeps a retried message once.
func (b *Bus) Publish(ctx context.Context, kind string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var rnd [12]byte
	_, _ = rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	for {
		_, err := b.JS.Publish(ctx, TelemetrySubject(b.District, kind), data, jetstream.WithMsgID(id))
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("nats: publish %s: %w", kind, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// decodeStrict decodes one JSON object, refusing unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}
