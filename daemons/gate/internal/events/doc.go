// Package events keeps the gate's push feed: every ref update a push
// landed, numbered with a sequence that survives restarts, kept as JSON
// lines in the state directory (bounded to the newest entries) and handed
// to followers as it happens.
package events
