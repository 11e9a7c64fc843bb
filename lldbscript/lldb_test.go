package lldbscript

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/internal/procrun"
	"github.com/fuzztriage/triage/symbolize"
)

// The fixture's dev binary of fuzz_ide and one ide-dma-no-prd input, built
// once per test process.
func ideFixture(t *testing.T) (binary, artifact string) {
	t.Helper()
	needLLDB(t)
	root := fixture.Root()
	fixture.Build(t, root, "--dev")
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	bug := m.Bug("ide-dma-no-prd")
	return fixture.BinaryPath(t, root, "fuzz_ide", "--dev"), fixture.ArtifactPath(root, bug.Target, bug.Inputs[0].File)
}

func needLLDB(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath(DefaultLLDB); err != nil {
		t.Skipf("%s not installed (scripts/setup installs it)", DefaultLLDB)
	}
}

// wrapperRow is one value new_fixture put in the device, read through the
// path translated from DWARF.
type wrapperRow struct {
	name    string // also the expression name
	frame   string
	path    string
	kinds   string // the wrapper kinds the row exercises
	num     *uint64
	str     string // a String's text
	variant string // the active variant of the enum reached
	errHas  string // an expected error (path through an inactive variant)
}

func u(n uint64) *uint64 { return &n }

var (
	ideSessionOnce sync.Once
	ideSession     *Result
	ideSessionErr  error
	ideSessionN    uint64
)

const (
	fnStartDma = "ide::IdeDevice::start_dma"
	fnRun      = "fuzz_ide::_::__libfuzzer_sys_run"
	fnWith     = "ide::CloseableMutex::with"
)

