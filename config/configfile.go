package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// configFileParser reads the --config file: one "flag value" per line (a
// flag alone is a switch set to true), blank lines and # comments skipped,
// a " #" after the value starting a comment. It is ff's plain format, read
// here so that every error names its line and an unknown flag comes with
// the nearest known one.
func configFileParser(byFlag map[string]option) func(io.Reader, func(name, value string) error) error {
	return func(r io.Reader, set func(name, value string) error) error {
		br := bufio.NewReader(r)
		for n := 1; ; n++ {
			raw, readErr := br.ReadString('\n')
			if readErr != nil && !errors.Is(readErr, io.EOF) {
				return fmt.Errorf("line %d: %w", n, readErr)
			}
			if err := configLine(n, raw, byFlag, set); err != nil {
				return err
			}
			if readErr != nil {
				return nil
			}
		}
	}
}

// configLine applies one line of the config file.
func configLine(n int, raw string, byFlag map[string]option, set func(name, value string) error) error {
	line := strings.TrimSpace(raw)
	if line == "" || line[0] == '#' {
		return nil
	}
	name, value, hasValue := line, "", false
	if i := strings.IndexAny(line, " \t"); i >= 0 {
		name, value, hasValue = line[:i], strings.TrimSpace(line[i:]), true
	}
	if i := strings.Index(value, " #"); i >= 0 {
		value = strings.TrimSpace(value[:i])
	}
	if !hasValue {
		value = "true"
	}
	name = strings.TrimPrefix(strings.TrimPrefix(name, "-"), "-")
	o, ok := byFlag[name]
	if !ok {
		return fmt.Errorf("line %d: unknown option %q%s", n, name,
			didYouMean(name, slices.Sorted(maps.Keys(byFlag)), func(s string) string { return fmt.Sprintf("%q", s) }))
	}
	if err := set(name, value); err != nil {
		// ff wraps what the option's value said; say it in our words.
		if inner := errors.Unwrap(err); inner != nil {
			err = inner
		}
		return fmt.Errorf("line %d: invalid --%s (%s): %w", n, name, o.Env, err)
	}
	return nil
}
