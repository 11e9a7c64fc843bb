package lldbscript

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fuzztriage/triage/internal/fixture"
	"github.com/fuzztriage/triage/templates"
)

var (
	ideTypesOnce sync.Once
	ideTypes     *Types
	ideTypesErr  error
)

func loadIDETypes(t *testing.T) *Types {
	t.Helper()
	root := fixture.Root()
	fixture.Build(t, root, "--dev")
	bin := fixture.BinaryPath(t, root, "fuzz_ide", "--dev")
	ideTypesOnce.Do(func() { ideTypes, ideTypesErr = LoadTypes(bin) })
	if ideTypesErr != nil {
		t.Fatal(ideTypesErr)
	}
	return ideTypes
}

// Enum layouts come from DW_TAG_variant_part: tagged enums number every
// variant, niche enums leave the dataful one without a discriminant.
func TestEnumLayoutsFromDWARF(t *testing.T) {
	ts := loadIDETypes(t)
	for _, tc := range []struct {
		typ  string
		want map[string]string // variant -> lldb name
	}{
		{"ide::ChannelState", map[string]string{"Idle": "$variant$0", "Busy": "$variant$1", "Error": "$variant$2"}},
		{"core::option::Option<ide::DiskDrive>", map[string]string{"Some": "$variant$", "None": "$variant$1"}},
		{"ide::DiskDrive", map[string]string{"HardDevice": "$variant$", "OpticalDevice": "$variant$0"}},
		{"core::option::Option<alloc::boxed::Box<ide::PendingCommand, alloc::alloc::Global>>", map[string]string{"Some": "$variant$", "None": "$variant$0"}},
	} {
		ty, err := ts.Type(tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		if ty.Kind != KindEnum || len(ty.Variants) != len(tc.want) {
			t.Fatalf("%s: kind %s, %d variants", tc.typ, ty.Kind, len(ty.Variants))
		}
		for _, v := range ty.Variants {
			if got := v.LLDBName(); got != tc.want[v.Name] {
				t.Errorf("%s::%s: %s, want %s", tc.typ, v.Name, got, tc.want[v.Name])
			}
		}
	}
}

func TestTranslateFromDWARF(t *testing.T) {
	ts := loadIDETypes(t)
	fn := ts.Function(fnStartDma)
	if len(fn) == 0 {
		t.Fatal("start_dma not in DWARF")
	}
	for _, tc := range []struct{ path, want string }{
		{"self.channels[0].state", "self->channels[0].state"},
		{"self.channels[0].drives[0].HardDevice.serial", "self->channels[0].drives[0].$variants$.$variant$.value.__0.$variants$.$variant$.value.__0.serial"},
		{"self.host.Some.name", "self->host.ptr.pointer->data.data.value.$variants$.$variant$.value.__0.name"},
		{"self.config.max_sectors", "self->config.data.value.max_sectors"},
		{"self.stats.commands", "self->stats.value.value.commands"},
		{"self.irq_count", "self->irq_count.value.value"},
		{"bm.status", "bm.lock->data.value.status"},
		{"taskfile[3]", "taskfile.data_ptr[3]"},
		{"self.channels[1].drives[0].OpticalDevice.sense_key", "self->channels[1].drives[0].$variants$.$variant$.value.__0.$variants$.$variant$0.value.__0->sense_key"},
		{"self.pending.Some", "*self->pending.$variants$.$variant$.value.__0"},
		{"self.channels[0].last_result.Ok", "self->channels[0].last_result.$variants$.$variant$2.value.__0"},
	} {
		p, err := ts.Translate(fn[0], tc.path, PathOptions{})
		if err != nil {
			t.Errorf("%s: %v", tc.path, err)
			continue
		}
		if p.Expr != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.path, p.Expr, tc.want)
		}
	}
	// The user wrapper is stepped through by its own fields.
	run := ts.Function(fnRun)
	p, err := ts.Translate(run[0], "ide_device.channels[0].state", PathOptions{})
	if err != nil || p.Expr != "ide_device.ptr.pointer->data.value.value.channels[0].state" {
		t.Fatalf("%v %v", p, err)
	}
	for _, bad := range []struct{ path, errHas string }{
		{"self.nosuch", "has no field nosuch (it has: name, channels"},
		{"nosuch.x", "no such variable"},
		{"self.event_log[0]", "needs the Vec formatter"},
		{"self.channels[5]", "out of range"},
		{"self.channels[0].state.Nope", "no .Nope in any variant"},
		{"self..x", "empty field name"},
	} {
		if _, err := ts.Translate(fn[0], bad.path, PathOptions{}); err == nil || !strings.Contains(err.Error(), bad.errHas) {
			t.Errorf("%s: error %v, want %q", bad.path, err, bad.errHas)
		}
	}
}

