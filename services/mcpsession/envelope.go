package mcpsession

import (
	"bytes"
	"encoding/json"
)

// scanFaultNotification reads the JSON-RPC envelope of msg, a JSON value
// that checkJSON accepted, without decoding it: the data of a
// kubernetes/faults notifications/message, and ok, as
// decodeFaultNotification answers. settled is false where the scan cannot
// be sure of that answer (a key or string with an escape or a non-ASCII
// byte, which encoding/json may fold or unescape into a match; a member
// given twice, which encoding/json merges); the caller decodes those.
//
// It is a loop over the bytes with no recursion: the event stream's
// reader runs it on a goroutine whose stack must stay small.
func scanFaultNotification(msg []byte) (data json.RawMessage, ok, settled bool) {
	var method, params []byte
	var seenID, seenMethod, seenParams bool
	top, settled := members(msg, func(key, value []byte) bool {
		switch {
		case bytes.EqualFold(key, []byte("id")):
			if seenID {
				return false
			}
			seenID = true
		case bytes.EqualFold(key, []byte("method")):
			if seenMethod {
				return false
			}
			seenMethod, method = true, value
		case bytes.EqualFold(key, []byte("params")):
			if seenParams {
				return false
			}
			seenParams, params = true, value
		}
		return true
	})
	if !settled {
		return nil, false, false
	}
	if !top {
		// Not an object: no envelope (null decodes to an empty one).
		return nil, false, true
	}
	if seenID {
		// A request or a response, not a notification: json.RawMessage
		// takes any value, null included.
		return nil, false, true
	}
	if m, settled := plainString(method); !settled {
		return nil, false, false
	} else if m != "notifications/message" {
		return nil, false, true
	}
	var logger, payload []byte
	var seenLogger, seenData bool
	isObject, settled := members(params, func(key, value []byte) bool {
		switch {
		case bytes.EqualFold(key, []byte("logger")):
			if seenLogger {
				return false
			}
			seenLogger, logger = true, value
		case bytes.EqualFold(key, []byte("data")):
			if seenData {
				return false
			}
			seenData, payload = true, value
		}
		return true
	})
	if !settled {
		return nil, false, false
	}
	if !isObject {
		// Missing, null or not an object: no logger (and a type error
		// for anything but null).
		return nil, false, true
	}
	if l, settled := plainString(logger); !settled {
		return nil, false, false
	} else if l != LoggerFaults {
		return nil, false, true
	}
	if seenData {
		data = append(json.RawMessage(nil), payload...)
	}
	return data, true, true
}

// plainString is the JSON value v as Go would decode it into a string
// field, when the scan can tell: v is a string without escapes or
// non-ASCII bytes (its text is then its bytes). A missing value or null
// leaves the field empty; any other type fails the decoding, which is
// also no match: "" for both. Strings with escapes are not settled.
func plainString(v []byte) (string, bool) {
	if len(v) == 0 || v[0] != '"' {
		return "", true
	}
	inner := v[1 : len(v)-1]
	for _, c := range inner {
		if c == '\\' || c >= 0x80 {
			return "", false
		}
	}
	return string(inner), true
}

// members calls visit with the key and the raw value of every member of
// the JSON object obj, in order, and reports whether obj is an object.
// obj is valid JSON or empty. settled is false when a key holds an escape
// or a non-ASCII byte, or when visit returns false.
func members(obj []byte, visit func(key, value []byte) bool) (isObject, settled bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false, true
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) {
			return true, true // not reached for valid JSON
		}
		switch obj[i] {
		case '}':
			return true, true
		case ',':
			i++
			continue
		}
		keyEnd := skipValue(obj, i)
		key := obj[i+1 : keyEnd-1]
		for _, c := range key {
			if c == '\\' || c >= 0x80 {
				return true, false
			}
		}
		i = skipSpace(obj, keyEnd)
		i = skipSpace(obj, i+1) // the ':'
		end := skipValue(obj, i)
		if !visit(key, obj[i:end]) {
			return true, false
		}
		i = end
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the valid JSON value that starts at b[i].
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default:
		// A number, true, false or null: up to the next delimiter.
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// skipString returns the end of the string that starts at b[i], its
// closing quote included.
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return i
}
