package clusterstate

import (
	"fmt"
	"strings"
)

// Table is a resources_list or pods_list answer in the server's default
// list output: kubectl's wide table with a header line, columns padded with
// spaces, LABELS last. NAMESPACE is absent for cluster-scoped kinds, and a
// column may be empty in every row (a Node's VERSION), so cells are cut at
// the header's column offsets rather than split on spaces.
type Table struct {
	columns []string
	starts  []int
	index   map[string]int
	lines   []string
}

// ParseTable reads a table answer. An empty answer is an empty table: the
// printer writes nothing, not even a header, when nothing matched.
func ParseTable(text string) (Table, error) {
	text = strings.TrimRight(text, "\n")
	if strings.TrimSpace(text) == "" {
		return Table{index: map[string]int{}}, nil
	}
	header, body, _ := strings.Cut(text, "\n")
	t := Table{index: map[string]int{}}
	// Header names may hold one space ("NOMINATED NODE"); columns are
	// separated by at least two (the printer pads with three).
	for i := 0; i < len(header); {
		for i < len(header) && header[i] == ' ' {
			i++
		}
		if i >= len(header) {
			break
		}
		start := i
		for i < len(header) && !(header[i] == ' ' && (i+1 >= len(header) || header[i+1] == ' ')) {
			i++
		}
		name := header[start:i]
		t.index[name] = len(t.columns)
		t.columns = append(t.columns, name)
		t.starts = append(t.starts, start)
	}
	if _, ok := t.index["NAME"]; !ok {
		return Table{}, fmt.Errorf("parse table: no NAME column in header %q", clip(header, 120))
	}
	if body != "" {
		t.lines = strings.Split(body, "\n")
	}
	return t, nil
}

// Len is the number of rows.
func (t Table) Len() int { return len(t.lines) }

// Columns are the header's column names, in order.
func (t Table) Columns() []string { return t.columns }

// Has says whether the table has the column.
func (t Table) Has(column string) bool { _, ok := t.index[column]; return ok }

// Cell is row i's value in column, trimmed; "" for a missing column or an
// empty cell.
func (t Table) Cell(i int, column string) string {
	c, ok := t.index[column]
	if !ok || i < 0 || i >= len(t.lines) {
		return ""
	}
	line := t.lines[i]
	start := t.starts[c]
	if start >= len(line) {
		return ""
	}
	end := len(line)
	if c+1 < len(t.starts) && t.starts[c+1] < end {
		end = t.starts[c+1]
	}
	return strings.TrimSpace(line[start:end])
}
