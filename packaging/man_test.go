package packaging

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/config"
)

// The manual page is generated from the runner's own option table, so it
// lists every flag with its environment variable and default; the packages
// ship the gzipped copy (Debian and Fedora install manual pages compressed).
// go test ./packaging -run TestManPage -update rewrites both.
const (
	manPage   = "man/kubernetes-mcp-runner.1"
	manPageGz = "man/kubernetes-mcp-runner.1.gz"
)

// roff escapes text for a manual page: backslashes, and a leading dot or
// quote that roff would read as a request.
func roff(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

func renderManPage() []byte {
	var b strings.Builder
	b.WriteString(`.\" Generated from the runner's options by
.\" go test ./packaging -run TestManPage -update
.TH KUBERNETES\-MCP\-RUNNER 1 "" "kubernetes-mcp-runner" "User Commands"
.SH NAME
kubernetes\-mcp\-runner \- run an investigation agent for each fault kubernetes\-mcp\-server reports
.SH SYNOPSIS
.B kubernetes\-mcp\-runner
[\fIoptions\fR]
.br
.B kubernetes\-mcp\-runner check\-config
[\fIoptions\fR]
.br
.B kubernetes\-mcp\-runner incidents
[\fB\-\-json\fR] [\fB\-\-limit\fR \fIN\fR] [\fB\-\-cluster\fR \fINAME\fR] [\fB\-\-status\fR \fISTATUS\fR] [\fB\-\-since\fR \fIDURATION\fR]
.br
.B kubernetes\-mcp\-runner demo
.br
.B kubernetes\-mcp\-runner \-\-version
.SH DESCRIPTION
The runner keeps an MCP session to kubernetes\-mcp\-server in each
configured cluster, receives the faults it detects (and, with
\fB\-\-intake\-address\fR, Alertmanager alerts), queues them durably per
cluster and runs the agent command once per incident, with the fault in
its workspace.
.PP
\fBcheck\-config\fR validates the options and prints the effective
configuration with secrets redacted; it exits 0, or 2 naming the culprit.
\fBincidents\fR lists finished incidents from the state directory or the
incidents page. \fBdemo\fR runs against simulated clusters with the
bundled sample agent.
.SH OPTIONS
Every option is a flag, an environment variable, and a line
"\fIflag value\fR" of the \fB\-\-config\fR file. Precedence: flag, then
environment, then config file, then default.
`)
	section := ""
	for _, o := range config.Options() {
		if o.Section != section {
			section = o.Section
			b.WriteString(".SS " + roff(section) + "\n")
		}
		b.WriteString(".TP\n.B \\-\\-" + roff(o.Flag) + "\n")
		b.WriteString(roff(o.Usage) + "\n.br\n")
		def := o.Default
		if def == "" {
			def = "empty"
		}
		b.WriteString("Environment \\fB" + roff(o.Env) + "\\fR; default " + roff(def) + ".\n")
	}
	b.WriteString(`.SH EXIT STATUS
0 after a clean shutdown; 2 for a configuration error (restarting cannot
fix it); 1 for other failures.
.SH FILES
.TP
.I /etc/kubernetes\-mcp\-runner/runner.conf
the configuration file the unit passes with \fB\-\-config\fR
.TP
.I /etc/kubernetes\-mcp\-runner/kubernetes\-mcp\-runner.env
environment of the unit, for secrets
.TP
.I /var/lib/kubernetes\-mcp\-runner
the state directory: queue journal, incident history and workspaces
.SH SEE ALSO
.BR systemctl (1),
.BR journalctl (1),
and /usr/share/doc/kubernetes\-mcp\-runner/docs/
`)
	return []byte(b.String())
}

// gzipped compresses deterministically: no name, no time stamp, so the
// committed copy is the same bytes on every machine.
func gzipped(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestManPage: the committed manual page is the one the options generate,
// its gzipped copy holds the same text, and man renders it without
// warnings when man is installed.
func TestManPage(t *testing.T) {
	want := renderManPage()
	if *update {
		if err := os.WriteFile(manPage, want, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(manPageGz, gzipped(t, want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(manPage)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s is stale (an option changed): go test ./packaging -run TestManPage -update", manPage)
	}
	f, err := os.Open(manPageGz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", manPageGz, err)
	}
	unz, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unz, want) {
		t.Fatalf("%s does not hold %s (%v): go test ./packaging -run TestManPage -update", manPageGz, manPage, err)
	}
	for _, o := range config.Options() {
		if !bytes.Contains(got, []byte(".B \\-\\-"+roff(o.Flag)+"\n")) {
			t.Errorf("manual page lacks --%s", o.Flag)
		}
	}
	if _, err := exec.LookPath("man"); err != nil {
		t.Log("man not installed: rendering not checked")
		return
	}
	cmd := exec.Command("man", "--warnings", "-E", "UTF-8", "-l", manPage)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MAN_KEEP_STDERR=1", "MANPAGER=cat", "PAGER=cat")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil || stderr.Len() != 0 || !bytes.Contains(out, []byte("check-config")) {
		t.Errorf("man -l %s: %v\n%s", manPage, err, stderr.String())
	}
}
