// Package recordings holds the bytes recorded from the real
// kubernetes-mcp-server-with-events, kept in the repository so that a clone
// with nothing beside it passes its tests. Tests of every package read them
// here; nothing of the daemon imports this package.
//
//	upstream/        the event-subscription protocol: initialize, setLevel,
//	                 events_subscribe answers and refusals, notification streams
//	upstream-tools/  the server's read-only tools (pods_get, resources_get,
//	                 resources_list tables, events_list) and a recorded storm
//
// Each directory's README says how and against what it was recorded.
package recordings

import (
	"embed"
	"io/fs"
)

//go:embed upstream upstream-tools
var files embed.FS

// Upstream is the event-subscription transcript (upstream/).
func Upstream() fs.FS { return sub("upstream") }

// UpstreamTools is the read-only tools' transcript and the storm
// (upstream-tools/).
func UpstreamTools() fs.FS { return sub("upstream-tools") }

func sub(dir string) fs.FS {
	f, err := fs.Sub(files, dir)
	if err != nil {
		panic(err) // the directory is embedded above: cannot happen
	}
	return f
}
