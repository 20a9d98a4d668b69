// Package netns opens a process's network namespace from /proc/PID/ns/net
// and identifies it by inode, so the daemon can tell a live namespace from a
// recycled pid.
package netns
