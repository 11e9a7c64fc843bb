package symbolize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each default rule has examples, and each example is tagged by exactly
// that rule (not an earlier one, not a later one).
func TestDefaultRulesExamples(t *testing.T) {
	rules := DefaultRules().List()
	if len(rules) < 10 {
		t.Fatalf("only %d rules", len(rules))
	}
	for _, r := range rules {
		t.Run(r.ID, func(t *testing.T) {
			if len(r.Examples) == 0 {
				t.Fatalf("rule %s has no examples", r.ID)
			}
			if r.Why == "" {
				t.Errorf("rule %s does not say why", r.ID)
			}
			for _, ex := range r.Examples {
				cat, id := DefaultRules().Category(ex.Frame())
				if id != r.ID || cat != r.Category {
					t.Errorf("example %+v: tagged %s by %q, want %s by %q", ex, cat, id, r.Category, r.ID)
				}
			}
		})
	}
	if err := DefaultRules().CheckExamples(); err != nil {
		t.Error(err)
	}
}

// Every category a frame can have is produced by some rule.
func TestRulesCoverEveryCategory(t *testing.T) {
	seen := map[FrameCategory]bool{}
	for _, r := range DefaultRules().List() {
		seen[r.Category] = true
	}
	for c := range validCategories {
		if !seen[c] {
			t.Errorf("no rule yields %s", c)
		}
	}
}

func TestTagInfersAppBetweenMachineryAndTarget(t *testing.T) {
	mk := func(names ...string) []Frame {
		var fr []Frame
		for i, n := range names {
			fr = append(fr, Frame{Index: i, Raw: n, Function: Demangle(n), Normalized: Normalize(n)})
		}
		return fr
	}
	// A release RUST_BACKTRACE=1 stack: decode_message has no file and a
	// short name.
	fr := mk("core::panicking::panic_fmt", "core::slice::index::slice_index_fail", "decode_message", "helper", "__libfuzzer_sys_run", "rust_fuzzer_test_input", "main")
	DefaultRules().TagFrames(fr)
	for _, i := range []int{2, 3} {
		if fr[i].Category != CategoryApp || fr[i].Rule != RuleInferred {
			t.Errorf("%s: %s by %q, want app inferred", fr[i].Raw, fr[i].Category, fr[i].Rule)
		}
	}
	// Not between machinery and the target: stays unknown.
	fr = mk("mystery", "main")
	DefaultRules().TagFrames(fr)
	if fr[0].Category != CategoryUnknown {
		t.Errorf("mystery above main: %s", fr[0].Category)
	}
	// Frames with no name are never inferred.
	fr = []Frame{{Index: 0, Module: "/bin/x", Offset: 0x10}, {Index: 1, Function: "__libfuzzer_sys_run", Normalized: "__libfuzzer_sys_run"}}
	DefaultRules().TagFrames(fr)
	if fr[0].Category != CategoryUnknown {
		t.Errorf("nameless frame: %s", fr[0].Category)
	}
}

func TestLoadRulesOverrideAndExtend(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.yaml")
	// A project rule tagging its test-support crate as harness (tried
	// first), and the default app-qualified rule replaced in place.
	err := os.WriteFile(path, []byte(`schema_version: 1
rules:
  - id: test-support
    category: harness
    why: the fuzzing support crate is harness code
    function_prefix: ["fuzz_support::"]
    file_regex: ['(^|/)fuzz_support/']
    examples:
      - {function: "fuzz_support::Input::decode", file: /src/fuzz_support/src/lib.rs}
  - id: app-qualified
    category: std
    why: pretend qualified names are std, to see the override take effect
    function_regex: ['::']
    examples:
      - {function: "chipset::battery::Battery::charge_level"}
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	r, err := LoadRules(path)
	if err != nil {
		t.Fatal(err)
	}
	if cat, id := r.Category(Frame{Function: "fuzz_support::Input::decode", Normalized: "fuzz_support::Input::decode", File: "/src/fuzz_support/src/lib.rs"}); cat != CategoryHarness || id != "test-support" {
		t.Errorf("extra rule: %s %s", cat, id)
	}
	if cat, id := r.Category(Frame{Function: "chipset::x", Normalized: "chipset::x"}); cat != CategoryStd || id != "app-qualified" {
		t.Errorf("overridden rule: %s %s", cat, id)
	}
	// Defaults still there, in their place.
	if cat, _ := r.Category(Frame{Function: "core::panicking::panic_fmt", Normalized: "core::panicking::panic_fmt"}); cat != CategoryPanic {
		t.Errorf("default rule lost: %s", cat)
	}
	if got := r.List()[0].ID; got != "test-support" {
		t.Errorf("new rule not first: %s", got)
	}
	if len(r.List()) != len(DefaultRules().List())+1 {
		t.Errorf("%d rules", len(r.List()))
	}
	// The defaults themselves are untouched.
	if _, id := DefaultRules().Category(Frame{Function: "chipset::x", Normalized: "chipset::x"}); id != "app-qualified" {
		t.Errorf("defaults changed")
	}
	if cat, _ := DefaultRules().Category(Frame{Function: "chipset::x", Normalized: "chipset::x"}); cat != CategoryApp {
		t.Errorf("defaults changed: %s", cat)
	}
}

func TestLoadRulesErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"bad category":   "schema_version: 1\nrules:\n  - {id: x, category: nonsense, function: [f]}\n",
		"no matcher":     "schema_version: 1\nrules:\n  - {id: x, category: app}\n",
		"bad regex":      "schema_version: 1\nrules:\n  - {id: x, category: app, function_regex: ['(']}\n",
		"duplicate id":   "schema_version: 1\nrules:\n  - {id: x, category: app, function: [f]}\n  - {id: x, category: app, function: [g]}\n",
		"unknown field":  "schema_version: 1\nrules:\n  - {id: x, category: app, functions: [f]}\n",
		"schema version": "schema_version: 2\nrules: []\n",
		"wrong example":  "schema_version: 1\nrules:\n  - {id: x, category: app, function: [f], examples: [{function: g}]}\n",
	}
	for name, content := range cases {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadRules(path)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error does not name the file: %v", name, err)
		}
	}
	// replace_defaults keeps only the file's rules.
	path := filepath.Join(dir, "only.yaml")
	os.WriteFile(path, []byte("schema_version: 1\nreplace_defaults: true\nrules:\n  - {id: only, category: app, function_regex: ['.'], examples: [{function: main}]}\n"), 0o644)
	r, err := LoadRules(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.List()) != 1 {
		t.Errorf("replace_defaults: %d rules", len(r.List()))
	}
}
