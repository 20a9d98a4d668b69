// Package iprange does the interval arithmetic behind the shield's nftables
// interval sets: prefixes become inclusive address ranges, which are merged
// (the kernel refuses overlapping intervals), cut around the private ranges,
// and diffed so a live change touches only the elements that differ.
package iprange
