package config

import (
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// sample stands for a process's configuration.
type sample struct {
	Addr  string        `yaml:"addr"`
	Dir   string        `yaml:"dir"`
	Wait  time.Duration `yaml:"wait"`
	Demo  bool          `yaml:"demo"`
	Inner struct {
		Name string `yaml:"name"`
	} `yaml:"inner"`
}

func sampleLoader() Loader[sample] {
	return Loader[sample]{
		Name: "sample", Example: "configs/sample.yaml",
		Defaults: sample{Addr: ":1", Dir: "data", Wait: time.Second},
		Overrides: []Override[sample]{
			Text("addr", "IOC_ADDR", "address", func(c *sample) *string { return &c.Addr }),
			Text("dir", "IOC_DIR", "directory", func(c *sample) *string { return &c.Dir }),
			Setting("inner.name", "IOC_NAME", "name", func(c *sample, v string) { c.Inner.Name = strings.ToUpper(v) }),
			Switch("demo", "IOC_DEMO", "a demo", func(c *sample, on bool) { c.Demo = on }),
		},
		Validate: func(c *sample) error {
			if c.Addr == "" {
				return errors.New("addr is empty")
			}
			return nil
		},
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	file := write("ok.yaml", "addr: file:1\ndir: /from/file\nwait: 5s\ninner: {name: f}\n")
	for _, tc := range []struct {
		name    string
		args    []string
		env     map[string]string
		want    sample
		wantErr string
	}{
		{name: "defaults", want: sample{Addr: ":1", Dir: "data", Wait: time.Second}},
		{name: "file over defaults", args: []string{"-config", file},
			want: sample{Addr: "file:1", Dir: "/from/file", Wait: 5 * time.Second, Inner: struct {
				Name string `yaml:"name"`
			}{"f"}}},
		{name: "env over file, flag over env", args: []string{"-config", file, "-addr", "flag:1", "-demo"},
			env: map[string]string{"IOC_ADDR": "env:1", "IOC_DIR": "/from/env", "IOC_NAME": "e"},
			want: sample{Addr: "flag:1", Dir: "/from/env", Wait: 5 * time.Second, Demo: true, Inner: struct {
				Name string `yaml:"name"`
			}{"E"}}},
		{name: "switch from env", env: map[string]string{"IOC_DEMO": "1"}, want: sample{Addr: ":1", Dir: "data", Wait: time.Second, Demo: true}},
		{name: "switch off by flag", args: []string{"-demo=false"}, env: map[string]string{"IOC_DEMO": "true"}, want: sample{Addr: ":1", Dir: "data", Wait: time.Second}},
		{name: "unknown key refused with its line", args: []string{"-config", write("unknown.yaml", "addr: a\ndirectory: b\n")}, wantErr: "line 2: field directory not found"},
		{name: "bad duration refused", args: []string{"-config", write("dur.yaml", "wait: forever\n")}, wantErr: "forever"},
		{name: "missing file", args: []string{"-config", filepath.Join(dir, "none.yaml")}, wantErr: "none.yaml"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: "-nope"},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "validation runs last", args: []string{"-addr", ""}, wantErr: "addr is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := sampleLoader().Load(tc.args, func(k string) string { return tc.env[k] }, io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if *c != tc.want {
				t.Errorf("got %+v, want %+v", *c, tc.want)
			}
		})
	}
}

// TestHelpNamesEnvironment: -h lists each flag with its variable.
func TestHelpNamesEnvironment(t *testing.T) {
	var out strings.Builder
	_, err := sampleLoader().Load([]string{"-h"}, func(string) string { return "" }, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	for _, want := range []string{"-addr", "(env IOC_ADDR)", "-demo", "configs/sample.yaml"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("usage does not mention %s:\n%s", want, out.String())
		}
	}
}

func TestLogValidate(t *testing.T) {
	for _, tc := range []struct {
		log  Log
		errs int
	}{
		{DefaultLog, 0},
		{Log{Level: "DEBUG", Format: "json"}, 0},
		{Log{Level: "loud", Format: "text"}, 1},
		{Log{Level: "info", Format: "xml"}, 1},
	} {
		if errs := tc.log.Validate(); len(errs) != tc.errs {
			t.Errorf("%+v: %v, want %d errors", tc.log, errs, tc.errs)
		}
	}
}
