// Package lldbscript generates, runs and reads batch lldb sessions at a
// crash of a Rust fuzz target: command files rendered from templates/,
// Rust-level paths (`self.channels[0].state.Busy.remaining`) translated to
// lldb `frame variable` paths through wrapper types using the binary's
// DWARF, a runner for lldb-19 (timeout, process group, capped output,
// toolchain formatters limited to the safe ones) and a parser of lldb's
// transcript into structured results.
//
// It knows nothing of workspaces or stores: callers (triage's pipeline,
// `triage lldb`, `triage debug`) give it a binary, arguments, the frames to
// inspect and the values to read. Facts about lldb-19 it relies on are in
// the comments where they are used (see also the README's lldb section).
package lldbscript
