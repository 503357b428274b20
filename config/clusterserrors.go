package config

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// The YAML decoder speaks of its own line numbers and of Go types: a
// syntax error is reported at the line where the enclosing block began
// (often line 1), an unknown key as "field x not found in type
// config.clusterEntry". These helpers say it in the file's terms.

// describeClustersError explains why the clusters document data did not
// decode (err): a syntax error at its line, an unknown key by name and
// line, or what the decoder said in the file's words.
func describeClustersError(data []byte, err error) error {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return yamlSyntaxError(data, err)
	}
	if keyErr := checkClusterKeys(&doc); keyErr != nil {
		return keyErr
	}
	return yamlTypeError(err)
}

// yamlSyntaxError is a clusters file that is not YAML. It finds the first
// line the document breaks at by parsing ever longer prefixes (a prefix
// that ends before the bad line parses): only on this error path, and
// logarithmic in the number of lines.
func yamlSyntaxError(data []byte, err error) error {
	lines := bytes.SplitAfter(data, []byte("\n"))
	parses := func(k int) bool {
		var n yaml.Node
		return yaml.Unmarshal(bytes.Join(lines[:k], nil), &n) == nil
	}
	lo, hi := 0, len(lines) // prefix lo parses, prefix hi does not
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if parses(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return fmt.Errorf("line %d: %s", hi, yamlProblem(err))
}

// yamlLinePrefix is the decoder's "yaml: line N: " in front of a syntax
// error.
var yamlLinePrefix = regexp.MustCompile(`^yaml: (line \d+: )?`)

// yamlProblem is the decoder's syntax error without its prefix and line.
func yamlProblem(err error) string {
	return yamlLinePrefix.ReplaceAllString(oneLine(err).Error(), "")
}

// yamlKeys lists the keys a YAML mapping for t may hold, from its tags.
func yamlKeys(t reflect.Type) []string {
	var keys []string
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ","); name != "" && name != "-" {
			keys = append(keys, name)
		}
	}
	return keys
}

// checkClusterKeys walks the document and refuses the first key the
// clusters file does not know, with its line, where it was found and the
// nearest known key, before the decoder names a Go type instead.
func checkClusterKeys(doc *yaml.Node) error {
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if err := unknownKey(doc, "at the top level", yamlKeys(reflect.TypeFor[clustersFile]())); err != nil {
		return err
	}
	list := mappingValue(doc, "clusters")
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil // the decoder says what is wrong with it
	}
	entryKeys, filterKeys := yamlKeys(reflect.TypeFor[clusterEntry]()), yamlKeys(reflect.TypeFor[Filters]())
	for i, entry := range list.Content {
		which := fmt.Sprintf("cluster #%d", i+1)
		if name := mappingValue(entry, "name"); name != nil && name.Kind == yaml.ScalarNode {
			which = fmt.Sprintf("cluster %q", name.Value)
		}
		if err := unknownKey(entry, "in "+which, entryKeys); err != nil {
			return err
		}
		if err := unknownKey(mappingValue(entry, "filters"), "in the filters of "+which, filterKeys); err != nil {
			return err
		}
	}
	return nil
}

// unknownKey refuses the first key of mapping n that is not in known;
// where says where n is ("in cluster \"eu\"").
func unknownKey(n *yaml.Node, where string, known []string) error {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind == yaml.ScalarNode && !slices.Contains(known, k.Value) {
			return fmt.Errorf("line %d: unknown key %q %s%s (known: %s)", k.Line, k.Value, where,
				didYouMean(k.Value, known, func(s string) string { return fmt.Sprintf("%q", s) }), strings.Join(known, ", "))
		}
	}
	return nil
}

// mappingValue is the value of key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// yamlTypeError is a decoder error with the Go types it names in the
// file's words.
func yamlTypeError(err error) error {
	words := strings.NewReplacer(
		"[]config.clusterEntry", "a list of clusters",
		"config.clustersFile", "a clusters document",
		"config.clusterEntry", "a cluster",
		"config.Filters", "filters",
		"config.Transport", "a transport",
	)
	// Type errors keep their lines, which are right.
	return errors.New(words.Replace(strings.TrimPrefix(oneLine(err).Error(), "yaml: unmarshal errors: ")))
}
