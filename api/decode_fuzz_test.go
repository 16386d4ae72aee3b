package api

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
)

type sessionBody struct {
	DeviceID  string   `json:"device_id"`
	Arrival   *apiTime `json:"arrival"`
	Departure *apiTime `json:"departure"`
	EnergyKWh *float64 `json:"energy_kwh"`
}

// FuzzDecodeBody: any request body either decodes or gets a 400 JSON error whose field,
// if named, is one of the struct's fields or an unknown field that occurs in the body.
func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{
		`{"device_id":"ev-1","arrival":"2024-05-01T18:00:00Z","departure":"2024-05-01T22:00:00Z","energy_kwh":12}`,
		`{"arrival":"soon"}`, `{"energy_kwh":"ten"}`, `{"x":1}`, `[]`, ``, `{"arrival":12}`, `{"device_id":"a"}{"b":1}`,
	} {
		f.Add(s)
	}
	known := map[string]bool{"device_id": true, "arrival": true, "departure": true, "energy_kwh": true}
	f.Fuzz(func(t *testing.T, body string) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/x", strings.NewReader(body))
		var v sessionBody
		if decodeBody(w, r, &v, false) {
			if w.Code != 200 {
				t.Fatalf("decoded but wrote %d", w.Code)
			}
			// Strict: exactly one JSON value, nothing after it but white space.
			dec := json.NewDecoder(strings.NewReader(body))
			var first json.RawMessage
			if err := dec.Decode(&first); err != nil || strings.TrimSpace(body[dec.InputOffset():]) != "" {
				t.Fatalf("accepted %q: not exactly one JSON value (%v)", body, err)
			}
			return
		}
		if w.Code == 413 {
			if len(body) <= MaxBodyBytes {
				t.Fatalf("413 for a %d-byte body", len(body))
			}
			return
		}
		if w.Code != 400 {
			t.Fatalf("status %d for %q", w.Code, body)
		}
		var e apiError
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
			t.Fatalf("error body %q: %v", w.Body.String(), err)
		}
		if e.Field != "" && !known[e.Field] && !strings.Contains(string([]rune(body)), e.Field) {
			t.Fatalf("field %q named for body %q", e.Field, body)
		}
	})
}

func TestDecodeBodyStrict(t *testing.T) {
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"device_id":"a"}`, 200},
		{`{"device_id":"a"}` + " \n\t", 200},
		{`{"device_id":"a"}{"device_id":"b"}`, 400},
		{`{"device_id":"a"} x`, 400},
		{`{"device_id":"a"}]`, 400},
		{`{"device_id":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413},
		{`{"device_id":"a"}` + strings.Repeat(" ", MaxBodyBytes), 413},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/x", strings.NewReader(tc.body))
		var v sessionBody
		ok := decodeBody(w, r, &v, false)
		if ok != (tc.code == 200) || w.Code != tc.code {
			t.Errorf("body %.40q...: ok=%v code %d, want %d", tc.body, ok, w.Code, tc.code)
		}
	}
}

func TestAPITimeNamesField(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/x", strings.NewReader(`{"departure":"tomorrow"}`))
	var v sessionBody
	if decodeBody(w, r, &v, false) {
		t.Fatal("decoded a bad time")
	}
	var e apiError
	json.Unmarshal(w.Body.Bytes(), &e)
	if e.Field != "departure" || !strings.Contains(e.Error, "RFC 3339") {
		t.Fatalf("%+v", e)
	}
}

// TestDecodeBodyExactKeys: keys that match a field only when case is ignored, and keys
// given twice, are refused with a 400 naming the field (encoding/json alone accepts
// them and the last one wins).
func TestDecodeBodyExactKeys(t *testing.T) {
	for _, tc := range []struct {
		body, field string
		code        int
	}{
		{`{"device_id":"a","energy_kwh":5}`, "", 200},
		{`{"device_id":"a","Energy_KWH":5}`, "energy_kwh", 400},
		{`{"device_id":"a","energy_kwh":5,"Energy_KWH":50}`, "energy_kwh", 400},
		{`{"device_id":"a","energy_kwh":5,"energy_kwh":50}`, "energy_kwh", 400},
		{`{"DEVICE_ID":"a"}`, "device_id", 400},
		{`{"\u0064evice_id":"a"}`, "", 200}, // an escape of the exact key is the exact key
		{`{"device_id":"a","nope":1}`, "nope", 400},
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/x", strings.NewReader(tc.body))
		var v sessionBody
		ok := decodeBody(w, r, &v, false)
		var e apiError
		json.Unmarshal(w.Body.Bytes(), &e)
		if ok != (tc.code == 200) || w.Code != tc.code || e.Field != tc.field {
			t.Errorf("body %s: ok=%v code %d field %q, want %d %q (%s)", tc.body, ok, w.Code, e.Field, tc.code, tc.field, w.Body)
		}
	}
}
