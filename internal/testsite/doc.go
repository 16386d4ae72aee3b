// Package testsite starts a simulated site for tests: the Modbus simulator on
// loopback for a site config, the embedded store in a temporary directory, the real
// poller and writer, and a dispatch.Service on a simulated clock. Everything it starts
// is stopped when the test ends. Only test code imports it.
package testsite
