// Package tasks keeps task records under $TEROK_STATE_DIR/tasks/<project>/<id>/:
// task.json (the record, rewritten atomically), log (the task's output as
// it happens) and timeline.jsonl (what happened, one entry a line).
package tasks
