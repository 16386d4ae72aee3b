package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"strings"
)

// insecureListenFlag is the flag that allows plain HTTP on a non-loopback address.
const insecureListenFlag = "insecure-listen"

// loopbackOnly reports whether the listen address addr accepts connections from this
// host only: an IP loopback address or "localhost". An empty host, 0.0.0.0, :: and
// any other name or address are reachable from the network.
func loopbackOnly(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("--listen %q: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return true, nil
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback(), nil
}

// checkListen enforces the API's network default: plain HTTP only on loopback. On any
// other address the API needs TLS (--tls-cert/--tls-key), or --insecure-listen to
// accept credentials in clear text, which is then logged as a warning.
func checkListen(addr string, tls, insecure bool, log *slog.Logger) error {
	local, err := loopbackOnly(addr)
	if err != nil {
		return err
	}
	switch {
	case local || tls:
		return nil
	case !insecure:
		return usageError{fmt.Errorf("--listen %s is reachable from the network: serve it with TLS (--tls-cert, --tls-key), or pass --%s to send tokens and passwords in clear text", addr, insecureListenFlag)}
	default:
		log.Warn("INSECURE: the API and console listen on a network address without TLS; tokens, passwords and session cookies cross the network in clear text", "listen", addr)
		return nil
	}
}

// sha256Hex is the hex SHA-256 of b.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