func TestLayoutAndCompletion(t *testing.T) {
	ts := loadIDETypes(t)
	var b bytes.Buffer
	ty, err := ts.Type("CloseableMutex<ide::IdeDevice>")
	if err != nil {
		t.Fatal(err)
	}
	WriteLayout(&b, ty)
	for _, want := range []string{"ide::CloseableMutex<ide::IdeDevice>  (struct, 512 bytes)", "+0    mutex", "+8    value", "generic T = ide::IdeDevice", "the value ide::IdeDevice is at x.value.value"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("layout lacks %q:\n%s", want, b.String())
		}
	}
	b.Reset()
	ty, _ = ts.Type("core::option::Option<ide::DiskDrive>")
	WriteLayout(&b, ty)
	for _, want := range []string{"niche: u64 at +0", "Some  (discriminant every other value; lldb: x.$variants$.$variant$.value)", "None  (discriminant 0x8000000000000001; lldb: x.$variants$.$variant$1.value)"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("layout lacks %q:\n%s", want, b.String())
		}
	}
	fn := ts.Function(fnStartDma)[0]
	got := ts.Complete(fn, "self.channels[0].dr", PathOptions{})
	if len(got) != 1 || got[0] != "self.channels[0].drives" {
		t.Errorf("complete drives: %v", got)
	}
	got = ts.Complete(fn, "self.channels[0].drives[0].", PathOptions{})
	if !contains(got, "self.channels[0].drives[0].Some") || !contains(got, "self.channels[0].drives[0].None") {
		t.Errorf("complete variants: %v", got)
	}
	got = ts.Complete(fn, "self.host.", PathOptions{})
	if !contains(got, "self.host.Some") {
		t.Errorf("complete through Arc<Mutex<Option>>: %v", got)
	}
	got = ts.Complete(fn, "ta", PathOptions{})
	if len(got) != 1 || got[0] != "taskfile" {
		t.Errorf("complete variable: %v", got)
	}
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

var functionKeyCases = map[string]string{
	"ide::CloseableMutex$LT$T$GT$::with::hbc5cc9ed785fd0c5":                               "ide::CloseableMutex::with",
	"<ide::CloseableMutex<ide::IdeDevice>>::with::<fuzz_ide::_::{closure#0}, u8>":         "ide::CloseableMutex::with",
	"fuzz_ide::_::__libfuzzer_sys_run::_$u7b$$u7b$closure$u7d$$u7d$::h115af8847f9481f2":   "fuzz_ide::_::__libfuzzer_sys_run::{closure}",
	"fuzz_ide::_::__libfuzzer_sys_run::{closure#0}":                                       "fuzz_ide::_::__libfuzzer_sys_run::{closure}",
	"<ide::IdeAction as arbitrary::Arbitrary>::arbitrary":                                 "<ide::IdeAction as arbitrary::Arbitrary>::arbitrary",
	"_<ide..IdeAction as arbitrary..Arbitrary>::size_hint::h0123456789abcdef":             "<ide::IdeAction as arbitrary::Arbitrary>::size_hint",
	"ide::IdeDevice::start_dma":                                                           "ide::IdeDevice::start_dma",
	"core::panicking::panic_fmt":                                                          "core::panicking::panic_fmt",
	"<core::panic::panic_info::PanicInfo>::new":                                           "core::panic::panic_info::PanicInfo::new",
	"fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long)":                "fuzzer::Fuzzer::ExecuteCallback(unsigned char const*, unsigned long)",
	"alloc::vec::Vec$LT$T$C$A$GT$::push::h0000000000000000":                               "alloc::vec::Vec::push",
	"<alloc::vec::Vec<u8> as core::ops::index::Index<core::ops::range::Range<usize>>>::f": "<alloc::vec::Vec as core::ops::index::Index>::f",
}

func TestFunctionKey(t *testing.T) {
	for in, want := range functionKeyCases {
		if got := FunctionKey(in); got != want {
			t.Errorf("FunctionKey(%q) = %q, want %q", in, got, want)
		}
	}
}

// The helper lldb imports selects frames with its own copy of the key
// rules; both must agree.
func TestFunctionKeyMatchesPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	data, _, err := templates.Set{}.Read(templates.LLDBHelper)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "triage_lldb.py"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	var names []string
	for in := range functionKeyCases {
		names = append(names, in)
	}
	cmd := exec.Command(py, "-c", "import sys, triage_lldb\nfor l in sys.stdin.read().split('\\n'):\n    print(triage_lldb.function_key(l))")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(strings.Join(names, "\n"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if len(got) != len(names) {
		t.Fatalf("python printed %d keys for %d names", len(got), len(names))
	}
	for i, n := range names {
		if got[i] != FunctionKey(n) {
			t.Errorf("%q: python %q, Go %q", n, got[i], FunctionKey(n))
		}
	}
}
