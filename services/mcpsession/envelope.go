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
	top, isObject, settled := pick(msg, "id", "method", "params")
	if !settled {
		return nil, false, false
	}
	if !isObject {
		// Not an object: no envelope (null decodes to an empty one).
		return nil, false, true
	}
	id, method, params := top[0], top[1], top[2]
	if id != nil {
		// A request or a response, not a notification: json.RawMessage
		// takes any value, null included.
		return nil, false, true
	}
	if m, settled := plainString(method); !settled {
		return nil, false, false
	} else if m != "notifications/message" {
		return nil, false, true
	}
	inner, isObject, settled := pick(params, "logger", "data")
	if !settled {
		return nil, false, false
	}
	if !isObject {
		// Missing, null or not an object: no logger (and a type error
		// for anything but null).
		return nil, false, true
	}
	logger, payload := inner[0], inner[1]
	if l, settled := plainString(logger); !settled {
		return nil, false, false
	} else if l != LoggerFaults {
		return nil, false, true
	}
	if payload != nil {
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

// pick returns the raw values of the members of the JSON object obj
// named names (at most three, ASCII; matched without regard to case, as
// encoding/json matches fields), nil for a member that is absent, and
// whether obj is an object. obj is valid JSON or empty. settled is false
// when a key holds an escape or a non-ASCII byte, which may match after
// unescaping or folding, or when a named member is given twice.
func pick(obj []byte, names ...string) (vals [3][]byte, isObject, settled bool) {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return vals, false, true
	}
	i++
	for {
		i = skipSpace(obj, i)
		if i >= len(obj) || obj[i] == '}' {
			return vals, true, true
		}
		if obj[i] == ',' {
			i++
			continue
		}
		keyEnd := skipValue(obj, i)
		key := obj[i+1 : keyEnd-1]
		for _, c := range key {
			if c == '\\' || c >= 0x80 {
				return vals, true, false
			}
		}
		i = skipSpace(obj, keyEnd)
		i = skipSpace(obj, i+1) // the ':'
		end := skipValue(obj, i)
		for n, name := range names {
			if bytes.EqualFold(key, []byte(name)) {
				if vals[n] != nil {
					return vals, true, false
				}
				vals[n] = obj[i:end]
			}
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
