package ocpp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// OCPP-J message types.
const (
	typeCall       = 2
	typeCallResult = 3
	typeCallError  = 4
)

// maxMessageIDLen is the longest message id OCPP-J allows (36 characters).
const maxMessageIDLen = 36

// Frame is the envelope of one OCPP-J message as gridd checks it before the
// protocol library parses the payload.
type Frame struct {
	Type int
	// ID is the message's unique id.
	ID string
	// Action is a CALL's action name.
	Action string
	// Payload is the CALL's or CALLRESULT's payload (raw JSON).
	Payload json.RawMessage
}

// FrameError is a frame that is not an OCPP-J message. ID is the message id when it
// could be read ("-1" otherwise, as OCPP-J prescribes for the CALLERROR answering it).
type FrameError struct {
	ID   string
	Code string // OCPP 2.0.1 error code; 1.6 answers with its own spelling (code16)
	Err  error
}

func (e *FrameError) Error() string { return e.Code + ": " + e.Err.Error() }
func (e *FrameError) Unwrap() error { return e.Err }

// code16 maps a 2.0.1 error code to the OCPP 1.6 one.
func code16(code string) string {
	switch code {
	case "FormatViolation":
		return "FormationViolation" // sic, OCPP 1.6J
	case "RpcFrameworkError":
		return "GenericError"
	}
	return code
}

// ParseFrame checks a raw WebSocket text message: a JSON array of
// [2, id, action, {payload}], [3, id, {payload}] or [4, id, code, description,
// {details}] with a string id of 1 to 36 characters. It never panics; anything else
// is a *FrameError.
func ParseFrame(data []byte) (Frame, error) {
	var f Frame
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '[' {
		return f, &FrameError{ID: "-1", Code: "RpcFrameworkError", Err: errors.New("message is not a JSON array")}
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(data, &parts); err != nil {
		return f, &FrameError{ID: "-1", Code: "RpcFrameworkError", Err: fmt.Errorf("message is not valid JSON: %w", err)}
	}
	if len(parts) < 3 {
		return f, &FrameError{ID: "-1", Code: "RpcFrameworkError", Err: fmt.Errorf("message has %d elements, want at least 3", len(parts))}
	}
	if err := json.Unmarshal(parts[0], &f.Type); err != nil || f.Type < typeCall || f.Type > typeCallError {
		return f, &FrameError{ID: idOf(parts[1]), Code: "MessageTypeNotSupported", Err: fmt.Errorf("message type %s: want 2, 3 or 4", clip(parts[0]))}
	}
	if err := json.Unmarshal(parts[1], &f.ID); err != nil || f.ID == "" || len(f.ID) > maxMessageIDLen {
		return f, &FrameError{ID: "-1", Code: "RpcFrameworkError", Err: fmt.Errorf("message id %s: want a string of 1 to %d characters", clip(parts[1]), maxMessageIDLen)}
	}
	switch f.Type {
	case typeCall:
		if len(parts) != 4 {
			return f, &FrameError{ID: f.ID, Code: "RpcFrameworkError", Err: fmt.Errorf("CALL has %d elements, want 4", len(parts))}
		}
		if err := json.Unmarshal(parts[2], &f.Action); err != nil || f.Action == "" || len(f.Action) > 64 {
			return f, &FrameError{ID: f.ID, Code: "RpcFrameworkError", Err: fmt.Errorf("action %s: want a string of 1 to 64 characters", clip(parts[2]))}
		}
		f.Payload = parts[3]
	case typeCallResult:
		if len(parts) != 3 {
			return f, &FrameError{ID: f.ID, Code: "RpcFrameworkError", Err: fmt.Errorf("CALLRESULT has %d elements, want 3", len(parts))}
		}
		f.Payload = parts[2]
	case typeCallError:
		if len(parts) != 5 {
			return f, &FrameError{ID: f.ID, Code: "RpcFrameworkError", Err: fmt.Errorf("CALLERROR has %d elements, want 5", len(parts))}
		}
		var code string
		if err := json.Unmarshal(parts[2], &code); err != nil {
			return f, &FrameError{ID: f.ID, Code: "RpcFrameworkError", Err: fmt.Errorf("error code %s: want a string", clip(parts[2]))}
		}
		f.Action = code
		f.Payload = parts[4]
	}
	if f.Type != typeCallError && (len(f.Payload) == 0 || f.Payload[0] != '{') {
		return f, &FrameError{ID: f.ID, Code: "FormatViolation", Err: errors.New("payload is not a JSON object")}
	}
	return f, nil
}

func idOf(raw json.RawMessage) string {
	var id string
	if json.Unmarshal(raw, &id) != nil || id == "" || len(id) > maxMessageIDLen {
		return "-1"
	}
	return id
}

func clip(raw json.RawMessage) string {
	if len(raw) > 40 {
		return string(raw[:40]) + "…"
	}
	return string(raw)
}

// callError encodes a CALLERROR frame.
func callError(id, code, description string) []byte {
	if len(description) > 255 {
		description = description[:255]
	}
	b, _ := json.Marshal([]any{typeCallError, id, code, description, struct{}{}})
	return b
}