// wrapperRows are read at the ide-dma-no-prd panic. N is the sector count
// of the READ DMA (the panic message gives it). The committed input runs
// one READ DMA command on a fresh device, so the event log holds one event
// and the statistics count one command.
func wrapperRows(n uint64) []wrapperRow {
	return []wrapperRow{
		{name: "arc_closeable_state", frame: fnRun, path: "ide_device.channels[0].state", kinds: "Arc, CloseableMutex (user wrapper), UnsafeCell, array, tagged enum", variant: "Busy"},
		{name: "arc_closeable_command", frame: fnRun, path: "ide_device.channels[0].state.Busy.command", kinds: "Arc, CloseableMutex, UnsafeCell, tagged enum struct variant", num: u(0xc8)},
		{name: "ref_remaining", path: "self.channels[0].state.Busy.remaining", kinds: "&mut, array, tagged enum", num: u(n)},
		{name: "tuple_variant", path: "self.channels[1].state.Error.0", kinds: "tagged enum tuple variant", num: u(4)},
		{name: "niche_serial", path: "self.channels[0].drives[0].HardDevice.serial", kinds: "Option niche, user niche enum, String", str: "TRIAGE-0001"},
		{name: "niche_cylinders", path: "self.channels[0].drives[0].Some.HardDevice.cylinders", kinds: "Option named, user niche enum", num: u(1024)},
		{name: "option_none", path: "self.channels[0].drives[1]", kinds: "Option None (niche)", variant: "None"},
		{name: "box_in_variant", path: "self.channels[1].drives[0].OpticalDevice.media.Cd.tracks", kinds: "niche enum, Box, Option, enum struct variant", num: u(3)},
		{name: "box_field", path: "self.channels[1].drives[0].OpticalDevice.sense_key", kinds: "Box", num: u(0)},
		{name: "option_tagged_some", path: "self.channels[1].enlightened_write.Some.gpa", kinds: "Option tagged Some", num: u(0x1000)},
		{name: "option_tagged_none", path: "self.channels[0].enlightened_write", kinds: "Option tagged None", variant: "None"},
		{name: "result_ok", path: "self.channels[0].last_result.Ok", kinds: "Result Ok (niche)", num: u(0x50)},
		{name: "result_ok_variant", path: "self.channels[0].last_result", kinds: "Result", variant: "Ok"},
		{name: "result_err", path: "self.channels[1].last_result.Err", kinds: "Result Err, user enum", variant: "NoMedia"},
		{name: "arc_mutex", path: "self.bus_master.status", kinds: "Arc, Mutex", num: u(4)},
		{name: "arc_mutex_option_vec_none", path: "self.bus_master.prd_table", kinds: "Arc, Mutex, Option<Vec> None", variant: "None"},
		{name: "arc_mutex_option_some", path: "self.host.Some.name", kinds: "Arc<Mutex<Option<Inner>>>, String", str: "pci0"},
		{name: "arc_mutex_option_inferred", path: "self.host.irq", kinds: "Arc<Mutex<Option<Inner>>>, variant inferred", num: u(14)},
		{name: "arc_mutex_option_none", path: "self.dma_engine", kinds: "Arc<Mutex<Option<Inner>>> None", variant: "None"},
		{name: "through_inactive_variant", path: "self.dma_engine.Some.irq", kinds: "path through a None", errHas: "is None, not Some"},
		{name: "rwlock_string", path: "self.config.model", kinds: "RwLock, String", str: "TRIAGE-IDE"},
		{name: "rwlock", path: "self.config.max_sectors", kinds: "RwLock", num: u(256)},
		{name: "refcell", path: "self.stats.commands", kinds: "RefCell", num: u(1)},
		{name: "cell", path: "self.irq_count", kinds: "Cell", num: u(0)},
		{name: "rc_refcell_vec_elem", path: "self.event_log[0].Command.command", kinds: "Rc, RefCell, Vec element, tagged enum", num: u(0xc8)},
		{name: "vec_elem_variant", path: "self.event_log[0]", kinds: "Rc, RefCell, Vec element", variant: "Command"},
		{name: "option_box_none", path: "self.pending", kinds: "Option<Box> None (null niche)", variant: "None"},
		{name: "string", path: "self.name", kinds: "String", str: "ide0"},
		{name: "mutexguard", path: "bm.status", kinds: "MutexGuard", num: u(4)},
		{name: "mutexguard_option_none", path: "bm.prd_table", kinds: "MutexGuard, Option<Vec> None", variant: "None"},
		{name: "slice_elem_count", path: "taskfile[2]", kinds: "slice element", num: u(n % 256)},
		{name: "slice_elem_command", path: "taskfile[7]", kinds: "slice element", num: u(0xc8)},
		{name: "user_wrapper_ref", frame: fnWith, path: "self.name", kinds: "&CloseableMutex (user wrapper), UnsafeCell, String", str: "ide0"},
		{name: "mutexguard_bool", frame: fnWith, path: "closed", kinds: "MutexGuard<bool>", num: u(0)},
	}
}

var sectorsRE = regexp.MustCompile(`with (\d+) sectors pending`)

// runIDESession runs one lldb session with every row's expression (one
// lldb process for the whole table).
func runIDESession(t *testing.T) (*Result, uint64) {
	t.Helper()
	bin, art := ideFixture(t)
	ideSessionOnce.Do(func() {
		var exprs []Expr
		for _, r := range wrapperRows(0) {
			exprs = append(exprs, Expr{Name: r.name, Path: r.path, Frame: r.frame})
		}
		spec := &Spec{Binary: bin, Input: art, Frames: []FrameSelector{{Function: fnStartDma}}, Exprs: exprs}
		ideSession, ideSessionErr = Run(context.Background(), spec, RunOptions{Dir: t.TempDir()})
		// The ground truth N: the panic message of a plain run (the
		// session stops before the message is printed).
		pr, err := procrun.Run(context.Background(), procrun.Spec{Path: bin, Args: []string{art}, Timeout: time.Minute, Env: []string{"RUST_BACKTRACE=0"}})
		if err != nil {
			ideSessionErr = err
			return
		}
		if m := sectorsRE.FindStringSubmatch(string(pr.Stderr)); m != nil {
			ideSessionN, _ = strconv.ParseUint(m[1], 10, 64)
		}
	})
	if ideSessionErr != nil {
		t.Fatal(ideSessionErr)
	}
	if ideSession.Status != StatusStopped {
		t.Fatalf("session %s: %s\n%s", ideSession.Status, ideSession.Message, ideSession.Transcript)
	}
	if ideSessionN == 0 {
		t.Fatal("no sector count in the panic message of a plain run")
	}
	return ideSession, ideSessionN
}

