// Package config is the strict loader every process uses: one YAML file
// (unknown keys are errors, reported with their line), then IOC_*
// environment variables, then command-line flags, then the owner's
// validation. It knows no process: each process's configuration type,
// defaults and checks live beside its wiring (ingestd.Config, iocd.Config,
// allinone.Config), so a process links only what it runs.
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Override is one setting that the environment and a flag may change.
type Override[T any] struct {
	Flag, Env, Help string
	// Bool marks a flag given alone (-demo) rather than with a value.
	Bool bool
	Set  func(c *T, v string)
}

// Text is an override of the string field p points to.
func Text[T any](flag, env, help string, p func(*T) *string) Override[T] {
	return Override[T]{Flag: flag, Env: env, Help: help, Set: func(c *T, v string) { *p(c) = v }}
}

// Setting is an override that sets what it reads from the value's text.
func Setting[T any](flag, env, help string, set func(c *T, v string)) Override[T] {
	return Override[T]{Flag: flag, Env: env, Help: help, Set: set}
}

// Switch is an override given alone as a flag (-demo), or as true or 1.
func Switch[T any](flag, env, help string, set func(c *T, on bool)) Override[T] {
	return Override[T]{Flag: flag, Env: env, Help: help, Bool: true, Set: func(c *T, v string) { set(c, True(v)) }}
}

// True reads a boolean setting: "true" or "1".
func True(v string) bool { return v == "true" || v == "1" }

// Loader loads one process's configuration of type T.
type Loader[T any] struct {
	// Name is the command's name in usage and errors ("ingest").
	Name string
	// Example is the documented configuration file shown by -h.
	Example string
	// Defaults are the values a file does not set.
	Defaults  T
	Overrides []Override[T]
	// Validate checks (and may complete) the loaded configuration.
	Validate func(*T) error
}

// Load reads the configuration named by -config (if any), then applies the
// environment (getenv) and the other flags in args, then validates. usage
// receives -h output.
func (l Loader[T]) Load(args []string, getenv func(string) string, usage io.Writer) (*T, error) {
	fs := flag.NewFlagSet(l.Name, flag.ContinueOnError)
	fs.SetOutput(usage)
	path := fs.String("config", "", "YAML configuration file (see "+l.Example+")")
	set := map[string]*flagValue{}
	for _, o := range l.Overrides {
		v := &flagValue{isBool: o.Bool}
		fs.Var(v, o.Flag, o.Help+" (env "+o.Env+")")
		set[o.Flag] = v
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c := l.Defaults
	if *path != "" {
		b, err := os.ReadFile(*path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := Decode(b, &c); err != nil {
			return nil, fmt.Errorf("config %s: %w", *path, err)
		}
	}
	explicit := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	for _, o := range l.Overrides {
		if v := getenv(o.Env); v != "" {
			o.Set(&c, v)
		}
		if explicit[o.Flag] {
			o.Set(&c, set[o.Flag].v)
		}
	}
	if l.Validate != nil {
		if err := l.Validate(&c); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// flagValue is an override flag's value as given.
type flagValue struct {
	v      string
	isBool bool
}

func (f *flagValue) String() string     { return f.v }
func (f *flagValue) Set(s string) error { f.v = s; return nil }
func (f *flagValue) IsBoolFlag() bool   { return f.isBool }

// Decode decodes YAML into c strictly, over the values c already holds.
func Decode[T any](b []byte, c *T) error {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// Log selects slog's level and format.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// DefaultLog is info as text.
var DefaultLog = Log{Level: "info", Format: "text"}

// Logger returns a logger writing to w at the configured level and format.
func (l Log) Logger(w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(l.Level)))
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Validate reports an unknown level or format.
func (l Log) Validate() []error {
	var errs []error
	switch strings.ToLower(l.Level) {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("log.level %q: use debug, info, warn or error", l.Level))
	}
	if l.Format != "text" && l.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format %q: use text or json", l.Format))
	}
	return errs
}

// Prefix puts p before err's text; nil stays nil.
func Prefix(p string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", p, err)
}
