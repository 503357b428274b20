package agentjob

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
)

// ExitEntrypoint is the pod's exit code when the entrypoint itself failed
// before the agent ran (bad flags, no token, the runner unreachable): the
// Job then fails without a start, which the runner records as an error,
// not as the agent's failure.
const ExitEntrypoint = 125

// Entrypoint is the job-entrypoint mode of the runner's binary, the
// command of an agent pod:
//
//	job-entrypoint install DIR       copy this binary to DIR (the init container)
//	job-entrypoint run [flags] -- COMMAND [ARG...]
//
// run reports the start to the runner, runs COMMAND in its own process
// group in the workspace under the timeout with its output captured and
// capped, then sends the workspace and the exit status back, retrying
// while the runner is away (a restarted runner adopts the Job and takes
// the result). It exits with the agent's exit code.
func Entrypoint(args []string, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "job-entrypoint: want install DIR or run [flags] -- COMMAND")
		return ExitEntrypoint
	}
	switch args[0] {
	case "install":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "job-entrypoint install: want one directory")
			return ExitEntrypoint
		}
		if err := install(args[1]); err != nil {
			fmt.Fprintf(stderr, "job-entrypoint install: %v\n", err)
			return ExitEntrypoint
		}
		return 0
	case "run":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		defer stop()
		return runEntrypoint(ctx, args[1:], stderr)
	}
	fmt.Fprintf(stderr, "job-entrypoint: unknown command %q\n", args[0])
	return ExitEntrypoint
}

func install(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	src, err := os.Open(self)
	if err != nil {
		return fmt.Errorf("open own binary: %w", err)
	}
	defer src.Close()
	dst, err := os.OpenFile(filepath.Join(dir, filepath.Base(ImageBinary)), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return fmt.Errorf("create entrypoint: %w", err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return fmt.Errorf("copy entrypoint: %w", err)
	}
	return dst.Close()
}

type entrypointFlags struct {
	resultsURL, tokenFile, eventFile, workspace string
	timeout, grace, uploadFor                   time.Duration
	logMaxBytes                                 int64
}

func runEntrypoint(ctx context.Context, args []string, stderr io.Writer) int {
	var o entrypointFlags
	fs := flag.NewFlagSet("job-entrypoint run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.resultsURL, "results-url", "", "the runner's results URL for this run")
	fs.StringVar(&o.tokenFile, "token-file", "", "file holding the run's token")
	fs.StringVar(&o.eventFile, "event-file", "", "event.json to copy into the workspace")
	fs.StringVar(&o.workspace, "workspace", PodWorkspace, "the agent's workspace")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "time the agent may run")
	fs.DurationVar(&o.grace, "kill-grace", 5*time.Second, "time between SIGTERM and SIGKILL of the agent")
	fs.DurationVar(&o.uploadFor, "upload-for", 10*time.Minute, "how long to keep trying to hand the result to the runner")
	fs.Int64Var(&o.logMaxBytes, "log-max-bytes", 1<<20, "cap on the agent's captured output")
	if err := fs.Parse(args); err != nil {
		return ExitEntrypoint
	}
	if fs.NArg() == 0 || o.resultsURL == "" || o.tokenFile == "" {
		fmt.Fprintln(stderr, "job-entrypoint run: --results-url, --token-file and a command are required")
		return ExitEntrypoint
	}
	token, err := os.ReadFile(o.tokenFile)
	if err != nil {
		fmt.Fprintf(stderr, "job-entrypoint: read token: %v\n", err)
		return ExitEntrypoint
	}
	ch := channel{url: strings.TrimRight(o.resultsURL, "/"), token: strings.TrimSpace(string(token)), client: &http.Client{Timeout: time.Minute}}
	if err := os.MkdirAll(filepath.Join(o.workspace, incident.OutputDir), 0o700); err != nil {
		fmt.Fprintf(stderr, "job-entrypoint: create workspace: %v\n", err)
		return ExitEntrypoint
	}
	if o.eventFile != "" {
		if err := copyFile(o.eventFile, filepath.Join(o.workspace, incident.EventFile)); err != nil {
			fmt.Fprintf(stderr, "job-entrypoint: %v\n", err)
			return ExitEntrypoint
		}
	}
	// The agent runs only once the runner knows it started: a channel
	// that does not work is found before any agent time is spent.
	if err := ch.retry(ctx, 2*time.Minute, func() (bool, error) { return ch.post("/start", nil) }); err != nil {
		fmt.Fprintf(stderr, "job-entrypoint: report start: %v\n", err)
		return ExitEntrypoint
	}

	runCtx, cancel := context.WithTimeout(ctx, o.timeout)
	res, err := procutil.Run(runCtx, procutil.Spec{
		Path: fs.Arg(0), Args: fs.Args()[1:], Dir: o.workspace, Env: os.Environ(),
		LogPath: filepath.Join(o.workspace, incident.LogFile), LogMaxBytes: o.logMaxBytes, Grace: o.grace,
	})
	cancel()
	st := Status{ExitCode: res.ExitCode, TimedOut: res.TimedOut, Killed: res.Killed,
		OutputBytes: res.OutputBytes, OutputTruncated: res.OutputTruncated, StartedAt: res.Started, EndedAt: res.Ended}
	if res.Signal != 0 {
		st.Signal = res.Signal.String()
	}
	if err != nil {
		// The command could not be started in the image: the agent's
		// own failure (a wrong --agent-command), told in its log.
		msg := fmt.Sprintf("job-entrypoint: start agent: %v\n", err)
		_ = os.WriteFile(filepath.Join(o.workspace, incident.LogFile), []byte(msg), 0o600)
		fmt.Fprint(stderr, msg)
		st.ExitCode, st.StartedAt, st.EndedAt = 127, time.Now(), time.Now()
	}
	uploadFor := o.uploadFor
	if ctx.Err() != nil {
		// The pod is being deleted: one try, no waiting.
		uploadFor = 0
	}
	if err := ch.retry(context.WithoutCancel(ctx), uploadFor, func() (bool, error) { return ch.upload(o.workspace, st) }); err != nil {
		fmt.Fprintf(stderr, "job-entrypoint: hand the result to the runner: %v\n", err)
	}
	switch {
	case st.Signal != "":
		return 128 + int(res.Signal)
	case st.ExitCode < 0:
		return 1
	}
	return st.ExitCode
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return fmt.Errorf("read %s: %w", from, err)
	}
	if err := os.WriteFile(to, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", to, err)
	}
	return nil
}