// TestWrapperPathsOnLLDB is the proof that translated paths reach the
// values new_fixture put there, for every wrapper kind, on lldb-19.
func TestWrapperPathsOnLLDB(t *testing.T) {
	res, n := runIDESession(t)
	got := map[string]ExprResult{}
	for _, e := range res.Exprs {
		got[e.Name] = e
	}
	for _, row := range wrapperRows(n) {
		t.Run(row.name, func(t *testing.T) {
			e, ok := got[row.name]
			if !ok {
				t.Fatalf("no result for %s", row.name)
			}
			ctx := func() string {
				return "path " + row.path + " -> frame variable " + e.LLDB + " (" + row.kinds + ")"
			}
			if row.errHas != "" {
				if !strings.Contains(e.Error, row.errHas) {
					t.Fatalf("%s: error %q, want it to contain %q", ctx(), e.Error, row.errHas)
				}
				return
			}
			if e.Error != "" {
				t.Fatalf("%s: %s", ctx(), e.Error)
			}
			switch {
			case row.num != nil:
				if e.Value == nil {
					t.Fatalf("%s: no value", ctx())
				}
				v, err := DecodeUint(e.Value.Value)
				if err != nil || v != *row.num {
					t.Fatalf("%s: value %q (%v), want %d", ctx(), e.Value.Value, err, *row.num)
				}
			case row.str != "":
				if e.Text != strconv.Quote(row.str) {
					t.Fatalf("%s: text %s, want %q", ctx(), e.Text, row.str)
				}
			case row.variant != "":
				if e.Variant != row.variant {
					t.Fatalf("%s: variant %q (text %s), want %s", ctx(), e.Variant, e.Text, row.variant)
				}
			}
		})
	}
}

// The same session: the stop, backtrace, frames, source and variables.
func TestSessionAtPanic(t *testing.T) {
	res, n := runIDESession(t)
	s := res.Session
	if s.Stop == nil || s.Stop.Breakpoint != "1.1" || s.Stop.Frame == nil || !s.Stop.Frame.Inlined {
		t.Fatalf("stop: %+v", s.Stop)
	}
	var names []string
	start := -1
	for i, f := range s.Backtrace {
		names = append(names, FunctionKey(f.Function))
		if FunctionKey(f.Function) == fnStartDma && start < 0 {
			start = i
			if !strings.HasSuffix(f.File, "ide/src/lib.rs") || f.Line == 0 {
				t.Errorf("start_dma frame location %s:%d", f.File, f.Line)
			}
		}
	}
	if start < 0 || !s.Backtrace[0].Inlined {
		t.Fatalf("backtrace %v (frame 0 inlined %v)", names, len(s.Backtrace) > 0 && s.Backtrace[0].Inlined)
	}
	// Frames: start_dma (from the spec) plus the frames the expressions named.
	var fv *FrameView
	for i := range s.Frames {
		if s.Frames[i].Frame != nil && FunctionKey(s.Frames[i].Frame.Function) == fnStartDma {
			fv = &s.Frames[i]
		}
	}
	if fv == nil {
		t.Fatalf("start_dma not selected: %+v", s.Frames)
	}
	if fv.Frame.Index != start {
		t.Errorf("triage-frame selected #%d, bt has start_dma at #%d", fv.Frame.Index, start)
	}
	current := false
	for _, l := range fv.Source {
		if l.Current && strings.Contains(l.Text, "BUG(ide-dma-no-prd)") {
			current = true
		}
	}
	if !current || len(fv.Source) < 5 {
		t.Errorf("source around the panic: %+v", fv.Source)
	}
	vars := map[string]*Value{}
	for _, v := range fv.Variables {
		vars[v.Name] = v
	}
	for _, want := range []string{"self", "ch", "bm", "taskfile", "remaining"} {
		if vars[want] == nil {
			t.Errorf("variable %s missing from frame variable: %v", want, fv.Variables)
		}
	}
	if r := vars["remaining"]; r != nil {
		if v, err := DecodeUint(r.Value); err != nil || v != n {
			t.Errorf("remaining = %q, want %d", r.Value, n)
		}
	}
	if bm := vars["bm"]; bm == nil || bm.Type != "std::sync::poison::mutex::MutexGuard<ide::BusMaster>" || bm.Child("lock") == nil {
		t.Errorf("bm = %+v", bm)
	}
}

