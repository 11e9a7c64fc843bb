package terminal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/fuzztriage/triage/lldbscript"
)

// neverStop is the ignore count of a breakpoint that only counts: lldb
// still counts the hits it ignores, and no fuzz input runs a line a
// billion times before it crashes.
const neverStop = 1_000_000_000

// HitCount is how often a location ran before the stop.
type HitCount struct {
	Breakpoint lldbscript.Breakpoint
	// Locations is how many code locations lldb found for FILE:LINE.
	Locations int
	// Hits is lldb's hit count at the stop.
	Hits int
	// Stop is where the process stopped (the crash).
	Stop *lldbscript.Stop
}

// bpListRE reads one breakpoint of `breakpoint list`:
// "2: file = 'lib.rs', line = 332, exact_match = 0, locations = 1, resolved = 1, hit count = 3".
var bpListRE = regexp.MustCompile(`^(\d+): .*\bhit count = (\d+)`)

// parseHitCounts reads `breakpoint list` output: breakpoint id -> hits.
func parseHitCounts(lines []string) map[int]int {
	out := map[int]int{}
	for _, l := range lines {
		if m := bpListRE.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			id, _ := strconv.Atoi(m[1])
			n, _ := strconv.Atoi(m[2])
			out[id] = n
		}
	}
	return out
}

// countHits runs the input to the crash with a breakpoint at bp that never
// stops, and reads its hit count there. The session's own breakpoints are
// left out: the count is of the whole run up to the crash.
func (s *Session) countHits(ctx context.Context, bp lldbscript.Breakpoint) (*HitCount, error) {
	bp.Ignore = neverStop
	spec := s.spec(nil, nil)
	spec.Breakpoints = []lldbscript.Breakpoint{bp}
	spec.BacktraceDepth = 1
	dir := s.scratch("hits")
	opt := s.runOptions(dir, "hits.lldb")
	plan, err := lldbscript.Setup(ctx, spec, opt)
	if err != nil {
		return nil, err
	}
	// The generated file ends with `quit`: list the breakpoints (with
	// their hit counts) right before it.
	script := strings.TrimRight(plan.Script, "\n")
	if strings.HasSuffix(script, "\nquit") {
		script = strings.TrimSuffix(script, "quit")
	} else {
		script += "\n"
	}
	script += "# The hit count of every breakpoint at the stop.\nbreakpoint list\nquit\n"
	if err := os.WriteFile(plan.ScriptPath, []byte(script), 0o644); err != nil {
		return nil, err
	}
	plan.Script = script
	res, err := lldbscript.RunPlan(ctx, plan, opt)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
		if res != nil && res.Message != "" {
			return nil, errors.New(res.Message)
		}
		return nil, err
	}
	hc := &HitCount{Breakpoint: bp, Stop: res.Session.Stop}
	id := 0
	for _, b := range res.Session.Breakpoints {
		if strings.Contains(b.Command, fmt.Sprintf("-l %d", bp.Line)) {
			id, hc.Locations = b.ID, b.Locations
		}
	}
	if id == 0 {
		return nil, fmt.Errorf("lldb did not set the breakpoint at %s:%d (transcript: %s)", bp.File, bp.Line, res.TranscriptPath)
	}
	if hc.Locations == 0 {
		return hc, fmt.Errorf("no code at %s:%d in the %s build (lldb found no location)", bp.File, bp.Line, s.profile)
	}
	switch res.Status {
	case lldbscript.StatusStopped:
	case lldbscript.StatusNotStopped:
		return hc, fmt.Errorf("%s; the count is only meaningful up to a crash", res.Message)
	default:
		return hc, fmt.Errorf("%s: %s", res.Status, res.Message)
	}
	for _, b := range res.Session.Blocks {
		if strings.HasPrefix(b.Command, "breakpoint list") {
			if n, ok := parseHitCounts(b.Lines)[id]; ok {
				hc.Hits = n
				return hc, nil
			}
		}
	}
	return hc, fmt.Errorf("lldb printed no hit count for breakpoint %d (transcript: %s)", id, res.TranscriptPath)
}
