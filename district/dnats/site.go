package dnats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gridd/gridd/district"
	"github.com/gridd/gridd/optimizer"
)

// Registration is a site's entry in the district's bucket (key "site.ID").
type Registration struct {
	Site     string    `json:"site"`
	Instance string    `json:"instance"`
	Started  time.Time `json:"started"`
	Seen     time.Time `json:"seen"`
	// ImportLimitKW is the site's physical grid import limit.
	ImportLimitKW float64 `json:"import_limit_kw"`
	StepMinutes   int     `json:"step_minutes"`
}

// ErrDuplicate is returned when another live instance holds the site ID.
var ErrDuplicate = errors.New("district: site id already registered by another live instance")

func siteKey(id string) string { return "site." + id }

// Caps is the coordinator's decision for one site: its import cap per step
// from Start.
type Caps struct {
	District    string    `json:"district"`
	Cycle       int64     `json:"cycle"`
	Site        string    `json:"site"`
	Start       time.Time `json:"start"`
	StepMinutes int       `json:"step_minutes"`
	CapKW       []float64 `json:"cap_kw"`
	// Reason words why (converged, gap, excluded ...).
	Reason string `json:"reason"`
}

// Ack answers a Caps message.
type Ack struct {
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
}

// Participant makes a site take part in a district: it registers the site
// in the bucket (refusing to run beside another live instance with the same
// ID), answers the coordinator's rounds by re-solving its own plan, and
// applies the caps it is sent.
type Participant struct {
	Bus      *Bus
	Site     string
	Instance string
	// ImportLimitKW and StepMinutes describe the site for the registration.
	ImportLimitKW float64
	StepMinutes   int
	// Scenario returns the site's current scenario, starting at start and
	// holding steps steps (an error when it cannot).
	Scenario func(ctx context.Context, start time.Time, steps int) (*optimizer.Scenario, error)
	// Apply puts caps in force (the site's external-limit mechanism).
	Apply func(ctx context.Context, c Caps) error
	// OnRefused is told when the site is refused (duplicate ID) and when it
	// is registered again.
	OnRefused func(err error)
	Log       *slog.Logger

	solver district.Solver
	rev    uint64
	reg    Registration
	owned  bool
}

// Run registers the site and serves rounds until ctx ends; it then
// unsubscribes and removes the registration.
func (p *Participant) Run(ctx context.Context) error {
	if p.Log == nil {
		p.Log = slog.New(slog.DiscardHandler)
	}
	p.reg = Registration{Site: p.Site, Instance: p.Instance, Started: time.Now().UTC(), ImportLimitKW: p.ImportLimitKW, StepMinutes: p.StepMinutes}
	refusedOnce := false
	for {
		err := p.register(ctx)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrDuplicate) && ctx.Err() == nil {
			p.Log.Warn("district registration failed; retrying", "site", p.Site, "err", err)
		}
		if errors.Is(err, ErrDuplicate) && !refusedOnce {
			refusedOnce = true
			p.Log.Error("district: refused", "site", p.Site, "err", err)
			if p.OnRefused != nil {
				p.OnRefused(err)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(HeartbeatInterval):
		}
	}
	if refusedOnce && p.OnRefused != nil {
		p.OnRefused(nil)
	}
	solveSub, err := p.Bus.NC.Subscribe(solveSubject(p.Bus.District, p.Site), p.onSolve)
	if err != nil {
		return fmt.Errorf("district: subscribe: %w", err)
	}
	defer func() { _ = solveSub.Unsubscribe() }()
	capsSub, err := p.Bus.NC.Subscribe(capsSubject(p.Bus.District, p.Site), p.onCaps)
	if err != nil {
		return fmt.Errorf("district: subscribe: %w", err)
	}
	defer func() { _ = capsSub.Unsubscribe() }()
	p.Log.Info("district: site registered", "site", p.Site, "district", p.Bus.District)
	tick := time.NewTicker(HeartbeatInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			if p.owned {
				_ = p.Bus.KV.Delete(dctx, siteKey(p.Site), jetstream.LastRevision(p.rev))
			}
			cancel()
			return ctx.Err()
		case <-tick.C:
			if err := p.heartbeat(ctx); err != nil && ctx.Err() == nil {
				p.Log.Warn("district heartbeat", "site", p.Site, "err", err)
			}
		}
	}
}

// register claims the site's key: created when free, taken over when it
// holds this instance, refused while another live instance holds it.
func (p *Participant) register(ctx context.Context) error {
	p.reg.Seen = time.Now().UTC()
	data, _ := json.Marshal(p.reg)
	rev, err := p.Bus.KV.Create(ctx, siteKey(p.Site), data)
	if err == nil {
		p.rev, p.owned = rev, true
		return nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return err
	}
	e, gerr := p.Bus.KV.Get(ctx, siteKey(p.Site))
	if gerr != nil {
		return gerr
	}
	var other Registration
	if json.Unmarshal(e.Value(), &other) == nil && other.Instance == p.Instance {
		rev, err = p.Bus.KV.Update(ctx, siteKey(p.Site), data, e.Revision())
		if err == nil {
			p.rev, p.owned = rev, true
		}
		return err
	}
	return fmt.Errorf("%w: %q is held by instance %s (started %s, seen %s)", ErrDuplicate, p.Site, other.Instance,
		other.Started.Format(time.RFC3339), other.Seen.Format(time.RFC3339))
}

