// Command ioc serves the operations centre: the live wall, the technicians'
// phone pages, and the JSON API, fed by the alert service's topics on the
// broker and the time-series store.
//
//	ioc -config configs/ioc.yaml
//	ioc -h                          # every flag and its IOC_* environment variable
//	ioc hash-password               # a bcrypt hash for a user in configs/ioc.yaml
//	ioc all -config configs/all-in-one.yaml   # everything in one process, with a simulated province
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ioc-vn/ioc/internal/auth"
	"github.com/ioc-vn/ioc/internal/config"
	"github.com/ioc-vn/ioc/internal/iocd"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "hash-password" {
		os.Exit(hashPassword())
	}
	if len(os.Args) > 1 && os.Args[1] == "all" {
		os.Exit(allInOne(os.Args[2:]))
	}
	cfg, err := config.LoadIOC(os.Args[1:], os.Getenv, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ioc:", err)
		os.Exit(2)
	}
	log := cfg.Log.Logger(os.Stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := iocd.Run(ctx, cfg, iocd.Options{Log: log}); err != nil {
		log.Error("ioc failed", "err", err)
		os.Exit(1)
	}
}

// hashPassword reads a password from stdin and prints its bcrypt hash.
func hashPassword() int {
	fmt.Fprint(os.Stderr, "password: ")
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(os.Stderr, "ioc hash-password: no password on standard input")
		return 2
	}
	h, err := auth.HashPassword(strings.TrimRight(line, "\r\n"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "ioc hash-password:", err)
		return 2
	}
	fmt.Println(h)
	return 0
}
