// Package ruleset builds the shield's nftables table inside one container's
// network namespace over netlink (github.com/google/nftables), loads it in
// one atomic batch, updates its sets in place, and reads it back as text.
package ruleset
