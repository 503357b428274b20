package packaging

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"go.yaml.in/yaml/v3"
)

// instruction is one Dockerfile line as BuildKit's own parser reads it.
type instruction struct {
	cmd   string   // lower case: from, copy, run, user, ...
	args  []string // unquoted words
	flags []string // --chown=..., --from=..., --platform=...
}

// stage is one FROM and what follows it.
type stage struct {
	from  []string
	lines []instruction
}

func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	for _, w := range res.Warnings {
		t.Errorf("%s: %s", path, w.Short)
	}
	var stages []stage
	for _, n := range res.AST.Children {
		in := instruction{cmd: strings.ToLower(n.Value), flags: n.Flags}
		for a := n.Next; a != nil; a = a.Next {
			in.args = append(in.args, strings.Trim(a.Value, `"`))
		}
		if in.cmd == "from" {
			stages = append(stages, stage{from: append(in.flags, in.args...)})
			continue
		}
		if len(stages) == 0 {
			continue // ARG before the first FROM
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, in)
	}
	if len(stages) == 0 {
		t.Fatalf("%s: no FROM", path)
	}
	return stages
}

// labels collects LABEL key/value pairs (BuildKit gives key, value, separator).
func (s stage) labels() map[string]string {
	out := map[string]string{}
	for _, in := range s.lines {
		if in.cmd != "label" {
			continue
		}
		for i := 0; i+1 < len(in.args); i += 3 {
			out[in.args[i]] = in.args[i+1]
		}
	}
	return out
}

func (s stage) last(cmd string) *instruction {
	var found *instruction
	for i := range s.lines {
		if s.lines[i].cmd == cmd {
			found = &s.lines[i]
		}
	}
	return found
}

func hasFlag(in instruction, flag string) bool {
	for _, f := range in.flags {
		if f == flag {
			return true
		}
	}
	return false
}

const (
	stateDir  = "/var/lib/kubernetes-mcp-runner"
	runnerUID = "65532"
)

// TestDockerfiles: every image runs as the non-root runner user, declares
// the state directory a VOLUME, creates that directory owned by the
// runner's user (a root-owned one makes the runner exit at start), carries
// the OCI labels, and pins its base images.
func TestDockerfiles(t *testing.T) {
	for _, path := range []string{"container/Dockerfile", "container/Dockerfile.goreleaser", "../examples/triage-agent/Dockerfile"} {
		t.Run(filepath.Base(filepath.Dir(path))+"/"+filepath.Base(path), func(t *testing.T) {
			stages := parseDockerfile(t, path)
			final := stages[len(stages)-1]

			user := final.last("user")
			if user == nil || len(user.args) != 1 || user.args[0] != runnerUID+":"+runnerUID {
				t.Errorf("final stage USER %+v, want %s:%s (numeric, so runAsNonRoot can check it)", user, runnerUID, runnerUID)
			}
			vol := final.last("volume")
			if vol == nil || strings.Join(vol.args, " ") != stateDir {
				t.Errorf("VOLUME %+v, want %s", vol, stateDir)
			}
			// The state directory is created owned by the runner's user:
			// a COPY --chown onto it, or a RUN that chowns it.
			owned := false
			for _, in := range final.lines {
				switch in.cmd {
				case "copy":
					if hasFlag(in, "--chown="+runnerUID+":"+runnerUID) && in.args[len(in.args)-1] == stateDir {
						owned = true
					}
				case "run":
					cmd := strings.Join(in.args, " ")
					if regexp.MustCompile(`chown (-R )?`+runnerUID+`:`+runnerUID+` `+regexp.QuoteMeta(stateDir)+`(\s|$)`).MatchString(cmd) &&
						strings.Contains(cmd, "mkdir -p "+stateDir) {
						owned = true
					}
				}
			}
			if !owned {
				t.Errorf("nothing creates %s owned by %s: WORKDIR alone would make it root's", stateDir, runnerUID)
			}
			// The owner step comes before USER and WORKDIR name it.
			if wd := final.last("workdir"); wd == nil || wd.args[0] != stateDir {
				t.Errorf("WORKDIR %+v, want %s", wd, stateDir)
			}
			labels := final.labels()
			for _, k := range []string{"source", "licenses"} {
				if labels["org.opencontainers.image."+k] == "" {
					t.Errorf("no org.opencontainers.image.%s label", k)
				}
			}
			if !strings.Contains(path, "examples") {
				for _, k := range []string{"version", "revision", "created"} {
					if !strings.HasPrefix(labels["org.opencontainers.image."+k], "${") {
						t.Errorf("org.opencontainers.image.%s = %q, want it from a build argument", k, labels["org.opencontainers.image."+k])
					}
				}
			}
			// Every base image is pinned to a version.
			for _, s := range stages {
				img := s.from[len(s.from)-1]
				if len(s.from) >= 3 && strings.EqualFold(s.from[len(s.from)-2], "as") {
					img = s.from[len(s.from)-3]
				}
				if strings.HasPrefix(img, "${") {
					continue // a build argument, checked below
				}
				if !strings.Contains(img, ":") || strings.HasSuffix(img, ":latest") {
					t.Errorf("base image %s is not pinned", img)
				}
			}
		})
	}
}

