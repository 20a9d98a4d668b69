// Package target parses the entries of allowlists and of live allow/deny:
// an IP address, a CIDR, or a domain name.
package target
