package modbus

import (
	"github.com/gridd/gridd/fieldbus"

	"fmt"
	"sort"
)

// Modbus protocol limits per read request.
const (
	MaxReadRegisters = 125
	MaxReadBits      = 2000
)

// PlanOptions tune how points are merged into read requests.
type PlanOptions struct {
	// MaxGap is how many unmapped registers (or bits) a read may span to join two
	// points into one request. 0 merges only contiguous points. Devices that answer
	// reads of unmapped addresses with an exception need 0.
	MaxGap int
	// MaxRegisters caps one holding/input read; 0 means 125 (the protocol maximum).
	MaxRegisters int
	// MaxBits caps one coil/discrete read; 0 means 2000 (the protocol maximum).
	MaxBits int
}

// DefaultPlanOptions are what the poller uses unless told otherwise.
func DefaultPlanOptions() PlanOptions {
	return PlanOptions{MaxGap: 4, MaxRegisters: MaxReadRegisters, MaxBits: MaxReadBits}
}

func (o PlanOptions) normalised() (PlanOptions, error) {
	if o.MaxRegisters == 0 {
		o.MaxRegisters = MaxReadRegisters
	}
	if o.MaxBits == 0 {
		o.MaxBits = MaxReadBits
	}
	switch {
	case o.MaxGap < 0:
		return o, fmt.Errorf("plan: MaxGap %d must not be negative", o.MaxGap)
	case o.MaxRegisters < 4 || o.MaxRegisters > MaxReadRegisters:
		return o, fmt.Errorf("plan: MaxRegisters %d must be in 4..%d (a 64-bit point spans 4)", o.MaxRegisters, MaxReadRegisters)
	case o.MaxBits < 1 || o.MaxBits > MaxReadBits:
		return o, fmt.Errorf("plan: MaxBits %d must be in 1..%d", o.MaxBits, MaxReadBits)
	}
	return o, nil
}

// Read is one planned read request.
type Read struct {
	Table   fieldbus.RegisterTable
	Address uint16
	Count   uint16
	// Points are indices into the planned slice of points, in address order.
	Points []int
}

// End is the first address after the read.
func (r Read) End() int { return int(r.Address) + int(r.Count) }

// PlanReads merges the points of each register table that are contiguous or within
// MaxGap of each other into as few reads as the per-request limits allow. Reads come
// out ordered by table (coil, discrete, holding, input) and address.
func PlanReads(points []fieldbus.Point, opts PlanOptions) ([]Read, error) {
	o, err := opts.normalised()
	if err != nil {
		return nil, err
	}
	order := map[fieldbus.RegisterTable]int{fieldbus.Coil: 0, fieldbus.Discrete: 1, fieldbus.Holding: 2, fieldbus.Input: 3}
	idx := make([]int, 0, len(points))
	for i := range points {
		p := &points[i]
		if _, ok := order[p.Register]; !ok {
			return nil, fmt.Errorf("plan: point %s: unknown register table %q", p.Name, p.Register)
		}
		if p.Width() == 0 {
			return nil, fmt.Errorf("plan: point %s: unknown data type %q", p.Name, p.Type)
		}
		if int(p.Address)+p.Width() > 65536 {
			return nil, fmt.Errorf("plan: point %s: address %d + width %d passes 65535", p.Name, p.Address, p.Width())
		}
		idx = append(idx, i)
	}
	sort.SliceStable(idx, func(a, b int) bool {
		pa, pb := &points[idx[a]], &points[idx[b]]
		if pa.Register != pb.Register {
			return order[pa.Register] < order[pb.Register]
		}
		return pa.Address < pb.Address
	})
	var reads []Read
	for _, i := range idx {
		p := &points[i]
		limit := o.MaxRegisters
		if p.Register.IsBit() {
			limit = o.MaxBits
		}
		start, end := int(p.Address), int(p.Address)+p.Width()
		if n := len(reads); n > 0 {
			cur := &reads[n-1]
			newEnd := max(cur.End(), end)
			if cur.Table == p.Register && start-cur.End() <= o.MaxGap && newEnd-int(cur.Address) <= limit {
				cur.Count = uint16(newEnd - int(cur.Address))
				cur.Points = append(cur.Points, i)
				continue
			}
		}
		reads = append(reads, Read{Table: p.Register, Address: uint16(start), Count: uint16(end - start), Points: []int{i}})
	}
	return reads, nil
}
