// Package daemon is terok-shield's core: the per-container state (armed
// mode, live allows and denies, persisted in the state directory), the
// arithmetic from profiles and entries to nftables sets, DNS re-resolution
// by TTL, the NFLOG audit watchers, and the HTTP handlers of shield.sock.
package daemon