// TestAlarmBeforeTheInputIsLetPass: libFuzzer's alarm timer starts before
// the input runs, so on a loaded machine the first SIGALRM of a timeout's
// session can land in libFuzzer's start-up, where the stack has no frame of
// the code under test (CI once bucketed one of the fixture's hang inputs by
// the target alone that way). The fault is made real: the session's own
// command file, as Setup wrote it, gets a breakpoint at fuzzer::RunOneTest
// that holds the process there past the first alarm. The session must let
// that stop pass and take its stack at the next alarm, inside the hang,
// and still give libFuzzer's timeout verdict (Finish).
func TestAlarmBeforeTheInputIsLetPass(t *testing.T) {
	needLLDB(t)
	root := fixture.Root()
	fixture.Build(t, root)
	m, err := fixture.LoadManifest(root)
	if err != nil {
		t.Fatal(err)
	}
	bug := m.Bug("wire-skip-loop")
	spec := &Spec{
		Binary: fixture.BinaryPath(t, root, bug.Target),
		Args:   []string{"-timeout=1"},
		Input:  fixture.ArtifactPath(root, bug.Target, bug.Inputs[0].File),
		Kind:   symbolize.KindTimeout,
		Finish: true,
	}
	opt := RunOptions{Dir: t.TempDir(), Formatters: FormattersNone, Timeout: 2 * time.Minute}
	ctx := context.Background()
	plan, err := Setup(ctx, spec, opt)
	if err != nil {
		t.Fatal(err)
	}
	// Hold the process in libFuzzer's start-up for longer than the first
	// alarm's second (the timer keeps running while lldb holds it).
	held := strings.Replace(plan.Script, "\nrun\n", "\nbreakpoint set -n fuzzer::RunOneTest -N held\nrun\n"+
		"script import time; time.sleep(1.6)\nbreakpoint delete held\nprocess continue\n", 1)
	if held == plan.Script {
		t.Fatalf("no `run` line in the command file:\n%s", plan.Script)
	}
	if err := os.WriteFile(plan.ScriptPath, []byte(held), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := RunPlan(ctx, plan, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Transcript, "stop(s) before the input ran were let pass") {
		t.Fatalf("no early alarm was let pass: the fault was not injected, or not handled\n%s", tailOf(res.Transcript, 4000))
	}
	var names []string
	inHang := false
	for _, f := range res.Session.Backtrace {
		names = append(names, FunctionKey(f.Function))
		inHang = inHang || strings.HasSuffix(FunctionKey(f.Function), "skip_padding")
	}
	if !inHang {
		t.Errorf("the stack is not inside the hang (%s): %v", bug.Function, names)
	}
	if e := res.Session.Ended; e == nil || e.Status != bug.ExitCode {
		t.Errorf("ended %+v, want libFuzzer's timeout exit %d\n%s", e, bug.ExitCode, tailOf(res.Transcript, 4000))
	}
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
