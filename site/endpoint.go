package site

import (
	"errors"
	"sync"
)

// endpointCheck validates a device endpoint. site knows no protocols: the fieldbus
// driver registry installs its check (fieldbus.Register calls SetEndpointCheck), so
// the schemes site accepts are exactly those a linked driver serves.
var endpointCheck struct {
	sync.RWMutex
	f func(endpoint string) error
}

// SetEndpointCheck makes Validate check every device endpoint with f (an error names
// what is wrong with the value; Validate adds the field path and the value). Until it
// is called only a missing endpoint is an error.
func SetEndpointCheck(f func(endpoint string) error) {
	endpointCheck.Lock()
	endpointCheck.f = f
	endpointCheck.Unlock()
}

func checkEndpoint(s string) error {
	if s == "" {
		return errors.New("is required (host:port or SCHEME://...)")
	}
	endpointCheck.RLock()
	f := endpointCheck.f
	endpointCheck.RUnlock()
	if f == nil {
		return nil
	}
	return f(s)
}
