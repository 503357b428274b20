package dispatch

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/incident"
	"github.com/kubernetes-mcp-runner/kubernetes-mcp-runner/procutil"
)

// Isolation runs agents as a user of their own (docs/security.md). The
// runner keeps its secrets readable by its own user alone; each agent gets
// its own workspace and a copy of its own cluster's kubeconfig, never the
// files of the other clusters.
//
// The workspace of an isolated agent:
//
//	<root>/<cluster>/      runner, 0711: traversable, not listable
//	  <incident>/          runner, 0755: the agent cannot create, rename or
//	                       replace files here (no symlink for result.json)
//	    event.json         runner, 0644: the agent cannot change it
//	    kubeconfig         agent, 0400: a copy of its own cluster's (removed after the run)
//	    output/, home/     agent, 0700: the report and $HOME
//	    agent.log, result.json  runner, 0600
//
// When the agent has ended the runner takes the workspace back (chown to
// itself, CAP_CHOWN), so it can read the report, prune and delete it.
type Isolation struct {
	// User is the agents' account; nil runs them as the runner's user.
	User *procutil.User
	// Limits are set in each agent before it runs, by Helper (the
	// runner's own binary, which calls procutil.HelperMain).
	Limits procutil.Limits
	Helper string
	// EnvFile, when set, holds NAME=value lines added to every agent's
	// environment, read at each start: an API key given to agents this
	// way never sits in the runner's environment.
	EnvFile string
}

// Files of an isolated workspace besides incident's.
const (
	kubeconfigCopy = "kubeconfig"
	homeDir        = "home"
)

// agentKubeconfig is the kubeconfig path an agent of cluster is told.
func (d *Dispatcher) agentKubeconfig(cluster, ws string) string {
	kc := d.kubeconfig(cluster)
	if kc == "" || d.o.Agent.Isolation.User == nil {
		return kc
	}
	return filepath.Join(ws, kubeconfigCopy)
}

// isolate hands the workspace to the agent's user: the event and a copy
// of the cluster's kubeconfig readable to it alone, its output and home
// directories its own, the path to it traversable.
func (d *Dispatcher) isolate(ws, cluster string) error {
	u := d.o.Agent.Isolation.User
	if u == nil {
		return nil
	}
	uid, gid := int(u.UID), int(u.GID)
	for _, dir := range []string{d.o.WorkspaceRoot, filepath.Dir(ws)} {
		st, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(dir, st.Mode().Perm()|0o111); err != nil {
				return err
			}
		}
	}
	if err := os.Chmod(ws, 0o755); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(ws, homeDir), 0o700); err != nil {
		return err
	}
	for _, dir := range []string{incident.OutputDir, homeDir} {
		if err := os.Lchown(filepath.Join(ws, dir), uid, gid); err != nil {
			return err
		}
	}
	// The runner's, readable to all: the agent cannot change it, and the
	// incidents page still reads it while the agent runs.
	if err := os.Chmod(filepath.Join(ws, incident.EventFile), 0o644); err != nil {
		return err
	}
	if kc := d.kubeconfig(cluster); kc != "" {
		data, err := os.ReadFile(kc)
		if err != nil {
			return fmt.Errorf("read the kubeconfig of cluster %s: %w", cluster, err)
		}
		if err := writeOwned(filepath.Join(ws, kubeconfigCopy), data, uid, gid); err != nil {
			return fmt.Errorf("copy the kubeconfig of cluster %s: %w", cluster, err)
		}
	}
	return nil
}

// writeOwned creates path (it must not exist: no symlink is followed)
// with data, mode 0400, owned by uid and gid from the moment it has data.
func writeOwned(path string, data []byte, uid, gid int) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o400)
	if err != nil {
		return err
	}
	if err := f.Chown(uid, gid); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// reclaim takes an isolated workspace back once its agent has ended: the
// kubeconfig copy goes, and everything the agent made becomes the
// runner's (links themselves, never what they point to), so the report
// can be read and the workspace pruned and deleted. What an agent process
// that outlived the run writes afterwards stays its own.
func (d *Dispatcher) reclaim(ws string) {
	if d.o.Agent.Isolation.User == nil {
		return
	}
	if err := os.Remove(filepath.Join(ws, kubeconfigCopy)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		d.logger.Warn("Could not remove the agent's kubeconfig copy", "workspace", ws, "error", err.Error())
	}
	if err := reclaimTree(ws, os.Getuid(), os.Getgid()); err != nil {
		d.logger.Warn("Could not take the agent's workspace back", "workspace", ws, "error", err.Error())
	}
}

func reclaimTree(ws string, uid, gid int) error {
	var firstErr error
	note := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	// WalkDir calls fn for a directory before reading it, so an agent's
	// 0700 directory is the runner's by the time it is listed.
	_ = filepath.WalkDir(ws, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			note(err)
			return nil
		}
		note(os.Lchown(path, uid, gid))
		switch {
		case e.Type()&fs.ModeSymlink != 0:
		case e.IsDir():
			note(os.Chmod(path, 0o700))
		case e.Type().IsRegular():
			note(os.Chmod(path, 0o600))
		}
		return nil
	})
	return firstErr
}

// agentEnv is an agent's whole environment: the allow-list from the
// runner's environment, then --agent-env-file, then the incident's fields,
// which nothing overrides; an isolated agent's HOME is its own.
func (d *Dispatcher) agentEnv(f incident.Fields) ([]string, error) {
	extra := map[string]string{}
	if path := d.o.Agent.Isolation.EnvFile; path != "" {
		vars, err := ReadEnvFile(path)
		if err != nil {
			return nil, err
		}
		for k, v := range vars {
			extra[k] = v
		}
	}
	for k, v := range f.Env() {
		extra[k] = v
	}
	if d.o.Agent.Isolation.User != nil {
		extra["HOME"] = filepath.Join(f.Workspace, homeDir)
	}
	return procutil.Environ(d.o.Agent.EnvAllow, d.o.LookupEnv, extra), nil
}

// ReadEnvFile reads --agent-env-file: NAME=value lines, blank lines and #
// comments; the value is taken as it stands (no quotes, no expansion).
func ReadEnvFile(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --agent-env-file: %w", err)
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, value, ok := strings.Cut(line, "=")
		if !ok || !validEnvName(name) {
			return nil, fmt.Errorf("--agent-env-file %s line %d: want NAME=value", path, n)
		}
		vars[name] = value
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read --agent-env-file: %w", err)
	}
	return vars, nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// spec is the part of an agent's or cleanup command's procutil.Spec that
// isolation decides.
func (iso Isolation) spec(s procutil.Spec) procutil.Spec {
	s.User, s.Limits, s.Helper = iso.User, iso.Limits, iso.Helper
	return s
}
