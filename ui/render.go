package ui

import (
	"bytes"
	"html/template"
	"regexp"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
	"github.com/yuin/goldmark/renderer/html"
)

// Renderer turns an untrusted Markdown report into HTML safe to put in the
// page. goldmark renders it (GitHub-flavoured: tables, strikethrough, task
// lists, autolinks), passing raw HTML through so that bluemonday is the one
// gate every byte goes through: a policy that allows text structure and
// http(s)/mailto links only. No scripts, styles, event handlers, forms,
// frames or images survive (an image would make an operator's browser call
// a host the report chose).
type Renderer struct {
	md     goldmark.Markdown
	policy *bluemonday.Policy
}

// NewRenderer builds the Markdown renderer and the sanitiser.
func NewRenderer() *Renderer {
	md := goldmark.New(
		goldmark.WithExtensions(extension.GFM),
		goldmark.WithRendererOptions(html.WithUnsafe()),
	)
	return &Renderer{md: md, policy: Policy()}
}

// Policy is the sanitiser applied to rendered reports.
func Policy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
		"blockquote", "pre", "code", "em", "strong", "del", "s", "b", "i", "kbd", "sub", "sup",
		"ul", "ol", "li", "dl", "dt", "dd", "details", "summary",
		"table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption")
	p.AllowAttrs("start").Matching(regexp.MustCompile(`^[0-9]{1,9}$`)).OnElements("ol")
	p.AllowAttrs("class").Matching(regexp.MustCompile(`^language-[A-Za-z0-9_+-]{1,32}$`)).OnElements("code")
	p.AllowAttrs("align").Matching(regexp.MustCompile(`^(left|center|right)$`)).OnElements("th", "td")
	// Task-list checkboxes, shown and inert.
	p.AllowAttrs("type").Matching(regexp.MustCompile(`^checkbox$`)).OnElements("input")
	p.AllowAttrs("checked", "disabled").Matching(regexp.MustCompile(`^(|checked|disabled)$`)).OnElements("input")
	p.AllowAttrs("href").OnElements("a")
	p.AllowURLSchemes("http", "https", "mailto")
	p.RequireParseableURLs(true)
	p.AllowRelativeURLs(false)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(true)
	return p
}

// Render converts a report to sanitised HTML.
func (r *Renderer) Render(report []byte) template.HTML {
	var b bytes.Buffer
	if err := r.md.Convert(report, &b); err != nil {
		// goldmark fails only on a failing writer; show the text instead.
		return template.HTML("<pre>" + template.HTMLEscapeString(string(report)) + "</pre>") //nolint:gosec // escaped
	}
	return template.HTML(r.policy.SanitizeBytes(b.Bytes())) //nolint:gosec // sanitised by the policy above
}
