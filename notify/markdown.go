package notify

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// Summary is what a chat message shows of a report: its first heading and
// a few lines under it, still in the report's Markdown.
type Summary struct {
	Title string
	Lines []string
}

var (
	atxHeading = regexp.MustCompile(`^ {0,3}(#{1,6})[ \t]+(.*?)[ \t#]*$`)
	listItem   = regexp.MustCompile(`^\s*(?:[-*+]|\d{1,9}[.)])\s+`)
	fence      = regexp.MustCompile("^ {0,3}(```|~~~)")
	preferred  = regexp.MustCompile(`(?i)\b(summary|root cause|conclusion|diagnosis|tl;?dr)\b`)
)

// Summarize picks the report's title (its first heading) and up to
// maxLines summary lines: those under a heading that names a summary, root
// cause, conclusion or diagnosis if there is one, otherwise the first lines
// after the title. Code blocks, tables and HTML lines are skipped.
func Summarize(md string, maxLines int) Summary {
	type section struct {
		heading string
		lines   []string
	}
	var sections []section
	cur := section{}
	inFence := false
	for _, raw := range strings.Split(md, "\n") {
		line := strings.TrimRight(raw, " \t\r")
		if fence.MatchString(line) {
			inFence = !inFence
			continue
		}
		if inFence {
			continue
		}
		if m := atxHeading.FindStringSubmatch(line); m != nil {
			sections = append(sections, cur)
			cur = section{heading: m[2]}
			continue
		}
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "|") || strings.HasPrefix(t, "<") || strings.Trim(t, "-=*_ ") == "" {
			continue
		}
		if loc := listItem.FindStringIndex(line); loc != nil {
			t = "• " + strings.TrimSpace(line[loc[1]:])
		}
		t = strings.TrimLeft(t, "> ")
		cur.lines = append(cur.lines, t)
	}
	sections = append(sections, cur)

	var s Summary
	for _, sec := range sections {
		if sec.heading != "" {
			s.Title = sec.heading
			break
		}
	}
	pick := -1
	for i, sec := range sections {
		if sec.heading != "" && sec.heading != s.Title && preferred.MatchString(sec.heading) && len(sec.lines) > 0 {
			pick = i
			break
		}
	}
	if pick < 0 {
		for i, sec := range sections {
			if len(sec.lines) > 0 {
				pick = i
				break
			}
		}
	}
	if pick >= 0 {
		lines := sections[pick].lines
		if len(lines) > maxLines {
			lines = lines[:maxLines]
		}
		s.Lines = lines
	}
	return s
}

var (
	codeSpan  = regexp.MustCompile("`+[^`]*`+")
	image     = regexp.MustCompile(`!\[([^\]]*)\]\([^)]*\)`)
	link      = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
	refLink   = regexp.MustCompile(`\[([^\]]*)\]\[[^\]]*\]`)
	autoLink  = regexp.MustCompile(`<((?:https?|mailto|ftp):[^>\s]*)>`)
	slackURL  = regexp.MustCompile(`<(?:https?|mailto|ftp):[^<>|\s]*\|([^<>]*)>`)
	bold      = regexp.MustCompile(`(\*\*|__)(\S(?:.*?\S)?)(\*\*|__)`)
	italic    = regexp.MustCompile(`\*(\S(?:[^*]*?\S)?)\*`)
	strike    = regexp.MustCompile(`~~(\S(?:.*?\S)?)~~`)
	htmlTag   = regexp.MustCompile(`</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>`)
	boldGuard = "\x00"
)

// Mrkdwn converts one line of untrusted Markdown to Slack mrkdwn that can
// neither mention nor link: links keep only their text, HTML tags are
// dropped, and &, < and > are escaped as Slack requires, so <!here>,
// <!channel>, <@U…>, <#C…> and <url|text> arrive as plain text. Blocks must
// also be sent verbatim so Slack does not link bare URLs or names itself.
func Mrkdwn(line string) string {
	line = strings.ReplaceAll(line, boldGuard, "")
	var b strings.Builder
	last := 0
	for _, loc := range codeSpan.FindAllStringIndex(line, -1) {
		b.WriteString(inline(line[last:loc[0]]))
		code := strings.Trim(line[loc[0]:loc[1]], "`")
		if code != "" {
			b.WriteString("`" + EscapeSlack(code) + "`")
		}
		last = loc[1]
	}
	b.WriteString(inline(line[last:]))
	return b.String()
}

func inline(s string) string {
	s = image.ReplaceAllString(s, "$1")
	s = link.ReplaceAllString(s, "$1")
	s = refLink.ReplaceAllString(s, "$1")
	s = slackURL.ReplaceAllString(s, "$1")
	s = autoLink.ReplaceAllString(s, "$1")
	s = htmlTag.ReplaceAllString(s, "")
	s = bold.ReplaceAllString(s, boldGuard+"$2"+boldGuard)
	s = italic.ReplaceAllString(s, "_${1}_")
	s = strike.ReplaceAllString(s, "~$1~")
	s = strings.ReplaceAll(s, boldGuard, "*")
	return EscapeSlack(s)
}

// EscapeSlack escapes the three characters Slack gives meaning to in any
// text: & < >. Text escaped so cannot form a link, mention or command.
func EscapeSlack(s string) string {
	return slackEscaper.Replace(s)
}

var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// PlainSlack makes untrusted text safe for a plain_text object (a header),
// where entities are not decoded: angle brackets become look-alike quotes,
// so nothing in it reads as Slack syntax anywhere it is shown.
func PlainSlack(s string) string { return plainReplacer.Replace(s) }

var plainReplacer = strings.NewReplacer("<", "‹", ">", "›")

// truncateRunes cuts s to at most n bytes on a rune boundary, marking the
// cut with an ellipsis.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const ell = "…"
	cut := n - len(ell)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ell
}
