package notification

import (
	"strings"
	"unicode/utf8"
)

// Excerpt is the beginning of a report, at most limit bytes, cut at a line
// end where one is near, always valid UTF-8. truncated says whether
// anything was left out.
func Excerpt(report []byte, limit int) (excerpt string, truncated bool) {
	s := strings.ToValidUTF8(string(report), "\uFFFD")
	if len(s) <= limit {
		return s, false
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if nl := strings.LastIndexByte(s[:cut], '\n'); nl >= limit/2 {
		cut = nl + 1
	}
	return s[:cut], true
}
