// Package resolve looks up the A and AAAA records of allowlisted domains
// against one configured DNS server and reports the TTL, so the daemon can
// re-resolve each name when its records expire.
package resolve