// TestAgentExampleImage: the example agent image starts from the published
// runner image, runs on Debian slim as the runner's user, and installs the
// agent script at the path the agent-command names.
func TestAgentExampleImage(t *testing.T) {
	stages := parseDockerfile(t, "../examples/triage-agent/Dockerfile")
	data, _ := os.ReadFile("../examples/triage-agent/Dockerfile")
	m := regexp.MustCompile(`(?m)^ARG RUNNER_IMAGE=(\S+):(\S+)$`).FindStringSubmatch(string(data))
	if m == nil || m[1] != publishedImage(t) {
		t.Fatalf("RUNNER_IMAGE default %v, want the published image %s", m, publishedImage(t))
	}
	if stages[0].from[0] != "${RUNNER_IMAGE}" {
		t.Errorf("first stage FROM %v, want the runner image", stages[0].from)
	}
	final := stages[len(stages)-1]
	if !regexp.MustCompile(`^debian:[0-9.]+-slim$`).MatchString(final.from[0]) {
		t.Errorf("final stage FROM %v, want a pinned Debian slim", final.from)
	}
	copied := map[string]string{}
	for _, in := range final.lines {
		if in.cmd == "copy" {
			copied[in.args[len(in.args)-1]] = in.args[0]
		}
	}
	if copied["/usr/bin/kubernetes-mcp-runner"] != "/usr/bin/kubernetes-mcp-runner" {
		t.Error("the runner binary is not taken from the runner image")
	}
	if src := copied["/agents/triage-agent"]; src == "" {
		t.Error("the agent script is not installed at /agents/triage-agent")
	} else if _, err := os.Stat(filepath.Join("../examples/triage-agent", src)); err != nil {
		t.Errorf("agent script source: %v", err)
	}
	if ep := final.last("entrypoint"); ep == nil || ep.args[0] != "/usr/bin/tini" {
		t.Errorf("ENTRYPOINT %+v: an init reaps orphaned agent processes", ep)
	}
}

// publishedImage is the image goreleaser publishes.
func publishedImage(t *testing.T) string {
	t.Helper()
	var g struct {
		DockersV2 []struct {
			Images     []string          `yaml:"images"`
			Platforms  []string          `yaml:"platforms"`
			Tags       []string          `yaml:"tags"`
			Labels     map[string]string `yaml:"labels"`
			Dockerfile string            `yaml:"dockerfile"`
		} `yaml:"dockers_v2"`
		Dockers any `yaml:"dockers"`
	}
	data, err := os.ReadFile("../goreleaser.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	if g.Dockers != nil || len(g.DockersV2) != 1 || len(g.DockersV2[0].Images) != 1 {
		t.Fatalf("goreleaser.yaml: want one dockers_v2 image and no deprecated dockers")
	}
	return g.DockersV2[0].Images[0]
}

// TestGoreleaserImage: the release builds the image for amd64 and arm64,
// tags it with the version the manifests use, and labels it.
func TestGoreleaserImage(t *testing.T) {
	publishedImage(t)
	var g struct {
		DockersV2 []struct {
			Platforms  []string          `yaml:"platforms"`
			Tags       []string          `yaml:"tags"`
			Labels     map[string]string `yaml:"labels"`
			Dockerfile string            `yaml:"dockerfile"`
		} `yaml:"dockers_v2"`
	}
	data, _ := os.ReadFile("../goreleaser.yaml")
	if err := yaml.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	d := g.DockersV2[0]
	if strings.Join(d.Platforms, ",") != "linux/amd64,linux/arm64" {
		t.Errorf("platforms %v", d.Platforms)
	}
	if strings.Join(d.Tags, ",") != "{{ .Version }}" {
		t.Errorf("tags %v, want the bare version the manifests and chart name", d.Tags)
	}
	for _, k := range []string{"source", "version", "revision", "licenses", "created"} {
		if d.Labels["org.opencontainers.image."+k] == "" {
			t.Errorf("no org.opencontainers.image.%s label", k)
		}
	}
	if d.Dockerfile != "packaging/container/Dockerfile.goreleaser" {
		t.Errorf("dockerfile %s", d.Dockerfile)
	}
	// The binary goreleaser places at $TARGETPLATFORM/<binary> is the one copied.
	stages := parseDockerfile(t, "container/Dockerfile.goreleaser")
	found := false
	for _, in := range stages[len(stages)-1].lines {
		if in.cmd == "copy" && in.args[0] == "${TARGETPLATFORM}/kubernetes-mcp-runner" {
			found = true
		}
	}
	if !found {
		t.Error("Dockerfile.goreleaser does not copy ${TARGETPLATFORM}/kubernetes-mcp-runner")
	}
}

// TestDockerignore keeps build outputs and VCS data out of the context.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{".git", "bin/", "dist/"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(p) + `$`).Match(data) {
			t.Errorf(".dockerignore lacks %s", p)
		}
	}
}
