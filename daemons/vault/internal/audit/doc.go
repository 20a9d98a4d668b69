// Package audit records every request the broker handles for a task: one
// JSON line per request (time, provider, method, path, status, bytes) in
// <state>/system/vault/audit/<project>/<task>.jsonl, and running counts
// per task. No header value, query string or body is ever recorded. Lines
// are written by one background writer so that recording never delays an
// answer; a task's file is bounded, and what does not fit is counted.
package audit