func (p *Participant) heartbeat(ctx context.Context) error {
	p.reg.Seen = time.Now().UTC()
	data, _ := json.Marshal(p.reg)
	rev, err := p.Bus.KV.Update(ctx, siteKey(p.Site), data, p.rev)
	if err != nil {
		// Expired (e.g. across a broker outage) or taken: claim it again.
		if rerr := p.register(ctx); rerr != nil {
			return fmt.Errorf("heartbeat: %w; re-register: %w", err, rerr)
		}
		return nil
	}
	p.rev = rev
	return nil
}

func (p *Participant) onSolve(m *nats.Msg) {
	var req district.Request
	var rep district.Reply
	if err := decodeStrict(m.Data, &req); err != nil {
		rep.Site, rep.Error = p.Site, "bad request: "+err.Error()
	} else if req.Site != p.Site || req.District != p.Bus.District {
		rep = district.Reply{Site: p.Site, Cycle: req.Cycle, Round: req.Round, Error: fmt.Sprintf("request for site %q of district %q reached %q of %q", req.Site, req.District, p.Site, p.Bus.District)}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		scn, err := p.Scenario(ctx, req.Start, req.Steps)
		if err != nil {
			rep = district.Reply{Site: p.Site, Cycle: req.Cycle, Round: req.Round, Error: "no scenario: " + err.Error()}
		} else {
			rep = p.solver.Answer(ctx, scn, req)
		}
		cancel()
	}
	data, _ := json.Marshal(rep)
	_ = m.Respond(data)
}

func (p *Participant) onCaps(m *nats.Msg) {
	var c Caps
	ack := Ack{OK: true}
	if err := decodeStrict(m.Data, &c); err != nil {
		ack = Ack{Error: "bad caps: " + err.Error()}
	} else if err := checkCaps(c, p.Site, p.Bus.District); err != nil {
		ack = Ack{Error: err.Error()}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := p.Apply(ctx, c); err != nil {
			ack = Ack{Error: err.Error()}
		}
		cancel()
	}
	if !ack.OK {
		p.Log.Warn("district caps refused", "site", p.Site, "err", ack.Error)
	}
	data, _ := json.Marshal(ack)
	_ = m.Respond(data)
}

func checkCaps(c Caps, site, d string) error {
	if c.Site != site || c.District != d {
		return fmt.Errorf("caps for site %q of district %q reached %q of %q", c.Site, c.District, site, d)
	}
	if c.StepMinutes <= 0 || len(c.CapKW) == 0 || c.Start.IsZero() {
		return fmt.Errorf("caps: step_minutes %d, %d values from %s: want a positive step, values and a start", c.StepMinutes, len(c.CapKW), c.Start)
	}
	for t, v := range c.CapKW {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > optimizer.MaxMagnitude {
			return fmt.Errorf("caps: cap_kw[%d]: %v is not a cap in kW", t, v)
		}
	}
	return nil
}

// RemoteSite is a district site reached over NATS request/reply.
type RemoteSite struct {
	Bus  *Bus
	Name string
}

// ID returns the site's ID.
func (r *RemoteSite) ID() string { return r.Name }

// Solve sends one round's request and decodes the answer strictly. A request
// or its answer lost with a NATS node that went down (or sent while the site
// reconnects) is sent again, each attempt bounded by half the time left, until
// ctx ends: solving is idempotent.
func (r *RemoteSite) Solve(ctx context.Context, req district.Request) (district.Reply, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return district.Reply{}, err
	}
	var msg *nats.Msg
	for {
		actx := ctx
		cancel := func() {}
		if d, ok := ctx.Deadline(); ok {
			actx, cancel = context.WithTimeout(ctx, max(time.Until(d)/2, 250*time.Millisecond))
		}
		msg, err = r.Bus.NC.RequestWithContext(actx, solveSubject(r.Bus.District, r.Name), data)
		cancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			if errors.Is(err, nats.ErrNoResponders) {
				return district.Reply{}, fmt.Errorf("site %s is not connected (no responders): %w", r.Name, ctx.Err())
			}
			return district.Reply{}, ctx.Err()
		}
		if errors.Is(err, nats.ErrNoResponders) {
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	var rep district.Reply
	if err := decodeStrict(msg.Data, &rep); err != nil {
		return district.Reply{}, fmt.Errorf("%w: %w", district.ErrGarbage, err)
	}
	return rep, nil
}
