"""triage's lldb helper: select a stack frame by function name.

A batch command file cannot say "frame select 2" ahead of time: lldb counts
inlined frames as frames, and a dev build, a release build and an ASan build
of the same crash number their frames differently. This module adds one
command that finds the frame at run time, in the same lldb process:

    triage-frame FUNCTION [NTH]
    triage-frame --under DIR [--under DIR ...] [NTH]
    triage-until-input [FUNCTION]

selects the NTH (default 0) frame whose function is FUNCTION -- or, with
--under, the NTH distinct function whose source file is under one of the
DIRs (the crate under test, the fuzz target: used when the crash report had
no stack to name the frames; a relative DIR, the crate's path in its
workspace, matches those path components anywhere, for a binary built in
another checkout) -- searching the selected thread first and then
the other threads, and prints what `frame select N` prints (the frame and
the source around its line).
FUNCTION is compared by function_key, which ignores symbol hashes, generic
arguments and closure numbering (the same rules as FunctionKey in triage's
lldbscript package; a test keeps the two equal).

triage-until-input continues a process stopped on a signal until thread 1
is inside FUNCTION (default LLVMFuzzerTestOneInput, the entry every libFuzzer
target has): libFuzzer's alarm timer starts before the input runs, and on a
loaded machine its first SIGALRM can land in libFuzzer's start-up, where
libFuzzer itself ignores it; the session ignores it too and stops on the next
one, inside the input.

Load it with `command script import triage_lldb.py`. It needs lldb built
with Python (Debian's lldb-19 is).
"""

import re
import shlex

_HASH = re.compile(r"::h[0-9a-f]{16}$")
_CLOSURE = re.compile(r"\{\{closure\}\}|\{closure#\d+\}")
_LEGACY = [
    ("$LT$", "<"), ("$GT$", ">"), ("$u7b$", "{"), ("$u7d$", "}"), ("$C$", ","),
    ("$RF$", "&"), ("$BP$", "*"), ("$SP$", "@"), ("$LP$", "("), ("$RP$", ")"),
    ("$u20$", " "), ("$u27$", "'"), ("$u5b$", "["), ("$u5d$", "]"), ("$u7e$", "~"),
    ("..", "::"),
]


def _strip_generics(s):
    out = []
    depth = 0
    for ch in s:
        if ch == "<":
            depth += 1
        elif ch == ">" and depth > 0:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _matching_angle(s, i):
    depth = 0
    for j in range(i, len(s)):
        if s[j] == "<":
            depth += 1
        elif s[j] == ">":
            depth -= 1
            if depth == 0:
                return j
    return -1


def _unescape_legacy(s):
    if "$" not in s and ".." not in s:
        return s
    # Go's strings.Replacer: at each position the first listed pattern that
    # matches wins, scanning left to right.
    out = []
    i = 0
    while i < len(s):
        for old, new in _LEGACY:
            if s.startswith(old, i):
                out.append(new)
                i += len(old)
                break
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def function_key(name):
    """The key frames are matched by (see FunctionKey in lldbscript)."""
    s = (name or "").strip()
    s = _HASH.sub("", s)
    s = s.replace("::_$", "::$")
    s = _unescape_legacy(s)
    s = _CLOSURE.sub("{closure}", s)
    if s.startswith("_<"):  # legacy `_$LT$T as Trait$GT$::f`
        s = s[1:]
    if s.startswith("<"):
        end = _matching_angle(s, 0)
        if end > 0:
            inner, rest = s[1:end], s[end + 1:]
            if " as " in inner:
                self_ty, trait = inner.split(" as ", 1)
                s = "<" + _strip_generics(self_ty) + " as " + _strip_generics(trait) + ">" + _strip_generics(rest)
            else:
                s = _strip_generics(inner) + _strip_generics(rest)
    else:
        s = _strip_generics(s)
    s = s.replace("::::", "::")
    if s.endswith("::"):
        s = s[:-2]
    return s


def _frame_name(frame):
    name = frame.GetFunctionName()
    if not name:
        sym = frame.GetSymbol()
        name = sym.GetName() if sym else ""
    return name or ""


