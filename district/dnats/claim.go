package dnats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrOtherCoordinator is returned while another live coordinator holds the
// district: two coordinators would each hand out the whole limit.
var ErrOtherCoordinator = errors.New("district: another live coordinator holds this district")

// coordinatorKey is the bucket entry of the coordinator that holds the
// district (sites' entries are "site.ID").
const coordinatorKey = "coordinator"

// claimEntry is the coordinator's entry in the bucket.
type claimEntry struct {
	Instance string    `json:"instance"`
	Started  time.Time `json:"started"`
	Seen     time.Time `json:"seen"`
}

// Claim makes c the district's one coordinator: it creates the bucket's
// coordinator entry, refused with ErrOtherCoordinator while another live
// instance holds it, and re-puts it every HeartbeatInterval until ctx ends
// (the bucket forgets it RegistrationTTL after the last put, so a dead
// coordinator's claim lapses). Once Claim has been called, RunOnce refuses
// to coordinate while the claim is not held (lost to another instance, or
// not renewable).
func (c *Coordinator) Claim(ctx context.Context, instance string) error {
	e := claimEntry{Instance: instance, Started: time.Now().UTC()}
	rev, err := c.claim(ctx, &e, 0)
	c.mu.Lock()
	c.claimed = true
	if err == nil {
		c.claimedAt = time.Now()
	}
	c.mu.Unlock()
	if err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(HeartbeatInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
				_ = c.Bus.KV.Delete(dctx, coordinatorKey, jetstream.LastRevision(rev))
				cancel()
				return
			case <-t.C:
			}
			r, err := c.claim(ctx, &e, rev)
			c.mu.Lock()
			switch {
			case err == nil:
				c.claimedAt, c.claimLost = time.Now(), false
			case errors.Is(err, ErrOtherCoordinator):
				c.claimLost = true
			}
			c.mu.Unlock()
			if err != nil {
				if c.Log != nil {
					c.Log.Error("district coordinator claim", "err", err)
				}
				continue
			}
			rev = r
		}
	}()
	return nil
}

// claim puts e as the coordinator entry: an update of revision rev when it
// is ours, else a create, else (an entry of the same instance) a take-over.
func (c *Coordinator) claim(ctx context.Context, e *claimEntry, rev uint64) (uint64, error) {
	e.Seen = time.Now().UTC()
	data, _ := json.Marshal(e)
	if rev > 0 {
		if r, err := c.Bus.KV.Update(ctx, coordinatorKey, data, rev); err == nil {
			return r, nil
		}
	}
	r, err := c.Bus.KV.Create(ctx, coordinatorKey, data)
	if err == nil {
		return r, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return 0, err
	}
	got, gerr := c.Bus.KV.Get(ctx, coordinatorKey)
	if gerr != nil {
		return 0, gerr
	}
	var other claimEntry
	if json.Unmarshal(got.Value(), &other) == nil && other.Instance == e.Instance {
		return c.Bus.KV.Update(ctx, coordinatorKey, data, got.Revision())
	}
	return 0, fmt.Errorf("%w: instance %s (started %s, seen %s)", ErrOtherCoordinator, other.Instance,
		other.Started.Format(time.RFC3339), other.Seen.Format(time.RFC3339))
}

// checkClaim returns an error when Claim was called and the claim is not
// held: another instance holds it, or it was last renewed so long ago that
// it may have lapsed (a renewal that fails for a moment, in a NATS leader
// election, leaves the claim held: nobody can take it before it lapses).
func (c *Coordinator) checkClaim() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.claimed {
		return nil
	}
	if c.claimLost {
		return fmt.Errorf("%w: no cycle while another instance holds it", ErrOtherCoordinator)
	}
	if age := time.Since(c.claimedAt); age > RegistrationTTL-HeartbeatInterval {
		return fmt.Errorf("%w: this coordinator's claim was last renewed %s ago; no cycle until it is renewed", ErrOtherCoordinator, age.Round(time.Second))
	}
	return nil
}

func isSiteKey(k string) bool { return strings.HasPrefix(k, "site.") }
