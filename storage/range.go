package storage

import "time"

// Epoch is the start of time for range queries: "from the beginning" is From: Epoch.
// A zero time.Time is rejected by every range query.
var Epoch = time.Unix(0, 0).UTC()