// channel is the pod's end of the results channel.
type channel struct {
	url, token string
	client     *http.Client
}

// retry calls try until it reports done or window has passed; try's error with
// done false is worth another try (the runner restarting, a network blip).
func (c channel) retry(ctx context.Context, window time.Duration, try func() (done bool, err error)) error {
	deadline := time.Now().Add(window)
	delay := 500 * time.Millisecond
	for {
		done, err := try()
		if done {
			return err
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// post sends one request; done is false when trying again may help.
func (c channel) post(path string, body io.Reader) (bool, error) {
	req, err := http.NewRequest(http.MethodPost, c.url+path, body)
	if err != nil {
		return true, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode < 300:
		return true, nil
	case resp.StatusCode == http.StatusConflict:
		return true, nil // an earlier try got through
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		return true, fmt.Errorf("runner kept part of the result: %s", bytes.TrimSpace(msg))
	}
	// 401 while a restarted runner has not adopted the Job yet; 5xx.
	return false, fmt.Errorf("runner answered %s: %s", resp.Status, bytes.TrimSpace(msg))
}

// upload streams the workspace as a tar, status.json first.
func (c channel) upload(ws string, st Status) (bool, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeArchive(pw, ws, st)) }()
	done, err := c.post("/result", pr)
	_ = pr.Close()
	return done, err
}

func writeArchive(w io.Writer, ws string, st Status) error {
	tw := tar.NewWriter(w)
	status, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: StatusFile, Mode: 0o600, Size: int64(len(status)), Typeflag: tar.TypeReg}); err != nil {
		return err
	}
	if _, err := tw.Write(status); err != nil {
		return err
	}
	err = filepath.WalkDir(ws, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(ws, p)
		if err != nil || rel == "." || rel == incident.EventFile {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel) + "/", Mode: 0o700, Typeflag: tar.TypeDir})
		case !info.Mode().IsRegular():
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := tw.WriteHeader(&tar.Header{Name: filepath.ToSlash(rel), Mode: 0o600, Size: info.Size(), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = io.CopyN(tw, f, info.Size())
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s shrank while it was sent", rel)
		}
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
