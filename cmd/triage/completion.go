package main

import (
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fuzztriage/triage/store"
	"github.com/fuzztriage/triage/triage"
)

// Shell completion (`triage completion bash|zsh|fish`, cobra's): commands
// and flags from the tree, and these for arguments: fuzz target names of
// the workspace, bucket ids of its store, artifact files of a target.

func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

func dirCompletion(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// completionWorkspace discovers the workspace completion works in: the
// --workspace flag's (quietly: completion prints nothing on errors).
func completionWorkspace(a *app) *triage.Workspace {
	root, err := filepath.Abs(a.g.workspace)
	if err != nil {
		return nil
	}
	ws, err := triage.Discover(root)
	if err != nil {
		return nil
	}
	return ws
}

// targetNames completes a fuzz target name.
func targetNames(a *app, toComplete string) []string {
	ws := completionWorkspace(a)
	if ws == nil {
		return nil
	}
	var out []string
	for _, t := range ws.Targets {
		if strings.HasPrefix(t.Name, toComplete) {
			out = append(out, t.Name)
		}
	}
	return out
}

// completeTargetArtifact completes TARGET then ARTIFACT: the target's
// artifact files, relative to the current directory when possible.
func completeTargetArtifact(a *app, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	switch len(args) {
	case 0:
		return targetNames(a, toComplete), cobra.ShellCompDirectiveNoFileComp
	case 1:
		ws := completionWorkspace(a)
		if ws == nil {
			return nil, cobra.ShellCompDirectiveDefault
		}
		t := ws.Target(args[0])
		if t == nil {
			return nil, cobra.ShellCompDirectiveDefault
		}
		arts, err := t.Artifacts()
		if err != nil {
			return nil, cobra.ShellCompDirectiveDefault
		}
		wd, _ := os.Getwd()
		var out []string
		for _, art := range arts {
			if art.Skip != "" {
				continue
			}
			p := relTo(wd, art.Path)
			if strings.HasPrefix(p, toComplete) {
				out = append(out, p)
			}
		}
		return out, cobra.ShellCompDirectiveDefault
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completeWorkspaceArg completes an optional WORKSPACE argument.
func completeWorkspaceArg(a *app, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) == 0 {
		return nil, cobra.ShellCompDirectiveFilterDirs
	}
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// completeBucket completes a bucket id of the workspace's store.
func completeBucket(a *app, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	root, err := filepath.Abs(a.g.workspace)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	cfg, err := a.config(root)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	entries, err := os.ReadDir(filepath.Join(cfg.StoreDir(root), store.DirBuckets))
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, e := range entries {
		if store.ValidBucketID(e.Name()) && strings.HasPrefix(e.Name(), toComplete) {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, cobra.ShellCompDirectiveNoFileComp
}
