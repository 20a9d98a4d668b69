// Package owners is the gate's durable record of which task created which
// branch of a repository: one small JSON file inside each bare repository
// (File), replaced atomically at every change. A branch with no record is
// the user's (made with the admin token, by an upstream sync, or before
// the gate kept records).
//
// Owners are task ids, not tokens: a follow-up run of a task gets a new
// token for the same task and keeps the task's branches.
package owners
