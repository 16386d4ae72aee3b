package district

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// FuzzCheckReply feeds arbitrary site answers to the coordinator's check: it
// never panics, and an answer it accepts has the asked length, finite values
// and a bound no higher than its priced objective.
func FuzzCheckReply(f *testing.F) {
	f.Add([]byte(`{"site":"a","cycle":1,"round":2,"priced":{"import_kw":[1,2,3],"cost":5,"bound":4,"feasible":true}}`))
	f.Add([]byte(`{"site":"a","cycle":1,"round":2,"priced":{"import_kw":[1,2],"cost":5,"bound":4}}`))
	f.Add([]byte(`{"site":"a","cycle":1,"round":2,"priced":{"import_kw":[1,2,3],"cost":5,"bound":99}}`))
	f.Add([]byte(`{"site":"a","cycle":1,"round":2,"priced":{"import_kw":[1,2,3],"cost":5,"bound":4},"capped":{"import_kw":[9,9,9],"cost":1,"bound":1,"feasible":true}}`))
	f.Add([]byte(`{"site":"a","error":"boom"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var rep Reply
		if json.Unmarshal(data, &rep) != nil {
			return
		}
		req := &Request{Site: "a", Cycle: 1, Round: 2, Start: time.Unix(0, 0), StepMinutes: 60, Steps: 3,
			PricePerKWh: []float64{0.1, 0, 0.2}, CapKW: []float64{5, 5, 5}}
		if why := checkReply(req, &rep); why != "" {
			return
		}
		p := rep.Priced
		if p == nil || len(p.ImportKW) != 3 || rep.Capped == nil || len(rep.Capped.ImportKW) != 3 {
			t.Fatalf("accepted an answer without both plans of 3 steps: %+v", rep)
		}
		obj := p.CostTotal
		for k, v := range p.ImportKW {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("accepted import %v", v)
			}
			obj += req.PricePerKWh[k] * v
		}
		if p.BoundTotal > obj+1e-6*(1+math.Abs(obj)) {
			t.Fatalf("accepted a bound %v above the objective %v", p.BoundTotal, obj)
		}
		if rep.Capped.Feasible && breaksCap(rep.Capped.ImportKW, req.CapKW) {
			t.Fatalf("accepted a plan breaking its cap: %v", rep.Capped.ImportKW)
		}
	})
}
