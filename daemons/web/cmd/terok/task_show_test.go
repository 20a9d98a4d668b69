package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/terok-ai/terok-in-docker/daemons/web/webapi"
)

// TestShowWebUI: terok task show (human form) says where a running web
// task's UI is reached and how to open it (issue 17, defect 8); a task
// without a UI address has no such line.
func TestShowWebUI(t *testing.T) {
	var out bytes.Buffer
	printTask(&out, webapi.Task{ID: "t1", Project: "p", Mode: webapi.ModeWeb, State: "running",
		WebPort: 7861, WebURL: "http://localhost:7861/"})
	if want := "web UI:     http://localhost:7861/  (open it with terok task ui t1: a one-time link)\n"; !strings.Contains(out.String(), want) {
		t.Errorf("terok task show lacks %q:\n%s", want, out.String())
	}
	out.Reset()
	printTask(&out, webapi.Task{ID: "t2", Project: "p", Mode: webapi.ModeWeb, State: "exited"})
	if strings.Contains(out.String(), "web UI:") {
		t.Errorf("an ended web task shows a UI address:\n%s", out.String())
	}
}
