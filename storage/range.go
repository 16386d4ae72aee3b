package storage

import "time"

// Epoch is the start of time for range queries: "from the beginning" is From: Epoch.
// A zero time.Time is rejected by every range query.
var Epoch = time.Unix(0, 0).UTC()

// End is the latest exclusive upper bound of a range query ("to the end of time"):
// every storable time (up to the end of year 9999) lies before it.
var End = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
