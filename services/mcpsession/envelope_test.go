package mcpsession

import (
	"bytes"
	"io/fs"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/internal/recordings"
)

// envelopeCases are envelopes around the edges of what a scan can tell:
// members out of order, in other cases, given twice, escaped, null, of
// other types, nested deep, with space everywhere JSON allows it.
var envelopeCases = []string{
	`{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"warning","logger":"kubernetes/faults","data":{"faultId":"a"}}}`,
	`{"params":{"data":{"faultId":"a"},"logger":"kubernetes/faults"},"method":"notifications/message","jsonrpc":"2.0"}`,
	` { "method" : "notifications/message" , "params" : { "logger" : "kubernetes/faults" , "data" : [ 1 , { "x" : "}" } ] } } `,
	"{\"method\":\"notifications/message\",\n\t\"params\":{\"logger\":\"kubernetes/faults\",\r\n\"data\":null}}",
	`{"method":"notifications/message","params":{"logger":"kubernetes/faults"}}`,
	`{"id":1,"method":"notifications/message","params":{"logger":"kubernetes/faults","data":{}}}`,
	`{"id":null,"method":"notifications/message","params":{"logger":"kubernetes/faults","data":{}}}`,
	`{"ID":"x","method":"notifications/message","params":{"logger":"kubernetes/faults","data":{}}}`,
	`{"Method":"notifications/message","PARAMS":{"Logger":"kubernetes/faults","Data":{"a":1}}}`,
	`{"method":"notifications/message","method":"notifications/message","params":{"logger":"kubernetes/faults","data":{}}}`,
	`{"method":"x","Method":"notifications/message","params":{"logger":"kubernetes/faults","data":{}}}`,
	`{"method":"notifications/message","params":{"logger":"kubernetes/faults"},"params":{"data":{"a":1}}}`,
	`{"method":"notifications/message","params":{"logger":"kubernetes/faults","data":1,"data":2}}`,
	`{"method":"notifications\/message","params":{"logger":"kubernetes/faults","data":{}}}`,
	`{"method":"notifications/message","params":{"logger":"kubernetes\/faults","data":{}}}`,
	`{"method":"notifications/message","params":{"logger":"kubernetes\u002ffaults","data":{"a":1}}}`,
	`{"me\u0074hod":"notifications/message","params":{"logger":"kubernetes/faults","data":{}}}`,
	`{"method":"notifications/message","param\u017f":{"logger":"kubernetes/faults","data":{}}}`,
	`{"method":"notifications/message","paramſ":{"logger":"kubernetes/faults","data":{}}}`,
	`{"method":"notifications/messagé","params":{"logger":"kubernetes/faults","data":{}}}`,
	`{"method":null,"params":{"logger":"kubernetes/faults","data":{}}}`,
	`{"method":7,"params":{"logger":"kubernetes/faults","data":{}}}`,
	`{"method":"notifications/message","params":null,"x":"kubernetes/faults"}`,
	`{"method":"notifications/message","params":"kubernetes/faults"}`,
	`{"method":"notifications/message","params":["kubernetes/faults"]}`,
	`{"method":"notifications/message","params":{"logger":7,"data":"kubernetes/faults"}}`,
	`{"method":"notifications/message","params":{"logger":null,"data":"kubernetes/faults"}}`,
	`{"method":"notifications/message","params":{"logger":"kubernetes/faults ","data":{}}}`,
	`{"method":"notifications/progress","params":{"logger":"kubernetes/faults","data":{}}}`,
	`{"method":"notifications/message","params":{"logger":"kubernetes/faults","data":{"a":"\"}{]["}},"x":[[[{"y":"\\"}]]]}`,
	`["kubernetes/faults"]`,
	`"kubernetes/faults"`,
	`null`,
	`{}`,
	`{"kubernetes/faults":true}`,
}

// The scan answers as the decoding does, on every case it settles, and
// faultNotification answers as the decoding does on all of them whose
// logger's letters are not escapes (its "/" may be).
func TestScanFaultNotificationAnswersAsDecoding(t *testing.T) {
	check := func(t *testing.T, msg []byte) {
		t.Helper()
		if checkJSON(msg) != nil {
			t.Fatalf("not a valid case: %s", msg)
		}
		wantData, wantOK := decodeFaultNotification(msg)
		gotData, gotOK, settled := scanFaultNotification(msg)
		if settled && (gotOK != wantOK || !bytes.Equal(gotData, wantData) || (gotData == nil) != (wantData == nil)) {
			t.Errorf("%s\n scan: %q %v\n decoding: %q %v", msg, gotData, gotOK, wantData, wantOK)
		}
		if !bytes.Contains(msg, faultsMark) {
			// faultNotification's first look: a logger whose letters
			// are written as escapes is not taken off the stream.
			wantData, wantOK = nil, false
		}
		if data, ok := faultNotification(msg); ok != wantOK || !bytes.Equal(data, wantData) {
			t.Errorf("%s\n faultNotification: %q %v\n decoding: %q %v", msg, data, ok, wantData, wantOK)
		}
	}
	for _, c := range envelopeCases {
		check(t, []byte(c))
	}
	rec, err := fs.ReadFile(recordings.Upstream(), "stream.notifications.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	faults := 0
	for line := range bytes.Lines(rec) {
		if line = bytes.TrimSpace(line); len(line) > 0 {
			check(t, line)
			if _, ok, settled := scanFaultNotification(line); ok && settled {
				faults++
			}
		}
	}
	if faults == 0 {
		t.Error("the scan settled none of the real server's recorded faults")
	}
}

// FuzzScanFaultNotification holds the scan to the decoding's answer on
// any valid JSON.
func FuzzScanFaultNotification(f *testing.F) {
	for _, c := range envelopeCases {
		f.Add([]byte(c))
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		if checkJSON(msg) != nil {
			return
		}
		wantData, wantOK := decodeFaultNotification(msg)
		gotData, gotOK, settled := scanFaultNotification(msg)
		if settled && (gotOK != wantOK || !bytes.Equal(gotData, wantData) || (gotData == nil) != (wantData == nil)) {
			t.Fatalf("%q\n scan: %q %v\n decoding: %q %v", msg, gotData, gotOK, wantData, wantOK)
		}
	})
}