def select_frame(debugger, command, result, internal_dict):
    """triage-frame FUNCTION [NTH]: select a frame by function name."""
    import lldb

    try:
        args = shlex.split(command)
    except ValueError as e:
        result.SetError("triage-frame: %s" % e)
        return
    under = []
    rest = []
    i = 0
    while i < len(args):
        if args[i] == "--under" and i + 1 < len(args):
            d = args[i + 1]
            if d.startswith("/"):
                under.append((True, d.rstrip("/") + "/"))
            elif d.strip("/") not in ("", "."):
                under.append((False, "/" + d.strip("/") + "/"))
            i += 2
            continue
        rest.append(args[i])
        i += 1
    if under:
        rest = [""] + rest
    if not rest or len(rest) > 2 or (not under and not rest[0]):
        result.SetError("usage: triage-frame FUNCTION [NTH] | triage-frame --under DIR... [NTH]")
        return
    want = function_key(rest[0])
    try:
        nth = int(rest[1]) if len(rest) == 2 else 0
    except ValueError:
        result.SetError("triage-frame: NTH must be a number, not %r" % rest[1])
        return
    process = debugger.GetSelectedTarget().GetProcess()
    if not process or not process.IsValid() or process.GetState() != lldb.eStateStopped:
        result.SetError("triage-frame: no stopped process")
        return
    selected = process.GetSelectedThread()
    threads = [selected] + [t for t in process if t.GetIndexID() != selected.GetIndexID()]
    for thread in threads:
        seen = 0
        functions = []
        for frame in thread:
            key = function_key(_frame_name(frame))
            if under:
                path = frame.GetLineEntry().GetFileSpec().fullpath or ""
                if not any(_under(path, d) for d in under) or key in functions:
                    continue
                functions.append(key)
            elif key != want:
                continue
            if seen < nth:
                seen += 1
                continue
            if thread.GetIndexID() != selected.GetIndexID():
                process.SetSelectedThread(thread)
                result.AppendMessage("triage-frame: switched to thread #%d" % thread.GetIndexID())
            sub = lldb.SBCommandReturnObject()
            debugger.GetCommandInterpreter().HandleCommand("frame select %d" % frame.GetFrameID(), sub)
            out = sub.GetOutput() or ""
            result.AppendMessage(out.rstrip("\n"))
            if not sub.Succeeded():
                result.SetError(sub.GetError() or "frame select failed")
            return
    what = ("a function under " + ", ".join(d for _, d in under)) if under else ("%s (key %s)" % (rest[0], want))
    result.SetError("triage-frame: no frame of %s, occurrence %d, in %d thread(s)" % (what, nth, len(threads)))


def _under(path, d):
    """Whether path is under d, an (absolute, dir) pair: an absolute
    directory is a prefix; a relative one (kept as /DIR/) is a run of whole
    path components anywhere."""
    absolute, prefix = d
    return path.startswith(prefix) if absolute else prefix in path


# How many early stops triage-until-input lets pass: libFuzzer's alarm
# comes every timeout/2+1 seconds, so a few are start-up at most.
_MAX_EARLY_STOPS = 20


def until_input(debugger, command, result, internal_dict):
    """triage-until-input [FUNCTION]: continue until thread 1 runs FUNCTION."""
    import lldb

    try:
        args = shlex.split(command)
    except ValueError as e:
        result.SetError("triage-until-input: %s" % e)
        return
    if len(args) > 1:
        result.SetError("usage: triage-until-input [FUNCTION]")
        return
    want = function_key(args[0] if args else "LLVMFuzzerTestOneInput")
    process = debugger.GetSelectedTarget().GetProcess()
    async_before = debugger.GetAsync()
    debugger.SetAsync(False)
    try:
        for early in range(_MAX_EARLY_STOPS + 1):
            if not process or not process.IsValid() or process.GetState() != lldb.eStateStopped:
                result.SetError("triage-until-input: no stopped process (state %s) after %d early stop(s)"
                                % (lldb.SBDebugger.StateAsCString(process.GetState()) if process else "none", early))
                return
            thread = process.GetThreadByIndexID(1)
            if thread.IsValid() and any(function_key(_frame_name(f)) == want for f in thread):
                process.SetSelectedThread(thread)
                if early:
                    result.AppendMessage("triage-until-input: %d stop(s) before the input ran were let pass" % early)
                return
            if early == _MAX_EARLY_STOPS:
                break
            err = process.Continue()
            if not err.Success():
                result.SetError("triage-until-input: continue: %s" % err.GetCString())
                return
    finally:
        debugger.SetAsync(async_before)
    result.SetError("triage-until-input: thread 1 not in %s after %d stops" % (want, _MAX_EARLY_STOPS))


def __lldb_init_module(debugger, internal_dict):
    debugger.HandleCommand("command script add -o -f %s.select_frame triage-frame" % __name__)
    debugger.HandleCommand("command script add -o -f %s.until_input triage-until-input" % __name__)
