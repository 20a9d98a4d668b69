package attach

import (
	"encoding/json"
	"fmt"
)

// Control message types carried in text frames.
const (
	// TypeResize asks the server to resize the terminal (client → server).
	TypeResize = "resize"
	// TypeExit reports the process's exit code (server → client, last).
	TypeExit = "exit"
)

// Control is one text frame of the protocol.
type Control struct {
	Type string `json:"type"`
	Rows uint16 `json:"rows,omitempty"`
	Cols uint16 `json:"cols,omitempty"`
	// Code is the exit code of a TypeExit message.
	Code *int `json:"code,omitempty"`
}

// parseControl decodes a text frame.
func parseControl(b []byte) (Control, error) {
	var c Control
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("control message %.64q is not JSON: %w", b, err)
	}
	if c.Type == TypeResize && (c.Rows == 0 || c.Cols == 0) {
		return c, fmt.Errorf("resize message needs positive rows and cols (got %dx%d)", c.Rows, c.Cols)
	}
	return c, nil
}
