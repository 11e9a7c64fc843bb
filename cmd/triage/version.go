package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/pflag"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	register(&command{
		name:    "version",
		summary: "print the triage version and the Go toolchain it was built with",
		usage:   "",
		group:   "workspace",
		setup: func(fs *pflag.FlagSet) runFunc {
			return func(ctx context.Context, a *app, args []string) error {
				if len(args) != 0 {
					return usagef("version takes no arguments")
				}
				fmt.Fprintf(a.stdout, "triage %s\n", versionString())
				return nil
			}
		},
	})
}

// versionString is the version, the commit it was built from (when known)
// and the Go toolchain.
func versionString() string {
	rev := ""
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				rev = " (" + s.Value[:12] + ")"
			}
		}
	}
	return fmt.Sprintf("%s%s %s %s/%s", version, rev, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
